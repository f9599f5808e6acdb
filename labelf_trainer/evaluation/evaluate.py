"""Evaluate scores, a fitted model, or a registered model version on labeled texts (one dict of metrics)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import ProjectConfig, Thresholds
from ..embeddings.langid import detect_languages
from ..exceptions import DataError
from .metrics import confused_pairs, language_breakdown, multi_label_metrics, single_label_metrics, to_indicator
from .thresholds import multi_label_thresholds, single_label_thresholds

if TYPE_CHECKING:
    from ..models.base import TextClassifier
    from ..registry import ModelRecord, ModelRegistry, VersionRecord

__all__ = ["evaluate_scores", "evaluate_model", "evaluate_version"]


def evaluate_scores(proba: np.ndarray, y_true: Sequence[Any], classes: Sequence[str], *, multi_label: bool,
                    texts: Sequence[str] | None = None, threshold: float = 0.5,
                    thresholds: Thresholds | None = None, model_threshold: float | None = None,
                    languages: bool = True) -> dict[str, Any]:
    """All evaluation numbers for one model on one labeled set, as one JSON-able dict.

    ``y_true``: a label per text (single-label) or a tuple of labels per text (multi-label). ``threshold`` is the
    multi-label decision threshold; ``thresholds`` the config's routing bands and target precision.
    """
    classes = list(classes)
    th = thresholds or Thresholds()
    proba = np.asarray(proba, dtype=np.float64)
    if multi_label:
        Y = to_indicator(y_true, classes)
        P = (proba >= threshold).astype(np.int64)
        out = multi_label_metrics(Y, P, classes)
        out["thresholds"] = multi_label_thresholds(proba, Y, classes, target_precision=th.target_precision)
        truth, pred = Y, P
    else:
        y = [v[0] if isinstance(v, (tuple, list)) else v for v in y_true]
        pred = [classes[i] for i in proba.argmax(axis=1)]
        out = single_label_metrics(y, pred, classes)
        out["thresholds"] = single_label_thresholds(proba, y, classes, target_precision=th.target_precision,
                                                    auto=th.auto, review=th.review, model_threshold=model_threshold)
        out["confused_pairs"] = confused_pairs(y, pred, texts, classes)
        truth = y
    out["multi_label"] = multi_label
    if languages and texts is not None:
        out["languages"] = language_breakdown(detect_languages(list(texts)), truth, pred, classes, multi_label)
    return out


def evaluate_model(clf: "TextClassifier", texts: Sequence[str], y_true: Sequence[Any], *, thresholds: Thresholds | None = None,
                   model_threshold: float | None = None, batch_size: int = 512) -> dict[str, Any]:
    """Score ``texts`` with a fitted classifier and evaluate against ``y_true`` (see :func:`evaluate_scores`)."""
    texts = list(texts)
    if not texts:
        raise DataError("no texts to evaluate")
    proba = np.concatenate([clf.predict_proba(texts[i:i + batch_size]) for i in range(0, len(texts), batch_size)])
    return evaluate_scores(proba, y_true, clf.classes_, multi_label=clf.multi_label, texts=texts,
                           threshold=getattr(clf, "threshold", 0.5), thresholds=thresholds,
                           model_threshold=model_threshold)


def evaluate_version(registry: "ModelRegistry", config: ProjectConfig, model_id: int, version: int | None,
                     data: Path | None, *, text_column: str = "text", label_column: str = "label"
                     ) -> tuple["ModelRecord", "VersionRecord", dict[str, Any]]:
    """Metrics of one registered version: on the labeled file ``data`` if given, else those stored with it.

    The one "score a version on a file" of the package (``labelf evaluate``, ``labelf models compare``).
    """
    from ..data import read_eval_file

    rec = registry.get(model_id)
    ver = rec.version(version)
    if data is None:
        metrics = dict(ver.metrics)
        if not metrics.get("per_class"):
            raise DataError(f"model {model_id} v{ver.version} ({rec.type}) has no stored evaluation; "
                            "pass --data FILE with labeled texts")
        return rec, ver, metrics
    ev = read_eval_file(data, config, text_column=text_column, label_column=label_column)
    clf = registry.load(model_id, ver.version)
    metrics = evaluate_model(clf, ev.texts, ev.labels, thresholds=config.thresholds,
                             model_threshold=rec.confidence_threshold)
    metrics["evaluation"] = {"method": "eval-file", "n_eval": len(ev),
                             "description": f"{Path(data).name}: {len(ev)} labeled texts"}
    return rec, ver, metrics

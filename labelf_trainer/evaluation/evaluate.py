"""Evaluate scores, a fitted model, or a registered model version on labeled texts (one dict of metrics)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import ProjectConfig, Thresholds
from ..embeddings.langid import detect_languages
from ..exceptions import DataError
from .calibration import calibration_summary
from .metrics import confused_pairs, language_breakdown, multi_label_metrics, single_label_metrics, to_indicator
from .thresholds import multi_label_thresholds, single_label_thresholds

if TYPE_CHECKING:
    from ..models.base import TextClassifier
    from ..registry import ModelRecord, ModelRegistry, VersionRecord

__all__ = ["evaluate_scores", "evaluate_model", "evaluate_version", "length_breakdown", "LENGTH_BUCKETS"]

LENGTH_BUCKETS = ((0, 1_000, "<=1k"), (1_000, 3_000, "1-3k"), (3_000, 10_000, "3-10k"), (10_000, None, ">10k"))
"""Character-length buckets of :func:`length_breakdown`: a message, a short chat, a whole call (``(lo, hi]``)."""


def evaluate_scores(proba: np.ndarray, y_true: Sequence[Any], classes: Sequence[str], *, multi_label: bool,
                    texts: Sequence[str] | None = None, threshold: float = 0.5,
                    thresholds: Thresholds | None = None, model_threshold: float | None = None,
                    auto_threshold: float | None = None, other: str | None = None,
                    languages: bool = True) -> dict[str, Any]:
    """All evaluation numbers for one model on one labeled set, as one JSON-able dict.

    ``y_true``: a label per text (single-label) or a tuple of labels per text (multi-label). ``threshold`` is the
    multi-label decision threshold; ``thresholds`` the config's routing bands and target precision
    (``auto_threshold``: the version's own auto band instead of the config's). ``other``: the out-of-scope label,
    when the model has one: its recall and precision and the in-scope accuracy are reported too.
    """
    from ..models.base import labels_of

    classes = list(classes)
    th = thresholds or Thresholds()
    proba = np.asarray(proba, dtype=np.float64)
    other = other if other in classes else None
    if multi_label:
        Y = to_indicator(y_true, classes)
        chosen = labels_of(proba, classes, multi_label=True, threshold=threshold, other=other)
        P = to_indicator(chosen, classes)
        out = multi_label_metrics(Y, P, classes)
        out["thresholds"] = multi_label_thresholds(proba, Y, classes, target_precision=th.target_precision)
        truth, pred = Y, P
    else:
        y = [v[0] if isinstance(v, (tuple, list)) else v for v in y_true]
        pred = [classes[i] for i in proba.argmax(axis=1)]
        out = single_label_metrics(y, pred, classes)
        out["thresholds"] = single_label_thresholds(proba, y, classes, target_precision=th.target_precision,
                                                    auto=auto_threshold if auto_threshold is not None else th.auto,
                                                    review=min(model_threshold if model_threshold is not None
                                                               else th.review, auto_threshold or 1.0),
                                                    model_threshold=model_threshold)
        out["confused_pairs"] = confused_pairs(y, pred, texts, classes)
        truth = y
    out["calibration_check"] = calibration_summary(
        proba, Y if multi_label else np.array([classes.index(v) for v in truth]), multi_label=multi_label)
    if other is not None:
        out["out_of_scope"] = out_of_scope_metrics(proba, y_true, classes, other, multi_label=multi_label,
                                                   threshold=threshold)
    out["multi_label"] = multi_label
    if texts is not None:
        out["length_buckets"] = length_breakdown(texts, truth, pred, classes, multi_label)
    if languages and texts is not None:
        out["languages"] = language_breakdown(detect_languages(list(texts)), truth, pred, classes, multi_label)
    return out


def length_breakdown(texts: Sequence[str], y_true: Any, y_pred: Any, classes: Sequence[str],
                     multi_label: bool) -> dict[str, dict[str, Any]]:
    """Accuracy, macro-F1 (and micro-F1 for multi-label) per text-length bucket (:data:`LENGTH_BUCKETS`); empty
    buckets are left out. Long texts are where truncation and dilution hurt: this shows whether they do."""
    from sklearn.metrics import accuracy_score, f1_score

    lengths = np.array([len(t) for t in texts])
    out: dict[str, dict[str, Any]] = {}
    for lo, hi, name in LENGTH_BUCKETS:
        rows = np.flatnonzero((lengths > lo if lo else lengths >= 0) & (lengths <= hi if hi else True))
        if not len(rows):
            continue
        if multi_label:
            t, p = np.asarray(y_true)[rows], np.asarray(y_pred)[rows]
            seen = [i for i in range(len(classes)) if t[:, i].any() or p[:, i].any()]
            extra = {"f1_micro": round(float(f1_score(t, p, average="micro", zero_division=0)), 4)}
        else:
            t, p = [y_true[i] for i in rows], [y_pred[i] for i in rows]
            seen, extra = [c for c in classes if c in set(t) | set(p)], {}
        f1 = f1_score(t, p, labels=seen, average="macro", zero_division=0) if seen else 0.0
        out[name] = {"n": int(len(rows)), "accuracy": round(float(accuracy_score(t, p)), 4),
                     "f1_macro": round(float(f1), 4), **extra}
    return out


def out_of_scope_metrics(proba: np.ndarray, y_true: Sequence[Any], classes: list[str], other: str, *,
                         multi_label: bool, threshold: float = 0.5) -> dict[str, Any]:
    """Out-of-scope recall and precision (of the ``other`` answers), in-scope accuracy (an in-scope text answered
    ``other`` is wrong; multi-label: exact match) and AUROC of the ``other`` score, on texts labeled in and out."""
    from sklearn.metrics import roc_auc_score

    from ..models.base import labels_of

    truth_other = np.array([(v == other) if isinstance(v, str) else (tuple(v) == (other,)) for v in y_true])
    j = classes.index(other)
    pred = labels_of(proba, classes, multi_label=multi_label, threshold=threshold, other=other)
    pred_other = np.array([(p == other) if isinstance(p, str) else (tuple(p) == (other,)) for p in pred])
    tp = int((truth_other & pred_other).sum())
    inscope = ~truth_other
    right = [(p == t) if isinstance(t, str) else (tuple(sorted(p)) == tuple(sorted(t)))
             for p, t, keep in zip(pred, y_true, inscope) if keep]
    both = truth_other.any() and inscope.any()
    return {"label": other, "n_out_of_scope": int(truth_other.sum()), "n_in_scope": int(inscope.sum()),
            "recall": round(tp / truth_other.sum(), 4) if truth_other.any() else None,
            "precision": round(tp / pred_other.sum(), 4) if pred_other.any() else None,
            "answered_out_of_scope": int(pred_other.sum()),
            "in_scope_accuracy": round(float(np.mean(right)), 4) if right else None,
            "auroc": round(float(roc_auc_score(truth_other, proba[:, j])), 4) if both else None}


def evaluate_model(clf: "TextClassifier", texts: Sequence[str], y_true: Sequence[Any], *,
                   thresholds: Thresholds | None = None, model_threshold: float | None = None,
                   auto_threshold: float | None = None, batch_size: int = 512) -> dict[str, Any]:
    """Score ``texts`` with a fitted classifier and evaluate against ``y_true`` (see :func:`evaluate_scores`)."""
    texts = list(texts)
    if not texts:
        raise DataError("no texts to evaluate")
    proba = np.concatenate([clf.predict_proba(texts[i:i + batch_size]) for i in range(0, len(texts), batch_size)])
    return evaluate_scores(proba, y_true, clf.classes_ or [], multi_label=clf.multi_label, texts=texts,
                           threshold=clf.threshold, thresholds=thresholds, model_threshold=model_threshold,
                           auto_threshold=auto_threshold,
                           other=clf.out_of_scope_.label if clf.out_of_scope_ is not None else None)


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
    bands = registry.bands(model_id, ver.version, config.thresholds)
    metrics = evaluate_model(clf, ev.texts, ev.labels, thresholds=config.thresholds,
                             model_threshold=rec.confidence_threshold, auto_threshold=bands.auto)
    metrics["evaluation"] = {"method": "eval-file", "n_eval": len(ev),
                             "description": f"{Path(data).name}: {len(ev)} labeled texts"}
    return rec, ver, metrics

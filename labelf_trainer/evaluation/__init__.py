"""Evaluation: metrics in the Labelf model-object shape, threshold analysis, per-language breakdown, HTML report.

Usage::

    metrics = evaluate_scores(clf.predict_proba(texts), y_true, clf.classes_, multi_label=False, texts=texts)
    metrics["accuracy"], metrics["per_class"]["Billing"]["f1"], metrics["thresholds"]["recommended"]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..config import Thresholds
from ..langid import detect_languages
from .metrics import confused_pairs, language_breakdown, multi_label_metrics, single_label_metrics, to_indicator
from .thresholds import multi_label_thresholds, single_label_thresholds

__all__ = ["evaluate_scores", "evaluate_model", "single_label_metrics", "multi_label_metrics", "confused_pairs",
           "to_indicator",
           "single_label_thresholds", "multi_label_thresholds", "language_breakdown"]


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


def evaluate_model(clf: Any, texts: Sequence[str], y_true: Sequence[Any], *, thresholds: Thresholds | None = None,
                   model_threshold: float | None = None, batch_size: int = 512) -> dict[str, Any]:
    """Score ``texts`` with a fitted classifier and evaluate against ``y_true`` (see :func:`evaluate_scores`)."""
    texts = list(texts)
    if not texts:
        from ..exceptions import DataError

        raise DataError("no texts to evaluate")
    proba = np.concatenate([clf.predict_proba(texts[i:i + batch_size]) for i in range(0, len(texts), batch_size)])
    return evaluate_scores(proba, y_true, clf.classes_, multi_label=clf.multi_label, texts=texts,
                           threshold=getattr(clf, "threshold", 0.5), thresholds=thresholds,
                           model_threshold=model_threshold)

"""Evaluation: metrics in the Labelf model-object shape, threshold analysis, per-language breakdown, HTML report.

Usage::

    metrics = evaluate_scores(clf.predict_proba(texts), y_true, clf.classes_, multi_label=False, texts=texts)
    metrics["accuracy"], metrics["per_class"]["Billing"]["f1"], metrics["thresholds"]["recommended"]
"""

from __future__ import annotations

from .evaluate import evaluate_model, evaluate_scores, evaluate_version
from .metrics import confused_pairs, language_breakdown, multi_label_metrics, single_label_metrics, to_indicator
from .thresholds import multi_label_thresholds, single_label_thresholds

__all__ = ["evaluate_scores", "evaluate_model", "evaluate_version", "single_label_metrics", "multi_label_metrics",
           "confused_pairs", "to_indicator", "single_label_thresholds", "multi_label_thresholds", "language_breakdown"]

"""How well scores are calibrated: expected calibration error and the reliability diagram's table.

Usage::

    top_label_ece(proba, y)                      # single-label: |accuracy - confidence| over 15 bins
    pairwise_ece(scores, Y)                      # multi-label: every (text, label) score against whether it applies
    reliability_table(confidence, correct)       # rows {lo, hi, n, confidence, accuracy} for the report
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["BINS", "top_label_ece", "pairwise_ece", "reliability_table", "calibration_summary"]

BINS = 15


def _bins(conf: np.ndarray, bins: int) -> np.ndarray:
    return np.clip(np.ceil(conf * bins).astype(np.int64) - 1, 0, bins - 1)  # (lo, hi]; 0 goes to the first bin


def _ece(conf: np.ndarray, correct: np.ndarray, bins: int = BINS) -> float:
    conf, correct = np.asarray(conf, dtype=np.float64), np.asarray(correct, dtype=np.float64)
    if conf.size == 0:
        return float("nan")
    idx = _bins(conf, bins)
    s_conf = np.bincount(idx, weights=conf, minlength=bins)
    s_ok = np.bincount(idx, weights=correct, minlength=bins)
    return float(np.abs(s_ok - s_conf).sum() / conf.size)


def top_label_ece(proba: np.ndarray, y: np.ndarray, bins: int = BINS) -> float:
    """Expected calibration error of the top label (Guo et al. 2017): the share-weighted gap between accuracy and
    mean confidence over equal-width confidence bins. ``y``: class indices."""
    proba = np.asarray(proba, dtype=np.float64)
    return _ece(proba.max(axis=1), proba.argmax(axis=1) == np.asarray(y), bins)


def pairwise_ece(scores: np.ndarray, Y: np.ndarray, bins: int = BINS) -> float:
    """Multi-label: ECE of every (text, label) score against whether that label applies."""
    return _ece(np.asarray(scores).ravel(), np.asarray(Y).ravel().astype(bool), bins)


def reliability_table(conf: np.ndarray, correct: np.ndarray, bins: int = BINS) -> list[dict[str, float]]:
    """Rows ``{lo, hi, n, confidence, accuracy}`` of a reliability diagram (empty bins left out)."""
    conf, correct = np.asarray(conf, dtype=np.float64), np.asarray(correct, dtype=np.float64)
    idx = _bins(conf, bins)
    rows = []
    for b in range(bins):
        m = idx == b
        if m.any():
            rows.append({"lo": round(b / bins, 4), "hi": round((b + 1) / bins, 4), "n": int(m.sum()),
                         "confidence": round(float(conf[m].mean()), 4),
                         "accuracy": round(float(correct[m].mean()), 4)})
    return rows


def calibration_summary(proba: np.ndarray, truth: np.ndarray, *, multi_label: bool) -> dict[str, Any]:
    """``{ece, reliability}`` of calibrated scores: top label (single-label) or every (text, label) pair."""
    proba = np.asarray(proba, dtype=np.float64)
    if multi_label:
        conf, correct = proba.ravel(), np.asarray(truth).ravel().astype(bool)
        ece = pairwise_ece(proba, truth)
    else:
        conf, correct = proba.max(axis=1), proba.argmax(axis=1) == np.asarray(truth)
        ece = top_label_ece(proba, truth)
    return {"ece": None if ece != ece else round(ece, 4), "bins": BINS, "n": int(len(proba)),
            "reliability": reliability_table(conf, correct)}

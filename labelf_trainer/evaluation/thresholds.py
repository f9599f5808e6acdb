"""Confidence-threshold analysis: what precision and coverage each threshold from 0.00 to 1.00 gives.

Single-label: a prediction is *kept* when its top score is at or above the threshold. ``precision`` is the share
of kept predictions that are correct (the accuracy of what is kept), ``coverage`` the share of texts kept. The
recommended threshold is the lowest one whose precision reaches the target, i.e. the one that keeps the most
traffic at that precision. Multi-label: the same per label, on that label's independent score (a label is
predicted when its score is at or above the threshold), with recall and F1 beside precision.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["GRID", "threshold_curve", "recommend_threshold", "routing_bands", "single_label_thresholds",
           "multi_label_thresholds", "choose_auto_threshold", "AUTO_BAND_LEVEL", "AUTO_BAND_MIN_HELDOUT",
           "AUTO_BAND_MIN_PER_CLASS"]

#: One-sided level of the auto-band chooser: the expected precision minus one standard error (z = 1; chosen on
#: Banking77 from 0.5 / 1 / 1.28 SE and Wilson bounds: 12 of 160 runs under the target, 2.3 points of coverage lost).
AUTO_BAND_LEVEL = 0.8413
#: Below these the auto band cannot be certified (every chooser missed the target on some dataset at 2-3 labels per
#: class): the config's ``thresholds.auto`` applies.
AUTO_BAND_MIN_HELDOUT = 100
AUTO_BAND_MIN_PER_CLASS = 5

#: The thresholds analysed: 0.00, 0.01, ..., 1.00.
GRID = np.round(np.linspace(0.0, 1.0, 101), 2)


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 4)


def threshold_curve(confidence: np.ndarray, correct: np.ndarray, predicted: Sequence[str] | None = None,
                    grid: np.ndarray = GRID) -> dict[str, list]:
    """Columns ``threshold, kept, coverage, precision[, precision_macro]`` for each threshold of ``grid``.

    ``precision`` is None where nothing is kept. ``precision_macro`` (when ``predicted`` is given) averages the
    precision of each predicted label among the kept texts.
    """
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)
    n = len(conf)
    pred = np.asarray(predicted) if predicted is not None else None
    out: dict[str, list] = {"threshold": [], "kept": [], "coverage": [], "precision": []}
    if pred is not None:
        out["precision_macro"] = []
    for t in grid:
        kept = conf >= t - 1e-12
        k = int(kept.sum())
        out["threshold"].append(float(t))
        out["kept"].append(k)
        out["coverage"].append(_r(k / n if n else 0.0))
        out["precision"].append(_r(ok[kept].mean()) if k else None)
        if pred is not None:
            labs = np.unique(pred[kept])
            out["precision_macro"].append(
                _r(np.mean([ok[kept & (pred == lab)].mean() for lab in labs])) if k else None)
    return out


def recommend_threshold(curve: dict[str, list], target_precision: float,
                        key: str = "precision") -> dict[str, Any]:
    """The lowest threshold whose ``key`` column reaches ``target_precision`` (most coverage at that precision)."""
    for i, t in enumerate(curve["threshold"]):
        p = curve[key][i]
        if p is not None and p >= target_precision - 1e-12:
            rec = {"threshold": t, "precision": p, "target_precision": target_precision, "reached": True,
                   "disables_rejection": bool(i == 0)}
            for extra in ("coverage", "recall", "f1"):
                if extra in curve:
                    rec[extra] = curve[extra][i]
            return rec
    best = max((p for p in curve[key] if p is not None), default=None)
    return {"threshold": None, "precision": best, "target_precision": target_precision, "reached": False}


def routing_bands(confidence: np.ndarray, correct: np.ndarray, auto: float, review: float) -> dict[str, dict]:
    """Share of texts (and accuracy) in Labelf's bands: auto (>= auto), review (>= review), human (below)."""
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)
    n = max(len(conf), 1)
    masks = {"auto": conf >= auto, "review": (conf >= review) & (conf < auto), "human": conf < review}
    return {band: {"share": _r(m.sum() / n), "n": int(m.sum()), "accuracy": _r(ok[m].mean()) if m.any() else None,
                   "range": rng}
            for (band, m), rng in zip(masks.items(), ([auto, 1.0], [review, auto], [0.0, review]))}


def single_label_thresholds(proba: np.ndarray, y_true: Sequence[str], classes: Sequence[str], *,
                            target_precision: float = 0.9, auto: float = 0.9, review: float = 0.7,
                            model_threshold: float | None = None) -> dict[str, Any]:
    """Threshold curve, recommended threshold and routing bands for single-label scores."""
    proba = np.asarray(proba, dtype=np.float64)
    top = proba.argmax(axis=1)
    conf = proba[np.arange(len(proba)), top]
    predicted = [classes[i] for i in top]
    correct = np.array([p == t for p, t in zip(predicted, y_true)], dtype=bool)
    curve = threshold_curve(conf, correct, predicted)
    out: dict[str, Any] = {
        "curve": curve,
        "recommended": recommend_threshold(curve, target_precision),
        "bands": routing_bands(conf, correct, auto, review),
    }
    if model_threshold is not None:
        kept = conf >= model_threshold
        out["at_model_threshold"] = {"threshold": model_threshold, "coverage": _r(kept.mean()),
                                     "precision": _r(correct[kept].mean()) if kept.any() else None}
    return out


def multi_label_thresholds(scores: np.ndarray, Y_true: np.ndarray, classes: Sequence[str], *,
                           target_precision: float = 0.9, grid: np.ndarray = GRID) -> dict[str, Any]:
    """Per label: precision/recall/F1 of "score >= t" for each t, and the recommended per-label threshold.

    Where no threshold reaches the target precision the recommendation falls back to the best-F1 threshold
    (``reached: false`` says so).
    """
    scores = np.asarray(scores, dtype=np.float64)
    Y = np.asarray(Y_true, dtype=bool)
    per_label: dict[str, Any] = {}
    for j, lab in enumerate(classes):
        s, y = scores[:, j], Y[:, j]
        curve: dict[str, list] = {"threshold": [], "predicted": [], "precision": [], "recall": [], "f1": []}
        for t in grid:
            pred = s >= t - 1e-12
            tp, npred, npos = int((pred & y).sum()), int(pred.sum()), int(y.sum())
            p = tp / npred if npred else None
            r = tp / npos if npos else None
            f = (2 * p * r / (p + r) if p and r else 0.0) if p is not None and r is not None else None
            curve["threshold"].append(float(t))
            curve["predicted"].append(npred)
            curve["precision"].append(_r(p))
            curve["recall"].append(_r(r))
            curve["f1"].append(_r(f))
        rec = recommend_threshold(curve, target_precision)
        if not rec["reached"]:
            f1s = [(f if f is not None else -1.0) for f in curve["f1"]]
            i = int(np.argmax(f1s))
            rec = {**rec, "threshold": curve["threshold"][i], "fallback": "best F1",
                   "precision": curve["precision"][i], "recall": curve["recall"][i], "f1": curve["f1"][i]}
        per_label[lab] = {"curve": curve, "recommended": rec, "support": int(y.sum())}
    return {"per_label": per_label, "target_precision": target_precision}


def choose_auto_threshold(conf: np.ndarray, correct: np.ndarray, *, pool_conf: np.ndarray, target: float,
                          n_classes: int, n_labeled: int, oos_share: float = 0.0, oos_miss_rate: float = 0.5,
                          answered_other: np.ndarray | None = None, level: float = AUTO_BAND_LEVEL,
                          grid: np.ndarray | None = None) -> dict[str, Any]:
    """The lowest confidence threshold whose expected precision on the traffic reaches ``target``.

    ``conf``/``correct``: held-out (out-of-fold) calibrated top confidences of the labeled texts and whether the
    top label was right; ``pool_conf``: calibrated top confidences of the traffic (the unlabeled pool). The expected
    precision at ``t`` is the mean calibrated confidence of the traffic at or above ``t`` minus one standard error of
    the held-out texts there (the calibration was learned from only those). With an out-of-scope label, texts out of
    scope (share ``oos_share``) that the detector misses (``oos_miss_rate``) reach ``t`` as often as the model's
    wrong answers do, and count as errors: precision * (1 - pi) K / ((1 - pi) K + pi m G), K the share of held-out
    texts kept, G the share of wrong answers kept.

    Returns ``{threshold, expected_precision, expected_coverage, reached}``; threshold None with ``reason`` when the
    target is out of reach or there are too few labels to certify it; ``disables_rejection`` flags a threshold at
    the lowest confidence a model can give (every in-scope answer is acted on; only the out-of-scope label rejects).
    """
    from scipy.stats import norm

    grid = np.round(np.linspace(0.0, 1.0, 201), 3) if grid is None else np.asarray(grid)
    conf = np.asarray(conf, dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)
    other = np.zeros(len(conf), dtype=bool) if answered_other is None else np.asarray(answered_other, dtype=bool)
    if len(conf) < AUTO_BAND_MIN_HELDOUT or n_labeled < AUTO_BAND_MIN_PER_CLASS * n_classes:
        return {"threshold": None, "reached": False, "target": target,
                "reason": f"too few labels to certify precision {target} (need {AUTO_BAND_MIN_HELDOUT} held-out "
                          f"predictions and {AUTO_BAND_MIN_PER_CLASS} labels per label)"}
    z = float(norm.ppf(level))
    pc = np.sort(np.asarray(pool_conf, dtype=np.float64))
    csum = np.concatenate([[0.0], np.cumsum(pc[::-1])])  # sum of the k largest
    wrong = ~ok & ~other
    for t in grid:
        k = len(pc) - int(np.searchsorted(pc, t - 1e-12, side="left"))
        if not k:
            continue
        mean_conf = csum[k] / k
        kept = conf >= t - 1e-12
        prec = mean_conf - z * math.sqrt(mean_conf * (1 - mean_conf) / max(int(kept.sum()), 1))
        if oos_share > 0:
            K, G = float(kept.mean()), float((kept & wrong).sum() / max(int(wrong.sum()), 1))
            prec *= (1 - oos_share) * K / max((1 - oos_share) * K + oos_share * oos_miss_rate * G, 1e-12)
        if prec >= target - 1e-12:
            return {"threshold": float(t), "expected_precision": round(float(prec), 4),
                    "expected_coverage": round(k / len(pc), 4), "reached": True, "target": target,
                    "disables_rejection": bool(t <= 1.0 / max(n_classes, 1) + 1e-9),
                    "assumed": {"oos_share": oos_share, "oos_miss_rate": oos_miss_rate} if oos_share else {}}
    return {"threshold": None, "reached": False, "target": target,
            "reason": f"no threshold reaches an expected precision of {target} on the traffic"}

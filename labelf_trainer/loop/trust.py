"""Scores and figures that hold on the traffic, fitted at training time from held-out predictions only.

From the model's raw held-out scores of the labeled texts (k-fold, or a hold-out for slow model types) this fits:

1. the calibration (:mod:`labelf_trainer.models.calibration`);
2. the out-of-scope detector when the project has an out-of-scope label (:mod:`labelf_trainer.models.out_of_scope`),
   on frozen embeddings, with the texts annotators labeled "Other" as its second reference;
3. the auto band's threshold for ``thresholds.target_precision`` on the traffic
   (:func:`labelf_trainer.evaluation.thresholds.choose_auto_threshold`), stored as ``metrics.bands``;
4. the accuracy estimate on the traffic (:mod:`labelf_trainer.evaluation.estimate`), from the unlabeled pool's
   calibrated confidence and the audit labels, stored as ``metrics.accuracy_estimate``.

No test set is ever used to fit any of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import ProjectConfig
from ..evaluation.calibration import calibration_summary
from ..evaluation.estimate import estimate_traffic_accuracy
from ..evaluation.thresholds import choose_auto_threshold
from ..models.calibration import Calibrator, IdentityCalibrator, fit_calibrator
from ..models.out_of_scope import OutOfScope

__all__ = ["HeldOut", "Trust", "fit_trust", "targets"]

#: Annotated "Other" texts from which their detector miss rate is measured (fewer: the benchmark's 0.5 is assumed).
MIN_OTHER_FOR_MISS_RATE = 20
#: Audit labels from which the share of out-of-scope traffic is measured (fewer: ``out_of_scope.expected_share``).
MIN_AUDIT_FOR_OOS_SHARE = 30


@dataclass
class HeldOut:
    """Raw held-out scores of labeled in-scope texts: ``rows`` (indices into the training data) and ``raw`` scores
    from models that did not see them, with how they were obtained."""

    rows: np.ndarray
    raw: np.ndarray
    method: str
    k: int
    description: str


@dataclass
class Trust:
    """What :func:`fit_trust` fitted, and the held-out scores after it (calibrated, "Other" column appended)."""

    calibration: Calibrator
    out_of_scope: OutOfScope | None
    proba: np.ndarray
    metrics: dict[str, Any] = field(default_factory=dict)


def targets(labels: list[Any], classes: list[str], multi_label: bool) -> np.ndarray:
    """Class indices (single-label) or a multi-hot matrix (multi-label) over ``classes``."""
    index = {c: i for i, c in enumerate(classes)}
    if not multi_label:
        return np.array([index[v] for v in labels], dtype=np.int64)
    Y = np.zeros((len(labels), len(classes)), dtype=np.int64)
    for r, labs in enumerate(labels):
        for lab in labs:
            if lab in index:
                Y[r, index[lab]] = 1
    return Y


def _credit(proba: np.ndarray, truth: np.ndarray, multi_label: bool, threshold: float) -> np.ndarray:
    """Per text: 1 if its held-out prediction was right (multi-label: its F1 with the truth)."""
    if not multi_label:
        return (proba.argmax(axis=1) == truth).astype(np.float64)
    pred = proba >= threshold
    tp = (pred & truth.astype(bool)).sum(axis=1)
    denom = pred.sum(axis=1) + truth.sum(axis=1)
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 1.0)


def fit_trust(config: ProjectConfig, held: HeldOut, labels: list[Any], classes: list[str], *, threshold: float,
              X_frozen: np.ndarray | None, X_other: np.ndarray | None, encoder: str, encoder_fingerprint: str,
              pool_proba: np.ndarray | None, pool_X: np.ndarray | None, n_unlabeled: int, audit: np.ndarray,
              n_labeled: int,
              audit_other_share: float | None, seed: int = 0) -> Trust:
    """Fit calibration, out of scope, the auto band and the accuracy estimate (see the module docstring).

    ``labels``: the labels of all in-scope training rows (``held.rows`` index them); ``X_frozen``: their frozen
    embeddings (needed with an out-of-scope label); ``pool_proba``: the model's raw scores on (a uniform sample of)
    the ``n_unlabeled`` unlabeled pool texts, ``pool_X`` their frozen embeddings (for the out-of-scope detector);
    ``audit``: per held-out row, whether it was an audit pick;
    ``audit_other_share``: share of "Other" among audit labels (None: too few to measure).
    """
    multi = config.multi_label
    truth = targets([labels[i] for i in held.rows], classes, multi)
    calibration: Calibrator = fit_calibrator(held.raw, truth, multi_label=multi) if len(held.rows) else \
        IdentityCalibrator()
    proba = calibration.transform(held.raw) if len(held.rows) else held.raw
    credit = _credit(proba, truth, multi, threshold)
    oos = None
    metrics: dict[str, Any] = {"calibration": {"method": calibration.to_json(), "heldout": int(len(held.rows)),
                                               **calibration_summary(proba, truth, multi_label=multi)}}
    if config.out_of_scope is not None and X_frozen is not None and len(held.rows):
        o = config.out_of_scope
        oos = OutOfScope(o.label, encoder=encoder, encoder_fingerprint=encoder_fingerprint, multi_label=multi,
                         max_accuracy_loss=o.max_accuracy_loss, seed=seed)
        oos.fit(X_frozen, labels, oof_proba=proba, oof_credit=credit, X_other=X_other, rows=held.rows)
        proba = oos.oof_augment(proba)
        metrics["out_of_scope_detector"] = {**oos.info_, "label": o.label}
    pool = None
    if pool_proba is not None and len(pool_proba):
        pool = calibration.transform(pool_proba)
        if oos is not None and pool_X is not None:
            pool = oos.augment(pool_X, pool)
    metrics["bands"] = _bands(config, proba, truth, classes, oos, X_other, pool, n_labeled, audit_other_share)
    metrics["accuracy_estimate"] = _estimate(config, proba, truth, pool, n_unlabeled, audit, n_labeled,
                                             len(classes))
    return Trust(calibration, oos, proba, metrics)


def _bands(config: ProjectConfig, proba: np.ndarray, truth: np.ndarray, classes: list[str], oos: OutOfScope | None,
           X_other: np.ndarray | None, pool: np.ndarray | None, n_labeled: int,
           audit_other_share: float | None) -> dict[str, Any]:
    if config.multi_label or not len(proba):
        return {"auto": None, "reason": "multi-label models use per-label thresholds (metrics.thresholds)"}
    conf = proba.max(axis=1)
    answered_other = proba.argmax(axis=1) == len(classes) if oos is not None else None
    correct = proba.argmax(axis=1) == truth
    share, miss = 0.0, 0.5
    if oos is not None:
        share = audit_other_share if audit_other_share is not None else config.out_of_scope.expected_share  # type: ignore[union-attr]
        if X_other is not None and len(X_other) >= MIN_OTHER_FOR_MISS_RATE:
            miss = float((oos.oof_z_other(X_other) <= oos.threshold_).mean())
    pool_conf = np.concatenate([conf, pool.max(axis=1)]) if pool is not None else conf
    rec = choose_auto_threshold(conf, correct, pool_conf=pool_conf, target=config.thresholds.target_precision,
                                n_classes=len(classes), n_labeled=n_labeled, oos_share=share, oos_miss_rate=miss,
                                answered_other=answered_other)
    return {"auto": rec.get("threshold"), **rec}


def _estimate(config: ProjectConfig, proba: np.ndarray, truth: np.ndarray, pool: np.ndarray | None,
              n_unlabeled: int, audit: np.ndarray, n_labeled: int, n_classes: int) -> dict[str, Any]:
    if config.multi_label:
        return {"estimate": None, "method": "none", "reason": "estimated for single-label models; multi-label "
                "models report held-out micro-F1 (biased towards the sampler's picks)"}
    correct = (proba.argmax(axis=1) == truth).astype(np.float64)
    est = estimate_traffic_accuracy(pool_conf=pool.max(axis=1) if pool is not None else np.zeros(0),
                                    n_unlabeled=n_unlabeled if pool is not None else 0, labeled_correct=correct,
                                    labeled_conf=proba.max(axis=1), audit=audit, n_labeled=n_labeled,
                                    n_classes=n_classes)
    return est.to_json()

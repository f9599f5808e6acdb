"""Accuracy on the traffic: an estimate with an interval, not cross-validation on the sampler's picks.

Active learning picks hard and rare texts on purpose, so the accuracy on the labeled texts says little about the
accuracy on the traffic (measured: 0.913 shown against 0.696 real on an unseen bot). The estimate combines what the
product has in every round (``benchmarks/active_learning.py`` measures it along the learning curves):

- the pool's labeled share ``w`` answered by the out-of-fold accuracy of the labeled texts, and
- the rest answered by the mean calibrated confidence of the current model on the unlabeled pool (the traffic's
  distribution), corrected by the audit residual: on the audit texts (drawn uniformly from the pool,
  ``sampler.audit_share``), how far correctness was from the calibrated confidence. The correction is a
  normal-normal update with a prior sd ``sqrt(tau0^2 + tau_k^2 / n_heldout)``, so a few audit texts barely move it
  and a few hundred decide it.

Below ``max(50, 2 * n_classes)`` held-out predictions there is no estimate (method ``none``): too few to say.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = ["AccuracyEstimate", "estimate_traffic_accuracy", "TAU0", "TAU_K", "AUDIT_MISMATCH", "MIN_HELDOUT"]

#: Calibration uncertainty of the model-based part: sd = sqrt(TAU0^2 + TAU_K^2 / n_heldout) (fitted on Banking77
#: active-learning runs; TREC and Bitext held out).
TAU0 = 0.02
TAU_K = 0.5
#: The audit residual is measured on the fold models, the estimate is for the final model: sd of that mismatch.
AUDIT_MISMATCH = 0.02
MIN_HELDOUT = 50


@dataclass
class AccuracyEstimate:
    """Estimated accuracy on the traffic with a two-sided ``level`` interval, how it was obtained and on what."""

    estimate: float | None
    low: float
    high: float
    level: float
    method: str
    n_labeled: int
    n_audit: int
    n_pool: int
    parts: dict[str, float | None] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("estimate", "low", "high"):
            d[k] = None if d[k] is None or d[k] != d[k] else round(d[k], 4)
        d["parts"] = {k: (None if v is None or v != v else round(v, 4)) for k, v in self.parts.items()}
        return d


def estimate_traffic_accuracy(*, pool_conf: np.ndarray, n_unlabeled: int, labeled_correct: np.ndarray,
                              labeled_conf: np.ndarray, audit: np.ndarray, n_labeled: int | None = None,
                              n_classes: int = 0, level: float = 0.9, tau0: float = TAU0, tau_k: float = TAU_K,
                              audit_mismatch: float = AUDIT_MISMATCH, min_heldout: int = MIN_HELDOUT
                              ) -> AccuracyEstimate:
    """Accuracy of the current model on texts drawn like the pool.

    ``pool_conf``: calibrated top confidence of the current model on the unlabeled pool (all of it, or a uniform
    sample of ``n_unlabeled`` texts); ``labeled_correct`` / ``labeled_conf``: out-of-fold correctness and calibrated
    confidence of the labeled texts that have a held-out prediction; ``audit``: which of those were audit picks;
    ``n_labeled``: every labeled pool text (default: those with a held-out prediction).
    """
    from scipy.stats import norm

    lc = np.asarray(labeled_correct, dtype=np.float64)
    lconf = np.asarray(labeled_conf, dtype=np.float64)
    audit = np.asarray(audit, dtype=bool)
    pc = np.asarray(pool_conf, dtype=np.float64)
    n_heldout = len(lc)
    n_l = n_heldout if n_labeled is None else int(n_labeled)
    n = int(n_unlabeled) + n_l
    k = int(audit.sum())
    need = max(min_heldout, 2 * n_classes)
    if n_heldout < need or n == 0:
        return AccuracyEstimate(None, 0.0, 1.0, level, "none", n_l, k, n, {"needed_heldout": float(need)})
    z = float(norm.ppf(0.5 + level / 2))
    w_l = n_l / n
    acc_l = float(lc.mean())
    model_u = float(pc.mean()) if len(pc) else acc_l
    prior_var = tau0 ** 2 + tau_k ** 2 / n_heldout
    post_mean, post_var, r_mean = 0.0, prior_var, float("nan")
    if k >= 2:
        r = lc[audit] - lconf[audit]
        r_mean = float(r.mean())
        r_var = max(float(r.var(ddof=1)), 0.05) / k + audit_mismatch ** 2  # floor: a few rows can all agree
        post_var = 1.0 / (1.0 / prior_var + 1.0 / r_var)
        post_mean = post_var * r_mean / r_var
    est_u = model_u + post_mean
    var_l = acc_l * (1 - acc_l) / n_heldout
    estimate = (1 - w_l) * est_u + w_l * acc_l
    sd = math.sqrt((1 - w_l) ** 2 * post_var + w_l ** 2 * var_l)
    parts = {"model_unlabeled": model_u, "audit_residual": r_mean, "audit_correction": post_mean,
             "labeled_cv_accuracy": acc_l, "labeled_share": w_l, "calibration_sd": math.sqrt(prior_var),
             "audit_accuracy": float(lc[audit].mean()) if k else float("nan")}
    clip = lambda v: float(np.clip(v, 0.0, 1.0))  # noqa: E731
    return AccuracyEstimate(clip(estimate), clip(estimate - z * sd), clip(estimate + z * sd), level,
                            "calibrated-pool" + ("+audit" if k >= 2 else ""), n_l, k, n, parts)

"""Trust for the zero-shot model, which no training fits: a re-fitted temperature once a few representative labels
exist, and an out-of-scope detector from the label descriptions and the unlabeled pool."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..models.calibration import MIN_LABELS, refit_temperature
from ..models.out_of_scope import OutOfScope

if TYPE_CHECKING:
    from ..models.zero_shot import ZeroShotClassifier
    from .project import Project

__all__ = ["attach_zero_shot_trust", "representative_labels", "POOL_SAMPLE", "reject_share"]

#: Pool texts embedded to fit the zero-shot out-of-scope detector (a seeded uniform sample).
POOL_SAMPLE = 5000


def reject_share(expected_share: float) -> float:
    """Share of the pool the zero-shot detector answers "Other": half the expected out-of-scope share (distance to
    a label description is a weaker signal than distance to labeled texts, so only the clearest half)."""
    return float(np.clip(expected_share / 2.0, 0.005, 0.25))


def representative_labels(project: "Project") -> dict[str, tuple[str, ...]]:
    """Labeled texts no sampler picked for being close to a description or uncertain: audit picks and labels that
    came from files or annotators directly (cold-start picks would pull the temperature far too low)."""
    ws = project.ws
    picked = ws.batches.sampler_item_ids()
    return {i: labs for i, labs in ws.annotations.labeled().items() if i not in picked}


def attach_zero_shot_trust(project: "Project", model: "ZeroShotClassifier") -> dict[str, Any]:
    """Attach calibration and (with an out-of-scope label) the detector to a fitted zero-shot model; returns what
    was fitted, for the version's params (so a change makes a new version)."""
    cfg = project.config
    info: dict[str, Any] = {"calibration": {"kind": "identity"}, "calibration_labels": 0}
    calibration = None
    if not cfg.multi_label:
        labels = {i: labs[0] for i, labs in representative_labels(project).items()
                  if len(labs) == 1 and labs[0] in cfg.label_names}
        info["calibration_labels"] = len(labels)
        if len(labels) >= MIN_LABELS:
            texts = {it.id: it.text for it in project.ws.items.get(list(labels))}
            ids = [i for i in labels if i in texts]
            raw = model._scores([texts[i] for i in ids])
            y = np.array([cfg.label_names.index(labels[i]) for i in ids], dtype=np.int64)
            calibration = refit_temperature(raw, y)
            if calibration is not None:
                info["calibration"] = calibration.to_json()
    oos = None
    if cfg.out_of_scope is not None:
        sample = project.ws.items.draw_texts(POOL_SAMPLE, np.random.default_rng(0))[0]
        share = reject_share(cfg.out_of_scope.expected_share)
        if len(sample) >= 20:
            oos = OutOfScope(cfg.out_of_scope.label, encoder=model.encoder, encoder_fingerprint=model.encoder_fingerprint,
                             multi_label=cfg.multi_label).fit_unlabeled(model.prototypes_, model.embed(sample), share)
            info["out_of_scope"] = {"label": cfg.out_of_scope.label, "reject_share": share, "pool": len(sample)}
    model.attach(calibration, oos)
    return info

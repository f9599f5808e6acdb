"""When to stop labeling: stabilizing predictions on a fixed stopping set, with the expected gain and the weakest
labels beside it.

The advice is "stop" when Cohen's kappa between this version's and the previous version's predictions on a fixed
sample of pool texts (labeled or not) reaches :data:`STOP_KAPPA` (Bloodgood & Vijay-Shanker 2009, "stabilizing
predictions"). Measured along active-learning curves on Banking77, TREC and Bitext (issue 14 research): 0.95 stopped
within one round of the plateau in 89-100% of runs (when wrong, one round early, ~1 point short); the expected gain
and the pool's mean uncertainty stopped far too early on some datasets, so they are shown, never used to stop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..models.base import FrozenEncoderClassifier, TextClassifier

if TYPE_CHECKING:
    from .project import Project

__all__ = ["STOP_KAPPA", "STOP_SET_SIZE", "cohen_kappa", "stopping_advice", "stopping_texts"]

STOP_KAPPA = 0.95
#: Pool texts in the stopping set (fewer for model types that do not run on cached embeddings).
STOP_SET_SIZE = 2000
STOP_SET_SIZE_SLOW = 500
#: Per-label F1 under which a label is named as one that still limits the model.
WEAK_F1 = 0.9


def cohen_kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Agreement of two label vectors beyond chance (1: identical; 0: as if independent)."""
    a, b = np.asarray(a), np.asarray(b)
    if not len(a):
        return 1.0
    classes = np.union1d(a, b)
    pa = np.array([(a == c).mean() for c in classes])
    pb = np.array([(b == c).mean() for c in classes])
    pe = float((pa * pb).sum())
    po = float((a == b).mean())
    return 1.0 if pe >= 1.0 else (po - pe) / (1.0 - pe)


def stopping_texts(project: "Project", size: int) -> list[str]:
    """The stopping set: a seeded uniform sample of the pool's texts (the same texts while the pool is the same)."""
    return project.ws.items.draw_texts(size, np.random.default_rng(0), order="id")[0]


def _decisions(model: TextClassifier, texts: list[str]) -> np.ndarray:
    """Single-label: the top label index per text; multi-label: every (text, label) yes/no, flattened."""
    proba = model.predict_proba(texts)
    if model.multi_label:
        return (proba >= model.threshold).astype(np.int64).ravel()
    return proba.argmax(axis=1)


def stopping_advice(project: "Project", model: TextClassifier, previous: tuple[int, int] | None,
                    metrics: dict[str, Any], n_train: int) -> dict[str, Any]:
    """The stop advice for ``model`` (just trained on ``n_train`` labels) against ``previous`` (model id, version:
    the deployed version of the same model, if any), for ``metrics["stopping"]``."""
    size = STOP_SET_SIZE if isinstance(model, FrozenEncoderClassifier) else STOP_SET_SIZE_SLOW
    weakest = [lab for lab, m in sorted((metrics.get("per_class") or {}).items(), key=lambda kv: kv[1]["f1"])
               if m["f1"] < WEAK_F1][:3]
    out: dict[str, Any] = {"kappa": None, "kappas": [], "stop_kappa": STOP_KAPPA, "weakest_labels": weakest,
                           "expected_gain": None, "stop": False}
    if previous is None:
        out["advice"] = "keep labeling: the stop advice compares two trained rounds"
        return out
    texts = stopping_texts(project, size)
    prev_version = project.registry.get(previous[0]).version(previous[1])
    prev_model = project.registry.load(*previous)
    prev_model.use_cache(project.ws.cache_dir, progress=False)
    if list(prev_model.classes_ or []) != list(model.classes_ or []):
        out["advice"] = "keep labeling: the labels changed since the previous version"
        return out
    kappa = round(cohen_kappa(_decisions(model, texts), _decisions(prev_model, texts)), 4)
    prev_stop = prev_version.metrics.get("stopping") or {}
    out.update(kappa=kappa, kappas=[*prev_stop.get("kappas", []), kappa][-10:], n=len(texts),
               stop=kappa >= STOP_KAPPA)
    est, prev_est = metrics.get("accuracy_interval") and metrics.get("accuracy"), \
        prev_version.metrics.get("accuracy_interval") and prev_version.metrics.get("accuracy")
    batch = n_train - prev_version.training_examples
    if est is not None and prev_est is not None and batch > 0:  # the last round's gain, for a round of its size
        out["expected_gain"] = round(max(0.0, est - prev_est), 4)
        out["batch"] = batch
    changed = f"predictions on {len(texts)} pool texts agree with the previous version's at kappa {kappa:.2f}"
    if out["stop"]:
        out["advice"] = (f"stop: predictions have stabilised ({changed}); more labels are unlikely to move accuracy "
                         "by more than about a point")
    else:
        out["advice"] = (f"keep labeling ({changed}, stop at {STOP_KAPPA})"
                         + (f"; focus on {', '.join(weakest)}" if weakest else ""))
    return out

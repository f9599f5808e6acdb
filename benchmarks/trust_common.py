"""What the two trust benchmarks (``out_of_scope.py``, ``calibration.py``) share: the product version they ran
against, a project config for a benchmark dataset, band precision / coverage on a labeled test set, the best
coverage any threshold reaches at a precision, and a uniform pool sample for ``fit_and_evaluate``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from common import REPO

TARGET = 0.9


def product_version() -> str:
    """The ``labelf_trainer`` the benchmark imported: its git commit (``+dirty`` with uncommitted changes), or the
    ``LABELF_PRODUCT_COMMIT`` environment variable for a copy outside the repository (a snapshot of a commit)."""
    import labelf_trainer

    src = Path(labelf_trainer.__file__).resolve().parent
    if os.environ.get("LABELF_PRODUCT_COMMIT"):
        return os.environ["LABELF_PRODUCT_COMMIT"]
    try:
        src.relative_to(REPO)
    except ValueError:
        return f"copy at {src.parent}"
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "labelf_trainer"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def project_config(classes: Sequence[str], descriptions: dict[str, str] | None = None, **extra: Any):
    """A :class:`ProjectConfig` for a benchmark dataset (labels with their descriptions, nothing else)."""
    from labelf_trainer.config import LabelSpec, ProjectConfig

    specs = [LabelSpec(name=c, description=(descriptions or {}).get(c, "")) for c in classes]
    return ProjectConfig(project="benchmark", labels=specs, **extra)


def band(conf: np.ndarray, correct: np.ndarray, threshold: float | None) -> dict[str, Any]:
    """Measured precision and coverage of the auto band ``conf >= threshold`` (None: the band is off)."""
    conf, correct = np.asarray(conf, dtype=np.float64), np.asarray(correct, dtype=bool)
    if threshold is None:
        return {"threshold": None, "precision": None, "coverage": 0.0, "n_kept": 0}
    kept = conf >= threshold - 1e-12
    return {"threshold": round(float(threshold), 4),
            "precision": round(float(correct[kept].mean()), 4) if kept.any() else None,
            "coverage": round(float(kept.mean()), 4), "n_kept": int(kept.sum())}


def oracle_coverage(conf: np.ndarray, correct: np.ndarray, target: float = TARGET) -> dict[str, Any]:
    """The largest share of texts any confidence threshold keeps at a measured precision >= ``target`` (ties in
    confidence are kept or dropped together)."""
    conf, correct = np.asarray(conf, dtype=np.float64), np.asarray(correct, dtype=np.float64)
    order = np.argsort(-conf, kind="stable")
    c, ok = conf[order], correct[order]
    prec = np.cumsum(ok) / np.arange(1, len(c) + 1)
    last_of_tie = np.r_[c[1:] != c[:-1], True]  # a threshold can only cut between distinct confidences
    good = np.flatnonzero((prec >= target - 1e-12) & last_of_tie)
    if not len(good):
        return {"coverage": 0.0, "threshold": None, "precision": None}
    i = int(good[-1])
    return {"coverage": round((i + 1) / len(c), 4), "threshold": round(float(c[i]), 4),
            "precision": round(float(prec[i]), 4)}


def pool_sample(texts: Sequence[str], size: int, seed: int, n_unlabeled: int | None = None):
    """A seeded uniform sample of at most ``size`` unlabeled texts as ``loop/trainer.py: pool_sample`` draws it
    from a workspace (no audit labels: the benchmark's labels are not audit picks)."""
    from labelf_trainer.loop.trainer import PoolSample

    texts = list(texts)
    rng = np.random.default_rng(seed)
    sample = [texts[i] for i in np.sort(rng.choice(len(texts), size=size, replace=False))] \
        if len(texts) > size else texts
    return PoolSample(sample, len(texts) if n_unlabeled is None else n_unlabeled)


def mean_max(values: Sequence[float | None]) -> tuple[float | None, float | None, float | None]:
    """(mean, min, max) of the values that are not None."""
    v = [x for x in values if x is not None]
    if not v:
        return None, None, None
    return float(np.mean(v)), float(np.min(v)), float(np.max(v))


def fmt(x: float | None, digits: int = 3, pct: bool = False) -> str:
    if x is None or np.isnan(x):
        return "–"
    return f"{x * 100:.{max(digits - 2, 0)}f}" if pct else f"{x:.{digits}f}"

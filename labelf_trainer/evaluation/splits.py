"""Evaluation splits: a stratified hold-out when there are enough labels, stratified k-fold when there are few.

Both work for single-label (stratum = the label) and multi-label (stratum = the rarest label of the row). Texts
whose stratum has a single example always stay in training: they cannot be both learned and evaluated.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["SplitPlan", "plan_split", "strata", "MIN_HOLDOUT_PER_CLASS", "MAX_FOLDS"]

#: A hold-out split is used only when every label has at least this many examples; otherwise k-fold.
MIN_HOLDOUT_PER_CLASS = 5
MAX_FOLDS = 5


@dataclass(frozen=True)
class SplitPlan:
    """How a labeled set is evaluated.

    ``method`` is ``"holdout"`` (``folds`` has one entry: the eval indices; the model is trained on the rest) or
    ``"k-fold"`` (``folds`` lists each fold's eval indices; metrics come from out-of-fold predictions and the final
    model is trained on everything).
    """

    method: str
    folds: list[np.ndarray]
    n: int

    @property
    def k(self) -> int:
        return len(self.folds)

    def train_indices(self, fold: int) -> np.ndarray:
        mask = np.ones(self.n, dtype=bool)
        mask[self.folds[fold]] = False
        return np.flatnonzero(mask)

    @property
    def eval_indices(self) -> np.ndarray:
        return np.sort(np.concatenate(self.folds)) if self.folds else np.zeros(0, dtype=np.int64)

    def describe(self) -> str:
        if self.method == "holdout":
            return f"stratified hold-out: {len(self.folds[0])} of {self.n} labeled texts held out for evaluation"
        return (f"stratified {self.k}-fold cross-validation over {self.n} labeled texts; the final model is trained "
                "on all of them")


def strata(y: Sequence[object], multi_label: bool) -> list[str]:
    """Stratum per row: its label, or for multi-label its rarest label (``""`` for no label)."""
    if not multi_label:
        return [str(v if isinstance(v, str) else tuple(v)[0]) for v in y]
    counts = Counter(lab for v in y for lab in v)
    return [min(v, key=lambda lab: (counts[lab], lab)) if len(v) else "" for v in y]


def plan_split(y: Sequence[object], *, multi_label: bool, eval_split: float, seed: int,
               max_folds: int = MAX_FOLDS, holdout: bool = True) -> SplitPlan:
    """A hold-out of ``eval_split`` when every label has >= MIN_HOLDOUT_PER_CLASS examples (and ``holdout``),
    else k-fold (every text gets a held-out prediction: what cheap models always use)."""
    keys = strata(y, multi_label)
    n = len(keys)
    rng = np.random.default_rng(seed)
    groups: dict[str, np.ndarray] = {}
    for i, k in enumerate(keys):
        groups.setdefault(k, []).append(i)  # type: ignore[union-attr]
    groups = {k: rng.permutation(np.asarray(v)) for k, v in sorted(groups.items())}
    smallest = min(len(v) for v in groups.values())
    if holdout and smallest >= MIN_HOLDOUT_PER_CLASS and round(n * eval_split) >= len(groups):
        held = [v[:max(1, int(round(len(v) * eval_split)))] for v in groups.values()]
        return SplitPlan("holdout", [np.sort(np.concatenate(held))], n)
    evaluable = [v for v in groups.values() if len(v) >= 2]
    k = max(2, min(max_folds, max((len(v) for v in evaluable), default=2)))
    folds: list[list[int]] = [[] for _ in range(k)]
    offset = 0
    for v in evaluable:
        # round-robin with a rotating start, so small classes spread over all folds; a class with m <= k
        # examples lands in m different folds, so each fold's training part still has m - 1 >= 1 of them
        for j, idx in enumerate(v):
            folds[(offset + j) % k].append(int(idx))
        offset += len(v)
    return SplitPlan("k-fold", [np.sort(np.asarray(f, dtype=np.int64)) for f in folds if f], n)

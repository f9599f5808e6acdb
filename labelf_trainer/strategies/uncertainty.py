"""Uncertainty sampling: least confidence, margin (breaking ties) and entropy.

The scores come from modAL's own measures (``modAL.uncertainty.classifier_uncertainty``, ``classifier_margin``,
``classifier_entropy``), which want a fitted classifier: :class:`_FixedProba` is a tiny estimator whose
``predict_proba(rows)`` looks rows up in the pool's precomputed probabilities, so no text is re-scored and labeled
rows are never read. The order is our :func:`~.base.argselect` (seeded tie-breaking) rather than modAL's
``shuffled_argmax``, which draws from NumPy's global random state.

:class:`UncertaintyRanker` only ranks. :class:`UncertaintySampling` (and its three measures) wraps it: near-duplicates
(cosine >= ``near_duplicate_threshold``) of a pick or of a labeled text are skipped, and the batch covers every
language with at least ``language_min_share`` of the candidates (:mod:`.wrappers`).

Every measure is turned into an uncertainty in [0, 1] (higher = pick first): ``1 - max p`` (least confidence),
``1 - (p1 - p2)`` (margin), ``H(p) / log C`` (entropy). Multi-label models score each label independently, so each
label is a binary problem ``[1 - p, p]`` scored by the same modAL measure; a text's uncertainty is that of its most
uncertain label (entropy: the mean over labels), or with ``combine="mean"`` the mean over its labels (what the
combined sampler ranks by: one annotation answers every label, so a text unsure about several labels teaches more),
and the reason names the most uncertain label.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from modAL.uncertainty import classifier_entropy, classifier_margin, classifier_uncertainty
from sklearn.base import BaseEstimator

from ..exceptions import StrategyError
from .base import Pool, Preset, QueryStrategy, Ranking, argselect
from .wrappers import LanguageCoverage, NearDuplicateFilter

__all__ = ["Measure", "Combine", "uncertainty_scores", "UncertaintyRanker", "UncertaintySampling", "LeastConfidence",
           "MarginSampling", "EntropySampling"]

Measure = Literal["least_confidence", "margin", "entropy"]
#: How a multi-label text's per-label uncertainties make one: its most uncertain label, or the mean over labels.
Combine = Literal["max", "mean"]
_MODAL = {"least_confidence": classifier_uncertainty, "margin": classifier_margin, "entropy": classifier_entropy}


class _FixedProba(BaseEstimator):
    """A 'classifier' for modAL: ``predict_proba(rows)`` returns precomputed probabilities of those rows."""

    def __init__(self, proba: np.ndarray) -> None:
        self.proba = proba

    def fit(self, X: Any = None, y: Any = None) -> "_FixedProba":
        return self

    def predict_proba(self, rows: np.ndarray) -> np.ndarray:
        return self.proba[np.asarray(rows, dtype=np.int64)]


def _modal_uncertainty(proba: np.ndarray, measure: Measure) -> np.ndarray:
    rows = np.arange(proba.shape[0])
    raw = np.asarray(_MODAL[measure](_FixedProba(proba), rows), dtype=np.float64)
    if measure == "margin":
        return 1.0 - raw
    if measure == "entropy":
        return raw / np.log(max(proba.shape[1], 2))
    return raw


def uncertainty_scores(proba: np.ndarray, measure: Measure = "margin", multi_label: bool = False, *,
                       combine: Combine | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(uncertainty in [0, 1] per row, the class each row is most unsure about) for a probability matrix.

    ``combine`` (multi-label only): how a row's per-label uncertainties make one, ``"max"`` (its most uncertain
    label) or ``"mean"``; ``None``: the measure's own (``"mean"`` for entropy, ``"max"`` otherwise)."""
    if measure not in _MODAL:
        raise StrategyError(f"unknown uncertainty measure {measure!r}; use one of {', '.join(_MODAL)}")
    if combine not in (None, "max", "mean"):
        raise StrategyError(f"unknown way to combine per-label uncertainties {combine!r}; use max or mean")
    proba = np.clip(np.asarray(proba, dtype=np.float64), 0.0, 1.0)
    if proba.shape[0] == 0:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    if not multi_label:
        return np.clip(_modal_uncertainty(proba, measure), 0.0, 1.0), proba.argmax(axis=1)
    per_label = np.stack([_modal_uncertainty(np.stack([1.0 - proba[:, c], proba[:, c]], axis=1), measure)
                          for c in range(proba.shape[1])], axis=1)
    worst = per_label.argmax(axis=1)
    combine = combine or ("mean" if measure == "entropy" else "max")
    score = per_label.mean(axis=1) if combine == "mean" else per_label.max(axis=1)
    return np.clip(score, 0.0, 1.0), worst


def describe_uncertainty(proba_row: np.ndarray, classes: list[str], unsure: int, score: float,
                         multi_label: bool) -> dict[str, Any]:
    """A reason dict for one uncertain pick."""
    if multi_label:
        lab = classes[unsure]
        return {"uncertainty": round(score, 4), "label": lab, "p": round(float(proba_row[unsure]), 4),
                "summary": f"unsure about '{lab}' (p={proba_row[unsure]:.2f})"}
    top = np.argsort(-proba_row, kind="stable")[:2]
    a, b = classes[top[0]], classes[top[1]] if len(top) > 1 else ""
    return {"uncertainty": round(score, 4), "top2": [a, b],
            "summary": f"unsure: {a} {proba_row[top[0]]:.2f} vs {b} {proba_row[top[-1]]:.2f}"}


class _UncertaintyRanking(Ranking):
    """Candidates by uncertainty, most uncertain first; equal scores in a random order drawn from the query's seed."""

    def __init__(self, pool: Pool, candidates: np.ndarray, labeled: np.ndarray, rng: np.random.Generator,
                 measure: Measure) -> None:
        super().__init__(pool, candidates, labeled, rng)
        if pool.proba is None:
            raise StrategyError("uncertainty sampling needs the model's probabilities (no model in the pool)")
        self.proba = pool.proba
        self.measure = measure
        self.scores, self.unsure = uncertainty_scores(pool.proba[candidates], measure, pool.multi_label)
        self.tiebreak = rng.random(len(candidates))

    def order(self, n: int, chosen: np.ndarray) -> np.ndarray:
        return self.candidates[argselect(self.scores, len(self.scores), tiebreak=self.tiebreak)]

    def reasons(self, rows: np.ndarray) -> list[dict[str, Any]]:
        return [{"component": "uncertainty", "measure": self.measure,
                 **describe_uncertainty(self.proba[row], self.pool.classes, int(self.unsure[j]),
                                        float(self.scores[j]), self.pool.multi_label)}
                for row, j in zip(rows, self.positions(rows))]


class UncertaintyRanker(QueryStrategy):
    """Base strategy: the candidates by the model's uncertainty, unfiltered (see :class:`UncertaintySampling`)."""

    name = "uncertainty"

    def __init__(self, measure: Measure = "margin", *, random_state: int | None = 0) -> None:
        super().__init__(random_state=random_state)
        self.measure = measure

    def rank(self, pool: Pool, candidates: np.ndarray, labeled: np.ndarray, rng: np.random.Generator) -> Ranking:
        return _UncertaintyRanking(pool, candidates, labeled, rng, self.measure)


class UncertaintySampling(Preset):
    """Pick the rows the current model is least sure about, covering the pool's languages.

    ``LanguageCoverage(NearDuplicateFilter(UncertaintyRanker(measure), near_duplicate_threshold),
    language_min_share)``. Usage::

        sel = UncertaintySampling(measure="margin").query(pool, unlabeled, labeled, n=50)
    """

    name = "uncertainty"

    def __init__(self, measure: Measure = "margin", *, near_duplicate_threshold: float = 0.95,
                 language_min_share: float = 0.02, random_state: int | None = 0) -> None:
        super().__init__(random_state=random_state)
        self.measure = measure
        self.near_duplicate_threshold = near_duplicate_threshold
        self.language_min_share = language_min_share

    def compose(self) -> QueryStrategy:
        t = self.near_duplicate_threshold
        return LanguageCoverage(NearDuplicateFilter(UncertaintyRanker(self.measure, random_state=self.random_state),
                                                    t), self.language_min_share, near_duplicate_threshold=t)

    def score(self, pool: Pool, indices_unlabeled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Uncertainty of each unlabeled row (aligned with ``indices_unlabeled``) and its most unsure class."""
        if pool.proba is None:
            raise StrategyError("uncertainty sampling needs the model's probabilities (no model in the pool)")
        return uncertainty_scores(pool.proba[indices_unlabeled], self.measure, pool.multi_label)


class LeastConfidence(UncertaintySampling):
    """Uncertainty sampling by ``1 - max p``."""

    def __init__(self, *, near_duplicate_threshold: float = 0.95, language_min_share: float = 0.02,
                 random_state: int | None = 0) -> None:
        super().__init__("least_confidence", near_duplicate_threshold=near_duplicate_threshold,
                         language_min_share=language_min_share, random_state=random_state)


class MarginSampling(UncertaintySampling):
    """Uncertainty sampling by the gap between the two best classes (breaking ties)."""

    def __init__(self, *, near_duplicate_threshold: float = 0.95, language_min_share: float = 0.02,
                 random_state: int | None = 0) -> None:
        super().__init__("margin", near_duplicate_threshold=near_duplicate_threshold,
                         language_min_share=language_min_share, random_state=random_state)


class EntropySampling(UncertaintySampling):
    """Uncertainty sampling by the entropy of the predicted distribution."""

    def __init__(self, *, near_duplicate_threshold: float = 0.95, language_min_share: float = 0.02,
                 random_state: int | None = 0) -> None:
        super().__init__("entropy", near_duplicate_threshold=near_duplicate_threshold,
                         language_min_share=language_min_share, random_state=random_state)

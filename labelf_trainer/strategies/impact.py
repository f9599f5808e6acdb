"""Impact ranking (the default ``combined`` sampler), cold start, and the random baseline.

:class:`CombinedSampler` builds one batch from every signal, with the weights of the project's ``sampler`` config:

1. **Rare quota**: up to ``rare_quota * n`` picks go to labels with fewer than ``rare_target`` annotations
   (:mod:`.rare_class`), until every label reaches the target.
2. **Expected gain** of every other candidate: ``uncertainty ** uncertainty_weight * density ** density_weight``
   (information density, Settles & Craven 2008), where uncertainty is the margin measure of :mod:`.uncertainty`
   and density is the cosine similarity of a text to the centre of its k-means cluster of the unlabeled pool (how
   representative it is of many unlabeled texts). Rows with a ``priority`` (low-confidence service traffic) get
   ``* (1 + priority)``.
3. **Diversity**: the best ``n * (1 + 10 * diversity_weight)`` candidates by gain (those with at least
   ``GAIN_FLOOR`` of the mean gain of the ``n`` best) are clustered into as many clusters
   as picks remain, and the batch takes the best of each cluster (diverse mini-batch sampling, Zhdanov 2019),
   skipping near-duplicates of the batch and of labeled texts (cosine >= ``near_duplicate_threshold``).
4. **Languages**: every language with at least ``language_min_share`` of the pool gets at least one pick.

Steps 2 and 3 are :class:`ImpactRanker`, a base strategy that only ranks; the quota, the near-duplicate skipping and
the language coverage are wrappers (:mod:`.wrappers`):
``LanguageCoverage(RareQuota(NearDuplicateFilter(ImpactRanker(...)), rare_quota, rare_target))``.

The defaults (``uncertainty_weight=1``, ``density_weight=0.5``, ``diversity_weight=1``, ``rare_quota=0.3``,
``rare_target=10``) were tuned on Banking77 learning curves (``benchmarks/active_learning.py``; the variants tried
are listed in ``benchmarks/README.md``).

With no labels yet (or no model) it runs :class:`ColdStart`: description neighbours for every label (scored with
the zero-shot model's probabilities too) plus cluster representatives.

Multi-label pools (``Pool.multi_label``) differ in three ways, each measured on sgd_conversations (16 labels, whole
conversations; ``benchmarks/README.md``, "Multi-label"), where the single-label composition lost to random by 6-10
micro-F1 points up to 256 labels (points below: a 4,000-text sample, 2 seeds, against the variant without it):

* the uncertainty in the gain is the **mean** of the per-label margins, not the most uncertain label's
  (``multi_label_uncertainty``): one annotation answers every label, so a text the model is unsure about for
  several labels teaches the most (+18 points at 32 labels, +2 to +8 from 64 to 512);
* **no rare quota** (``multi_label_rare_quota``, 0): the description and label-mean neighbours it picks are the
  most typical texts of a label and cost 1 to 4 points at every budget;
* **no cold start** while the pool has a model (the zero-shot model of ``labelf init``; ``multi_label_cold_start``
  off): the first batch is ranked like every other one. Description neighbours plus cluster representatives gave
  0.17 micro-F1 at 32 labels, the zero-shot model's mean margin 0.37 (random: 0.26).

Single-label pools keep the composition above unchanged.

Schedule (``late_per_class``, 0 = off): once the labels average ``late_per_class`` per label, the gain is the
uncertainty alone (no density weight, no cluster spread: margin sampling with the rare quota), since plain
uncertainty sampling caught up with the combined sampler from about 1,000 labels on Banking77. Measured (one seed,
``benchmarks/README.md``): up to +5 points on TREC but -1.2 on Banking77 at 1,000 labels (switch at 6 per label),
no change on Bitext; so it stays off.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..config import SamplerConfig
from ..exceptions import StrategyError
from .base import Pool, Preset, QueryStrategy, Ranking, Selection
from .diversity import ClusterRanker, cluster, round_robin
from .uncertainty import Combine, Measure, describe_uncertainty, uncertainty_scores
from .wrappers import DescriptionQuota, LanguageCoverage, NearDuplicateFilter, RareQuota

__all__ = ["ImpactRanker", "CombinedSampler", "ColdStart", "RandomSampling", "density_scores", "DENSITY_CLUSTERS"]

#: Candidates for the diversity step need at least this share of the mean gain of the ``n`` best ones.
GAIN_FLOOR = 0.25
#: Most clusters used to measure density (fewer for small pools: about sqrt(N)).
DENSITY_CLUSTERS = 100
#: Multi-label pools: the share of the batch the rare-label quota gets (see the module doc; single-label pools use
#: ``rare_quota``).
MULTI_LABEL_RARE_QUOTA = 0.0


def density_scores(X: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(representativeness in [0, 1], cluster id) of each row: cosine to its k-means centre."""
    k = max(1, min(DENSITY_CLUSTERS, int(math.sqrt(X.shape[0]))))
    assign, centres = cluster(X, k, seed)
    dens = np.einsum("ij,ij->i", X, centres[assign])
    return np.clip(dens, 0.0, 1.0).astype(np.float64), assign


class ColdStart(Preset):
    """The first batch, before any label: description neighbours per label plus cluster representatives.

    ``LanguageCoverage(DescriptionQuota(NearDuplicateFilter(ClusterRanker()), description_share))``: every label
    first gets its best description neighbour (the whole batch, when there are more labels than picks); then, up
    to ``description_share`` of the batch, labels take further turns. These picks are the texts closest to each
    label's description (and most probable under the zero-shot model); the rest are cluster representatives.
    """

    name = "cold-start"

    def __init__(self, description_share: float = 0.5, near_duplicate_threshold: float = 0.95, *,
                 language_min_share: float = 0.02, random_state: int | None = 0) -> None:
        super().__init__(random_state=random_state)
        self.description_share = description_share
        self.near_duplicate_threshold = near_duplicate_threshold
        self.language_min_share = language_min_share

    def compose(self) -> QueryStrategy:
        t = self.near_duplicate_threshold
        clusters = NearDuplicateFilter(ClusterRanker(random_state=self.random_state), t)
        return LanguageCoverage(DescriptionQuota(clusters, self.description_share, near_duplicate_threshold=t),
                                self.language_min_share, near_duplicate_threshold=t)


class _ImpactRanking(Ranking):
    """Candidates by expected gain, the best ones spread over clusters (step 3 of the module doc)."""

    filler = {"component": "impact", "summary": "filler: too few distinct texts left"}

    def __init__(self, pool: Pool, candidates: np.ndarray, labeled: np.ndarray, rng: np.random.Generator,
                 ranker: "ImpactRanker") -> None:
        super().__init__(pool, candidates, labeled, rng)
        self.seed = int(rng.integers(2**31 - 1))
        self.parts = ranker.score(pool, candidates, self.seed)
        self.scores = self.parts["gain"]
        self.diversity_weight = ranker.diversity_weight

    def order(self, n: int, chosen: np.ndarray) -> np.ndarray:
        gain = self.scores
        cand_pos = np.flatnonzero(~np.isin(self.candidates, chosen))
        m = min(len(cand_pos), n * (1 + int(round(10 * self.diversity_weight))))
        top = cand_pos[np.argsort(-gain[cand_pos], kind="stable")[:m]]
        if len(top) > n:  # diversity trades off only among comparably valuable texts
            keep = gain[top] >= GAIN_FLOOR * gain[top[:n]].mean()
            keep[:n] = True
            top = top[keep]
        m = len(top)
        if n > 1 and m > n and self.diversity_weight > 0:
            assign, _ = cluster(self.pool.embeddings[self.candidates[top]], n, self.seed)
            best = np.full(assign.max() + 1, -np.inf)
            np.maximum.at(best, assign, gain[top])
            order = round_robin(top, assign, gain[top], np.argsort(-best, kind="stable"))
        else:
            order = top
        # candidates beyond the top m stay available (best first) if near-duplicates thin the top out
        tail = cand_pos[~np.isin(cand_pos, top)]
        return self.candidates[np.concatenate([order, tail[np.argsort(-gain[tail], kind="stable")]])]

    def reasons(self, rows: np.ndarray) -> list[dict[str, Any]]:
        return [self._reason(int(j)) for j in self.positions(rows)]

    def _reason(self, j: int) -> dict[str, Any]:
        pool, parts = self.pool, self.parts
        assert pool.proba is not None
        row = self.candidates[j]
        base = describe_uncertainty(pool.proba[row], pool.classes, int(parts["unsure"][j]),
                                    float(parts["uncertainty"][j]), pool.multi_label)
        dens = float(parts["density"][j])
        base.update({"component": "impact", "gain": round(float(parts["gain"][j]), 4), "density": round(dens, 4),
                     "region": int(parts["region"][j])})
        base["summary"] += f"; representative {dens:.2f}"
        if pool.priority is not None and pool.priority[row] > 0:
            base["summary"] += "; low-confidence traffic"
        return base


class ImpactRanker(QueryStrategy):
    """Base strategy: expected gain (density-weighted uncertainty, traffic priority), best spread over clusters.

    Only ranks; :class:`CombinedSampler` adds the rare quota, near-duplicate filtering and language coverage.
    ``multi_label_uncertainty``: how a multi-label text's per-label uncertainties make one (``"mean"``, or ``"max"``:
    its most uncertain label); single-label pools ignore it.
    """

    name = "impact"

    def __init__(self, uncertainty_weight: float = 1.0, density_weight: float = 0.5, diversity_weight: float = 1.0,
                 *, measure: Measure = "margin", multi_label_uncertainty: Combine = "mean",
                 random_state: int | None = 0) -> None:
        super().__init__(random_state=random_state)
        self.uncertainty_weight = uncertainty_weight
        self.density_weight = density_weight
        self.diversity_weight = diversity_weight
        self.measure = measure
        self.multi_label_uncertainty = multi_label_uncertainty

    def score(self, pool: Pool, indices_unlabeled: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
        """Expected gain of every unlabeled row and its parts (aligned with ``indices_unlabeled``)."""
        if pool.proba is None:
            raise StrategyError("impact ranking needs the model's probabilities (no model in the pool)")
        unc, unsure = uncertainty_scores(pool.proba[indices_unlabeled], self.measure, pool.multi_label,
                                         combine=self.multi_label_uncertainty if pool.multi_label else None)
        dens, region = density_scores(pool.embeddings[indices_unlabeled], seed)
        gain = np.power(unc, self.uncertainty_weight) * np.power(dens, self.density_weight)
        if pool.priority is not None:
            gain = gain * (1.0 + np.asarray(pool.priority, dtype=np.float64)[indices_unlabeled])
        return {"gain": gain, "uncertainty": unc, "unsure": unsure, "density": dens, "region": region}

    def rank(self, pool: Pool, candidates: np.ndarray, labeled: np.ndarray, rng: np.random.Generator) -> Ranking:
        return _ImpactRanking(pool, candidates, labeled, rng, self)


class CombinedSampler(Preset):
    """Impact ranking: rare-label quota + density-weighted uncertainty spread over clusters (see module doc).

    ``LanguageCoverage(RareQuota(NearDuplicateFilter(ImpactRanker(...)), rare_quota, rare_target))``; with no
    labels (or no model) :class:`ColdStart`. Multi-label pools: the quota is ``multi_label_rare_quota``, the
    uncertainty the ``multi_label_uncertainty`` of the per-label margins, and with a model there is no cold start
    unless ``multi_label_cold_start`` (module doc). Usage::

        sampler = CombinedSampler.from_config(cfg.sampler, random_state=7)
        sel = sampler.query(pool, unlabeled, labeled, n=50)
        sel.reasons[0]["summary"]
    """

    name = "combined"

    def __init__(self, uncertainty_weight: float = 1.0, density_weight: float = 0.5, diversity_weight: float = 1.0,
                 rare_quota: float = 0.3, rare_target: int = 10, near_duplicate_threshold: float = 0.95, *,
                 measure: Measure = "margin", language_min_share: float = 0.02, late_per_class: float = 0.0,
                 multi_label_rare_quota: float = MULTI_LABEL_RARE_QUOTA, multi_label_uncertainty: Combine = "mean",
                 multi_label_cold_start: bool = False, random_state: int | None = 0) -> None:
        super().__init__(random_state=random_state)
        self.multi_label_rare_quota = multi_label_rare_quota
        self.multi_label_uncertainty = multi_label_uncertainty
        self.multi_label_cold_start = multi_label_cold_start
        self.late_per_class = late_per_class
        self.uncertainty_weight = uncertainty_weight
        self.density_weight = density_weight
        self.diversity_weight = diversity_weight
        self.rare_quota = rare_quota
        self.rare_target = rare_target
        self.near_duplicate_threshold = near_duplicate_threshold
        self.measure = measure
        self.language_min_share = language_min_share

    @classmethod
    def from_config(cls, cfg: SamplerConfig, *, random_state: int | None = 0) -> "CombinedSampler":
        return cls(cfg.uncertainty_weight, cfg.density_weight, cfg.diversity_weight, cfg.rare_quota, cfg.rare_target,
                   cfg.near_duplicate_threshold, random_state=random_state)

    def ranker(self, late: bool = False) -> ImpactRanker:
        if late:
            return ImpactRanker(self.uncertainty_weight, 0.0, 0.0, measure=self.measure,
                                multi_label_uncertainty=self.multi_label_uncertainty, random_state=self.random_state)
        return ImpactRanker(self.uncertainty_weight, self.density_weight, self.diversity_weight,
                            measure=self.measure, multi_label_uncertainty=self.multi_label_uncertainty,
                            random_state=self.random_state)

    def compose(self, late: bool = False, multi_label: bool = False) -> QueryStrategy:
        """The composition for a single-label pool, or with ``multi_label`` a multi-label one (its rare quota)."""
        t = self.near_duplicate_threshold
        quota = self.multi_label_rare_quota if multi_label else self.rare_quota
        return LanguageCoverage(RareQuota(NearDuplicateFilter(self.ranker(late), t), quota,
                                          self.rare_target, near_duplicate_threshold=t),
                                self.language_min_share, near_duplicate_threshold=t)

    def is_late(self, pool: Pool, labeled: np.ndarray) -> bool:
        """Whether the schedule has switched to the late (uncertainty-only) gain."""
        if self.late_per_class <= 0:
            return False
        n = sum(int(r) in pool.labels for r in labeled)
        return n >= self.late_per_class * len(pool.classes)

    def cold_start(self) -> ColdStart:
        """The strategy used while there are no labels or no model."""
        return ColdStart(max(self.rare_quota, 0.5), self.near_duplicate_threshold,
                         language_min_share=self.language_min_share, random_state=self.random_state)

    def uses_cold_start(self, pool: Pool, labeled: np.ndarray) -> bool:
        """Whether this query runs :class:`ColdStart`: no model, or no labels yet (multi-label pools with a model:
        only with ``multi_label_cold_start``)."""
        if pool.proba is None:
            return True
        if any(int(r) in pool.labels for r in labeled):
            return False
        return not pool.multi_label or self.multi_label_cold_start

    def _for(self, pool: Pool, labeled: np.ndarray) -> QueryStrategy:
        if self.uses_cold_start(pool, labeled):
            return self.cold_start()
        return self.compose(self.is_late(pool, labeled), pool.multi_label)

    def score(self, pool: Pool, indices_unlabeled: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
        """Expected gain of every unlabeled row and its parts (aligned with ``indices_unlabeled``)."""
        return self.ranker().score(pool, indices_unlabeled, seed)

    def rank(self, pool: Pool, candidates: np.ndarray, labeled: np.ndarray, rng: np.random.Generator) -> Ranking:
        return self._for(pool, labeled).rank(pool, candidates, labeled, rng)

    def select(self, ranking: Ranking, n: int, chosen: np.ndarray) -> Selection:
        return self._for(ranking.pool, ranking.labeled).select(ranking, n, chosen)


class _RandomRanking(Ranking):
    """A uniform random sample of the candidates (``rng.choice``), as deep as the batch."""

    def order(self, n: int, chosen: np.ndarray) -> np.ndarray:
        rest = self.candidates[~np.isin(self.candidates, chosen)] if len(chosen) else self.candidates
        return self.rng.choice(rest, size=min(n, len(rest)), replace=False).astype(np.int64)

    def reasons(self, rows: np.ndarray) -> list[dict[str, Any]]:
        return [{"component": "random", "summary": "random pick"} for _ in rows]


class RandomSampling(QueryStrategy):
    """Uniform random picks: the baseline every other strategy is measured against."""

    name = "random"

    def rank(self, pool: Pool, candidates: np.ndarray, labeled: np.ndarray, rng: np.random.Generator) -> Ranking:
        return _RandomRanking(pool, candidates, labeled, rng)

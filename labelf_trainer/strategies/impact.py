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

The defaults (``uncertainty_weight=1``, ``density_weight=0.5``, ``diversity_weight=1``, ``rare_quota=0.3``,
``rare_target=10``) were tuned on Banking77 learning curves (``benchmarks/active_learning.py``; the variants tried
are listed in ``benchmarks/README.md``).

With no labels yet (or no model) it runs :class:`ColdStart`: description neighbours for every label (scored with
the zero-shot model's probabilities too) plus cluster representatives.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..config import SamplerConfig
from .base import Pool, QueryStrategy, Selection, cover_languages, fill_up, greedy_distinct, label_counts
from .diversity import cluster, round_robin
from .rare_class import rare_selection
from .uncertainty import Measure, describe_uncertainty, uncertainty_scores

__all__ = ["CombinedSampler", "ColdStart", "RandomSampling", "density_scores", "DENSITY_CLUSTERS"]

#: Candidates for the diversity step need at least this share of the mean gain of the ``n`` best ones.
GAIN_FLOOR = 0.25
#: Most clusters used to measure density (fewer for small pools: about sqrt(N)).
DENSITY_CLUSTERS = 100


def density_scores(X: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(representativeness in [0, 1], cluster id) of each row: cosine to its k-means centre."""
    k = max(1, min(DENSITY_CLUSTERS, int(math.sqrt(X.shape[0]))))
    assign, centres = cluster(X, k, seed)
    dens = np.einsum("ij,ij->i", X, centres[assign])
    return np.clip(dens, 0.0, 1.0).astype(np.float64), assign


class ColdStart(QueryStrategy):
    """The first batch, before any label: description neighbours per label plus cluster representatives.

    Every label first gets its best description neighbour (the whole batch, when there are more labels than picks);
    then, up to ``description_share`` of the batch, labels take further turns. These picks are the texts closest to each
    label's description (and most probable under the zero-shot model); the rest are cluster representatives.
    """

    name = "cold-start"

    def __init__(self, description_share: float = 0.5, near_duplicate_threshold: float = 0.95, *,
                 language_min_share: float = 0.02, random_state: int | None = 0) -> None:
        super().__init__(random_state=random_state)
        self.description_share = description_share
        self.near_duplicate_threshold = near_duplicate_threshold
        self.language_min_share = language_min_share

    def _query(self, pool: Pool, indices_unlabeled: np.ndarray, indices_labeled: np.ndarray, n: int,
               rng: np.random.Generator) -> Selection:
        # every label gets a description neighbour (as many as fit in the batch), then up to the share
        n_desc = min(n, max(len(pool.classes), int(round(n * self.description_share))))
        per_label = max(1, math.ceil(n_desc / len(pool.classes)))
        desc = rare_selection(pool, indices_unlabeled, indices_labeled, n_desc, rare_target=per_label,
                              threshold=self.near_duplicate_threshold, keep_going=True, rng=rng)
        for r in desc.reasons:
            r.update(component="description", summary=f"close to the description of '{r['label']}'"
                     + (f" (match {r['similarity']:.2f})" if "similarity" in r else "")
                     + (f", zero-shot p={r['p']:.2f}" if "p" in r else ""))
            r.pop("target", None)
        X = pool.embeddings[indices_unlabeled]
        rest = n - len(desc)
        assign, centres = cluster(X, rest, int(rng.integers(2**31 - 1)))
        closeness = np.einsum("ij,ij->i", X, centres[assign])
        sizes = np.bincount(assign, minlength=centres.shape[0])
        order = round_robin(indices_unlabeled, assign, closeness, np.lexsort((np.arange(len(sizes)), -sizes)))
        picks, _ = greedy_distinct(order, pool.embeddings, rest, self.near_duplicate_threshold,
                                   exclude=indices_labeled, chosen=desc.indices)
        where = {int(r): j for j, r in enumerate(indices_unlabeled)}
        pos = np.array([where[int(r)] for r in picks], dtype=np.int64)
        reasons = [{"component": "cluster", "cluster": int(assign[j]), "cluster_size": int(sizes[assign[j]]),
                    "summary": f"represents cluster {assign[j]} ({sizes[assign[j]]} similar texts)"} for j in pos]
        sel = Selection.concat([desc, Selection(picks, closeness[pos] if len(pos) else np.zeros(0), reasons)])
        sel = fill_up(sel, indices_unlabeled, closeness, n,
                      {"component": "cluster", "summary": "filler: too few distinct texts left"})
        return cover_languages(sel, pool, indices_unlabeled, closeness, min_share=self.language_min_share,
                               protected=len(desc), threshold=self.near_duplicate_threshold)


class CombinedSampler(QueryStrategy):
    """Impact ranking: rare-label quota + density-weighted uncertainty spread over clusters (see module doc).

    Usage::

        sampler = CombinedSampler.from_config(cfg.sampler, random_state=7)
        sel = sampler.query(pool, unlabeled, labeled, n=50)
        sel.reasons[0]["summary"]
    """

    name = "combined"

    def __init__(self, uncertainty_weight: float = 1.0, density_weight: float = 0.5, diversity_weight: float = 1.0,
                 rare_quota: float = 0.3, rare_target: int = 10, near_duplicate_threshold: float = 0.95, *,
                 measure: Measure = "margin", language_min_share: float = 0.02,
                 random_state: int | None = 0) -> None:
        super().__init__(random_state=random_state)
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

    def score(self, pool: Pool, indices_unlabeled: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
        """Expected gain of every unlabeled row and its parts (aligned with ``indices_unlabeled``)."""
        assert pool.proba is not None
        unc, unsure = uncertainty_scores(pool.proba[indices_unlabeled], self.measure, pool.multi_label)
        dens, region = density_scores(pool.embeddings[indices_unlabeled], seed)
        gain = np.power(unc, self.uncertainty_weight) * np.power(dens, self.density_weight)
        if pool.priority is not None:
            gain = gain * (1.0 + np.asarray(pool.priority, dtype=np.float64)[indices_unlabeled])
        return {"gain": gain, "uncertainty": unc, "unsure": unsure, "density": dens, "region": region}

    def _query(self, pool: Pool, indices_unlabeled: np.ndarray, indices_labeled: np.ndarray, n: int,
               rng: np.random.Generator) -> Selection:
        if pool.proba is None or not any(int(r) in pool.labels for r in indices_labeled):
            cold = ColdStart(max(self.rare_quota, 0.5), self.near_duplicate_threshold,
                             language_min_share=self.language_min_share, random_state=self.random_state)
            return cold._query(pool, indices_unlabeled, indices_labeled, n, rng)
        seed = int(rng.integers(2**31 - 1))
        # 1. rare quota
        counts = label_counts(pool, indices_labeled)
        deficit = int(np.maximum(self.rare_target - counts, 0).sum())
        n_rare = min(int(round(self.rare_quota * n)), deficit)
        rare = rare_selection(pool, indices_unlabeled, indices_labeled, n_rare, rare_target=self.rare_target,
                              threshold=self.near_duplicate_threshold, rng=rng)
        rest = n - len(rare)
        # 2. expected gain
        parts = self.score(pool, indices_unlabeled, seed)
        gain = parts["gain"]
        free = ~np.isin(indices_unlabeled, rare.indices)
        cand_pos = np.flatnonzero(free)
        # 3. diversity over the most valuable candidates
        m = min(len(cand_pos), rest * (1 + int(round(10 * self.diversity_weight))))
        top = cand_pos[np.argsort(-gain[cand_pos], kind="stable")[:m]]
        if len(top) > rest:  # diversity trades off only among comparably valuable texts
            keep = gain[top] >= GAIN_FLOOR * gain[top[:rest]].mean()
            keep[:rest] = True
            top = top[keep]
        m = len(top)
        if rest > 1 and m > rest and self.diversity_weight > 0:
            assign, _ = cluster(pool.embeddings[indices_unlabeled[top]], rest, seed)
            best = np.full(assign.max() + 1, -np.inf)
            np.maximum.at(best, assign, gain[top])
            order = round_robin(top, assign, gain[top], np.argsort(-best, kind="stable"))
        else:
            order = top
        # candidates beyond the top m stay available (best first) if near-duplicates thin the top out
        tail = cand_pos[~np.isin(cand_pos, top)]
        order = np.concatenate([order, tail[np.argsort(-gain[tail], kind="stable")]])
        rows, _ = greedy_distinct(indices_unlabeled[order], pool.embeddings, rest, self.near_duplicate_threshold,
                                  exclude=indices_labeled, chosen=rare.indices)
        where = {int(r): j for j, r in enumerate(indices_unlabeled)}
        pos = np.array([where[int(r)] for r in rows], dtype=np.int64)
        reasons = [self._reason(pool, indices_unlabeled, parts, int(j)) for j in pos]
        main = Selection(rows, gain[pos] if len(pos) else np.zeros(0), reasons)
        sel = Selection.concat([rare, main])
        sel = fill_up(sel, indices_unlabeled, gain, n,
                      {"component": "impact", "summary": "filler: too few distinct texts left"})
        return cover_languages(sel, pool, indices_unlabeled, gain, min_share=self.language_min_share,
                               protected=len(rare), threshold=self.near_duplicate_threshold)

    def _reason(self, pool: Pool, indices_unlabeled: np.ndarray, parts: dict[str, np.ndarray], j: int
                ) -> dict[str, Any]:
        assert pool.proba is not None
        base = describe_uncertainty(pool.proba[indices_unlabeled[j]], pool.classes, int(parts["unsure"][j]),
                                    float(parts["uncertainty"][j]), pool.multi_label)
        dens = float(parts["density"][j])
        base.update({"component": "impact", "gain": round(float(parts["gain"][j]), 4), "density": round(dens, 4),
                     "region": int(parts["region"][j])})
        base["summary"] += f"; representative {dens:.2f}"
        if pool.priority is not None and pool.priority[indices_unlabeled[j]] > 0:
            base["summary"] += "; low-confidence traffic"
        return base


class RandomSampling(QueryStrategy):
    """Uniform random picks: the baseline every other strategy is measured against."""

    name = "random"

    def _query(self, pool: Pool, indices_unlabeled: np.ndarray, indices_labeled: np.ndarray, n: int,
               rng: np.random.Generator) -> Selection:
        rows = rng.choice(indices_unlabeled, size=n, replace=False)
        return Selection(rows.astype(np.int64), np.zeros(n), [{"component": "random", "summary": "random pick"}
                                                             for _ in range(n)])

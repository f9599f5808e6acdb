"""Wrappers: strategies around a base strategy that change how the batch is selected from the base's ranking.

In the way of small-text's ``SubsamplingQueryStrategy(base_query_strategy, ...)`` and
``ClassBalancer(base_query_strategy, ...)``, a wrapper delegates :meth:`~.base.QueryStrategy.rank` to its base and
overrides only :meth:`~.base.QueryStrategy.select`:

* :class:`NearDuplicateFilter` walks the base's order and skips near-duplicates of the batch and of the labeled
  texts, then fills a short batch with the best remaining candidates;
* :class:`RareQuota` gives part of the batch to labels with few annotations first (rare-class search), the base
  picks the rest;
* :class:`DescriptionQuota` (cold start) gives every label its description neighbours first, the base the rest;
* :class:`LanguageCoverage` makes the batch cover every language holding at least ``min_share`` of the candidates.

Quota picks come first in the batch and are ``protected``: language coverage never replaces them.

Usage::

    strategy = LanguageCoverage(RareQuota(NearDuplicateFilter(ImpactRanker(), 0.95), quota=0.3, target=10))
    sel = strategy.query(pool, unlabeled, labeled, n=50)
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from ..exceptions import StrategyError
from .base import (Pool, QueryStrategy, Ranking, Selection, cover_languages, greedy_distinct, label_counts)
from .rare_class import rare_selection

__all__ = ["Wrapper", "NearDuplicateFilter", "RareQuota", "DescriptionQuota", "LanguageCoverage"]


class Wrapper(QueryStrategy):
    """A strategy around ``base``: the ranking is the base's, the selection the wrapper's.

    Name and seed (``random_state``) are the base's.
    """

    def __init__(self, base: QueryStrategy) -> None:
        self.base = base

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.base.name

    @property
    def random_state(self) -> int | None:  # type: ignore[override]
        return self.base.random_state

    def rank(self, pool: Pool, candidates: np.ndarray, labeled: np.ndarray, rng: np.random.Generator) -> Ranking:
        return self.base.rank(pool, candidates, labeled, rng)


class NearDuplicateFilter(Wrapper):
    """Take the base's order, skipping texts with cosine >= ``threshold`` to a pick of the batch or a labeled text.

    When too few distinct texts are left, the batch is filled up with the best-scoring remaining candidates. The
    base must only rank (its own selection would be bypassed): wrap it directly.
    """

    def __init__(self, base: QueryStrategy, threshold: float = 0.95) -> None:
        if type(base).select is not QueryStrategy.select:
            raise StrategyError(f"NearDuplicateFilter walks the order of a base strategy that only ranks; "
                                f"{type(base).__name__} selects by itself")
        super().__init__(base)
        self.threshold = threshold

    def select(self, ranking: Ranking, n: int, chosen: np.ndarray) -> Selection:
        order = ranking.order(n, chosen)
        if len(chosen):
            order = order[~np.isin(order, chosen)]
        rows, _ = greedy_distinct(order, ranking.pool.embeddings, n, self.threshold, exclude=ranking.labeled,
                                  chosen=chosen)
        sel = ranking.take(rows)
        if len(sel) < n:  # too few distinct texts: the best of the rest
            extra = ranking.best(n - len(sel), np.concatenate([chosen, rows]))
            sel = Selection.concat([sel, ranking.take(extra, ranking.filler)])
        return sel


def _rest_from_base(base: QueryStrategy, ranking: Ranking, quota: Selection, n: int,
                    chosen: np.ndarray) -> Selection:
    """The quota picks, then the base's picks for the rest of the batch; the quota picks are protected."""
    if len(quota) >= n:
        return replace(quota, protected=len(quota))
    main = base.select(ranking, n - len(quota), np.concatenate([chosen, quota.indices]))
    return replace(Selection.concat([quota, main]), protected=len(quota) + main.protected)


class RareQuota(Wrapper):
    """Up to ``quota * n`` picks go first to labels with fewer than ``target`` annotations; the base picks the rest.

    The rare picks are :func:`.rare_class.rare_selection`: labels take turns (fewest annotations first) until each
    reaches ``target``, skipping near-duplicates (cosine >= ``near_duplicate_threshold``) of the batch and of
    labeled texts. With ``keep_going`` the quota is not capped by what the labels lack: once every label has
    reached the target, the labels with the fewest annotations keep getting picks.
    """

    def __init__(self, base: QueryStrategy, quota: float = 0.3, target: int = 10, *,
                 near_duplicate_threshold: float = 0.95, keep_going: bool = False) -> None:
        super().__init__(base)
        self.quota = quota
        self.target = target
        self.near_duplicate_threshold = near_duplicate_threshold
        self.keep_going = keep_going

    def select(self, ranking: Ranking, n: int, chosen: np.ndarray) -> Selection:
        r = ranking
        size = int(round(self.quota * n))
        if not self.keep_going:
            size = min(size, int(np.maximum(self.target - label_counts(r.pool, r.labeled), 0).sum()))
        rare = rare_selection(r.pool, r.candidates, r.labeled, size, rare_target=self.target,
                              threshold=self.near_duplicate_threshold, chosen=chosen, keep_going=self.keep_going,
                              rng=r.rng)
        return _rest_from_base(self.base, ranking, rare, n, chosen)


class DescriptionQuota(Wrapper):
    """Cold start: the texts closest to each label's description come first; the base picks the rest.

    Every label gets its best description neighbour (the whole batch when there are more labels than picks);
    then, up to ``share`` of the batch, labels take further turns. Neighbours are ranked by similarity to the
    label's description and by the (zero-shot) model's probability, as in :func:`.rare_class.rare_selection`.
    """

    def __init__(self, base: QueryStrategy, share: float = 0.5, *, near_duplicate_threshold: float = 0.95) -> None:
        super().__init__(base)
        self.share = share
        self.near_duplicate_threshold = near_duplicate_threshold

    def select(self, ranking: Ranking, n: int, chosen: np.ndarray) -> Selection:
        r = ranking
        n_labels = len(r.pool.classes)
        size = min(n, max(n_labels, int(round(n * self.share))))
        per_label = max(1, math.ceil(size / n_labels))
        desc = rare_selection(r.pool, r.candidates, r.labeled, size, rare_target=per_label,
                              threshold=self.near_duplicate_threshold, chosen=chosen, keep_going=True, rng=r.rng)
        for reason in desc.reasons:
            reason.update(component="description",
                          summary=f"close to the description of '{reason['label']}'"
                          + (f" (match {reason['similarity']:.2f})" if "similarity" in reason else "")
                          + (f", zero-shot p={reason['p']:.2f}" if "p" in reason else "")
                          + (", keyword rule" if reason.get("rule") else ""))
            reason.pop("target", None)
        return _rest_from_base(self.base, ranking, desc, n, chosen)


class LanguageCoverage(Wrapper):
    """Make the base's batch cover every language holding at least ``min_share`` of the candidates.

    For each missing language the lowest-ranked unprotected pick gives way to that language's best-scoring
    candidate that is not a near-duplicate (cosine >= ``near_duplicate_threshold``) of the batch; every language
    already in the batch keeps a pick (:func:`.base.cover_languages`). Pools without languages are unchanged.
    """

    def __init__(self, base: QueryStrategy, min_share: float = 0.02, *,
                 near_duplicate_threshold: float = 0.95) -> None:
        super().__init__(base)
        self.min_share = min_share
        self.near_duplicate_threshold = near_duplicate_threshold

    def select(self, ranking: Ranking, n: int, chosen: np.ndarray) -> Selection:
        sel = self.base.select(ranking, n, chosen)
        if sel.protected >= len(sel):
            return sel
        return cover_languages(sel, ranking.pool, ranking.candidates, ranking.scores, min_share=self.min_share,
                               protected=sel.protected, threshold=self.near_duplicate_threshold, chosen=chosen)

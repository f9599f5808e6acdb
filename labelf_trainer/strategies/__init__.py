"""Query strategies: which unlabeled texts to label next.

Every strategy takes a :class:`Pool` (cached embeddings, the model's probabilities, the labeled rows) plus index
arrays and returns a :class:`Selection` (indices, scores, reasons). ``labelf suggest`` and
``benchmarks/active_learning.py`` build them with :func:`make_strategy`.

Scoring is separate from selection. Base strategies only rank the candidates (a :class:`Ranking`):
:class:`UncertaintyRanker`, :class:`ClusterRanker`, :class:`ImpactRanker`, :class:`RandomSampling`. Wrappers
(:mod:`.wrappers`) take a base strategy and change how the batch is selected from its ranking:

* :class:`NearDuplicateFilter` ``(base, threshold)``: skip near-duplicates of the batch and of labeled texts, fill
  a short batch with the best of the rest;
* :class:`RareQuota` ``(base, quota, target)``: part of the batch to labels with few annotations first;
* :class:`DescriptionQuota` ``(base, share)``: cold start, every label's description neighbours first;
* :class:`LanguageCoverage` ``(base, min_share)``: every language with at least ``min_share`` of the pool gets a
  pick.

The named strategies are presets, compositions of the two: :class:`UncertaintySampling` (and
:class:`LeastConfidence`, :class:`MarginSampling`, :class:`EntropySampling`), :class:`Diversity`,
:class:`RareClassSearch`, :class:`ColdStart` and :class:`CombinedSampler`.
"""

from __future__ import annotations

from ..config import SamplerConfig
from .base import (EmptyPoolError, Pool, PoolExhaustedError, Preset, QueryStrategy, Ranking, Selection, argselect,
                   check_query_input, cover_languages, greedy_distinct, label_counts)
from .diversity import ClusterRanker, Diversity, cluster
from .impact import ColdStart, CombinedSampler, ImpactRanker, RandomSampling
from .rare_class import RareClassSearch, rare_selection
from .uncertainty import (EntropySampling, LeastConfidence, MarginSampling, UncertaintyRanker, UncertaintySampling,
                          uncertainty_scores)
from .wrappers import DescriptionQuota, LanguageCoverage, NearDuplicateFilter, RareQuota, Wrapper

__all__ = [
    "Pool", "Selection", "Ranking", "QueryStrategy", "Preset", "EmptyPoolError", "PoolExhaustedError", "argselect",
    "check_query_input", "greedy_distinct", "label_counts", "cover_languages", "cluster", "rare_selection",
    "uncertainty_scores",
    "UncertaintyRanker", "ClusterRanker", "ImpactRanker", "RandomSampling",
    "Wrapper", "NearDuplicateFilter", "RareQuota", "DescriptionQuota", "LanguageCoverage",
    "UncertaintySampling", "LeastConfidence", "MarginSampling", "EntropySampling", "Diversity", "RareClassSearch",
    "CombinedSampler", "ColdStart", "STRATEGIES", "make_strategy",
]

#: Names accepted by ``labelf suggest --strategy``.
STRATEGIES = ("combined", "uncertainty", "diversity", "rare", "random")


def make_strategy(name: str, cfg: SamplerConfig | None = None, *, random_state: int | None = 0) -> QueryStrategy:
    """The strategy called ``name``, configured from the project's ``sampler`` section."""
    from ..exceptions import StrategyError

    cfg = cfg or SamplerConfig()
    if name == "combined":
        return CombinedSampler.from_config(cfg, random_state=random_state)
    if name == "uncertainty":
        return MarginSampling(near_duplicate_threshold=cfg.near_duplicate_threshold, random_state=random_state)
    if name == "diversity":
        return Diversity(cfg.near_duplicate_threshold, random_state=random_state)
    if name == "rare":
        return RareClassSearch(cfg.rare_target, cfg.near_duplicate_threshold, random_state=random_state)
    if name == "random":
        return RandomSampling(random_state=random_state)
    raise StrategyError(f"unknown strategy {name!r}; use one of: {', '.join(STRATEGIES)}")

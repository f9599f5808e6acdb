"""Query strategies: which unlabeled texts to label next.

Every strategy takes a :class:`Pool` (cached embeddings, the model's probabilities, the labeled rows) plus index
arrays and returns a :class:`Selection` (indices, scores, reasons). ``labelf suggest`` and
``benchmarks/active_learning.py`` build them with :func:`make_strategy`.
"""

from __future__ import annotations

from ..config import SamplerConfig
from .base import (EmptyPoolError, Pool, PoolExhaustedError, QueryStrategy, Selection, argselect,
                   check_query_input, greedy_distinct)
from .diversity import Diversity
from .impact import ColdStart, CombinedSampler, RandomSampling
from .rare_class import RareClassSearch
from .uncertainty import EntropySampling, LeastConfidence, MarginSampling, UncertaintySampling

__all__ = [
    "Pool", "Selection", "QueryStrategy", "EmptyPoolError", "PoolExhaustedError", "argselect", "check_query_input",
    "greedy_distinct", "UncertaintySampling", "LeastConfidence", "MarginSampling", "EntropySampling", "Diversity",
    "RareClassSearch", "CombinedSampler", "ColdStart", "RandomSampling", "STRATEGIES", "make_strategy",
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

"""Rare-class search: find texts for labels that have few or no annotations yet.

For every label below ``rare_target`` annotations, candidates are scored by two signals, each standardized over the
candidates (z-score) and summed with equal weight:

* similarity to the label's query vector: the normalized sum of its embedded description (``LabelSpec.prompt``)
  and the mean of its labeled examples' embeddings (whichever exist);
* the current model's probability for that label (left out where it is ~constant, e.g. a label the model
  was trained without).

Labels take turns (fewest annotations first), each getting picks until it would reach ``rare_target``; no text is
picked twice nor is a near-duplicate of the batch or of a labeled text. Candidates are scored per label only when
that label gets its first turn, and sorted only as deep as its turns need (:func:`rare_selection`).

:func:`rare_selection` is what :class:`~.wrappers.RareQuota` reserves part of a batch with. The stand-alone
:class:`RareClassSearch` gives it the whole batch and, when every label has reached the target, keeps searching
for the labels with the fewest annotations.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..embeddings import normalize
from .base import Pool, Preset, QueryStrategy, Ranking, Selection, argselect, greedy_distinct, label_counts

__all__ = ["RareClassSearch", "rare_label_scores", "rare_selection"]


#: The model's probability for a label counts only if it varies at least this much over the candidates: a model
#: trained without examples of the label gives it ~0 everywhere, and standardizing that would amplify noise.
MIN_P_SPREAD = 0.05
#: Added to the (z-scored) score of a candidate that a keyword rule marks for the label (``rules:`` in the config):
#: it exceeds any spread of the z-scored signals, so rule hits come first, ordered by those signals.
RULE_BONUS = 10.0
#: Candidates sorted per label at first (more are sorted only if near-duplicates use them up).
TOP_K = 512


def _z(x: np.ndarray) -> np.ndarray:
    sd = x.std()
    return (x - x.mean()) / sd if sd > 1e-12 else np.zeros_like(x)


def rare_label_scores(pool: Pool, candidates: np.ndarray, indices_labeled: np.ndarray,
                      label: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Score of each candidate for one label (higher = more likely that label) and the signals behind it."""
    parts: list[np.ndarray] = []
    if pool.label_embeddings is not None:
        parts.append(pool.label_embeddings[label])
    name = pool.classes[label]
    examples = [int(r) for r in indices_labeled if name in pool.labels.get(int(r), ())]
    if examples:
        parts.append(normalize(pool.embeddings[examples].mean(axis=0, keepdims=True))[0])
    signals: dict[str, np.ndarray] = {}
    score = np.zeros(len(candidates))
    if parts:
        q = normalize(np.sum(parts, axis=0, keepdims=True))[0]
        signals["similarity"] = (pool.embeddings @ q)[candidates]  # no copy of the candidates' embeddings
        score += _z(signals["similarity"].astype(np.float64))
    if pool.proba is not None:
        signals["p"] = pool.proba[candidates, label].astype(np.float64)
        if signals["p"].max() - signals["p"].min() >= MIN_P_SPREAD or not parts:
            score += _z(signals["p"])
    if pool.rule_hits is not None and pool.rule_hits[candidates, label].any():
        signals["rule"] = pool.rule_hits[candidates, label].astype(np.float64)
        score += RULE_BONUS * signals["rule"]  # a text a keyword rule marks for the label goes first
    return score, signals


def rare_selection(pool: Pool, candidates: np.ndarray, indices_labeled: np.ndarray, n: int, *, rare_target: int,
                   threshold: float, chosen: np.ndarray | None = None, keep_going: bool = False,
                   rng: np.random.Generator | None = None) -> Selection:
    """Up to ``n`` picks for labels under ``rare_target`` annotations (all labels by fewest, if ``keep_going``).

    Labels with equal counts take turns in a random order drawn from ``rng`` (label order without one).
    """
    counts = label_counts(pool, indices_labeled)
    deficit = np.maximum(rare_target - counts, 0)
    if keep_going and deficit.sum() == 0:
        deficit = np.full(len(counts), n)  # everyone reached the target: keep feeding the smallest labels
    tie = rng.permutation(len(counts)) if rng is not None else np.arange(len(counts))
    labels = [int(c) for c in np.lexsort((tie, counts)) if deficit[c] > 0]
    if not labels or n <= 0:
        return Selection.concat([])
    if pool.label_embeddings is None and pool.proba is None and not len(indices_labeled):
        return Selection.concat([])
    ranked: dict[int, tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]] = {}

    def ranking(c: int, need: int) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Candidates of label ``c`` best first: scored on first use, sorted only as deep as needed."""
        if c not in ranked:
            s, sig = rare_label_scores(pool, candidates, indices_labeled, c)
            ranked[c] = (np.zeros(0, dtype=np.int64), s, sig)
        order, s, sig = ranked[c]
        if need > len(order) and len(order) < len(s):
            k = min(len(s), max(2 * need, TOP_K))
            top = np.argpartition(-s, k - 1)[:k] if k < len(s) else np.arange(len(s))
            order = top[np.lexsort((top, -s[top]))]  # best first, ties by position (deterministic)
            ranked[c] = (order, s, sig)
        return ranked[c]

    picked: list[int] = []
    reasons: list[dict[str, Any]] = []
    scores: list[float] = []
    cursor = {c: 0 for c in labels}
    given = {c: 0 for c in labels}
    before = np.asarray(chosen if chosen is not None else [], dtype=np.int64)
    active = list(labels)
    while len(picked) < n and active:
        for c in list(active):
            if len(picked) >= n:
                break
            taken = np.asarray(picked + before.tolist(), dtype=np.int64)
            found = None
            while True:
                # look ahead in small windows so near-duplicate checks stay cheap
                order, s, sig = ranking(c, cursor[c] + 64)
                if cursor[c] >= len(order):
                    break
                window = order[cursor[c]:cursor[c] + 64]
                rows = candidates[window]
                fresh = ~np.isin(rows, taken)
                got, _ = greedy_distinct(rows[fresh], pool.embeddings, 1, threshold, exclude=indices_labeled,
                                         chosen=taken)
                if len(got):
                    at = int(np.flatnonzero(rows == got[0])[0])
                    found = int(window[at])
                    cursor[c] += at + 1
                    break
                cursor[c] += len(window)
            if found is None:
                active.remove(c)
                continue
            name = pool.classes[c]
            info = {k: round(float(v[found]), 4) for k, v in sig.items()}
            picked.append(int(candidates[found]))
            scores.append(float(s[found]))
            reasons.append({"component": "rare", "label": name, "labeled": int(counts[c]), "target": rare_target,
                            **info, "summary": f"rare label '{name}' ({counts[c]}/{rare_target} labeled)"
                            + (f", description match {info['similarity']:.2f}" if "similarity" in info else "")
                            + (f", p={info['p']:.2f}" if "p" in info else "")
                            + (", keyword rule" if info.get("rule") else "")})
            given[c] += 1
            if given[c] >= deficit[c]:
                active.remove(c)
    return Selection(np.asarray(picked, dtype=np.int64), np.asarray(scores), reasons)


class _RandomFillRanking(Ranking):
    """Uniform random order (fresh noise scores), for the rest of a batch once every label ran out of candidates."""

    filler = {"component": "random", "summary": "filler: no more rare-label candidates"}

    def order(self, n: int, chosen: np.ndarray) -> np.ndarray:
        self.scores = self.rng.random(len(self.candidates))
        rest = np.flatnonzero(~np.isin(self.candidates, chosen))
        return self.candidates[rest[argselect(self.scores[rest], n)]]

    def reasons(self, rows: np.ndarray) -> list[dict[str, Any]]:
        return [dict(self.filler) for _ in rows]


class _RandomFill(QueryStrategy):
    """Base strategy of :class:`RareClassSearch`: random picks for what the rare labels leave."""

    name = "rare"

    def rank(self, pool: Pool, candidates: np.ndarray, labeled: np.ndarray, rng: np.random.Generator) -> Ranking:
        return _RandomFillRanking(pool, candidates, labeled, rng)


class RareClassSearch(Preset):
    """The whole batch goes to the labels with the fewest annotations.

    ``RareQuota(random, quota=1, target=rare_target, keep_going=True)``: random picks only where the labels run out
    of distinct candidates. Usage::

        sel = RareClassSearch(rare_target=10).query(pool, unlabeled, labeled, n=50)
    """

    name = "rare"

    def __init__(self, rare_target: int = 10, near_duplicate_threshold: float = 0.95, *,
                 random_state: int | None = 0) -> None:
        super().__init__(random_state=random_state)
        self.rare_target = rare_target
        self.near_duplicate_threshold = near_duplicate_threshold

    def compose(self) -> QueryStrategy:
        from .wrappers import RareQuota  # wrappers imports this module (rare_selection)

        return RareQuota(_RandomFill(random_state=self.random_state), 1.0, self.rare_target,
                         near_duplicate_threshold=self.near_duplicate_threshold, keep_going=True)

"""The interface every query strategy shares, the pool view it reads, and the helpers they have in common.

A strategy owns no data (the shape of small-text's ``query(clf, dataset, indices_unlabeled, indices_labeled, y, n)``):
the caller builds one :class:`Pool` (cached embeddings, the model's probabilities, the labels of the labeled rows)
and passes index arrays into it; the strategy returns a :class:`Selection` of row indices with a score and a
JSON-able reason per pick. No strategy embeds a text or calls a model.

Scoring is separate from selection: :meth:`QueryStrategy.rank` turns the candidates into a :class:`Ranking`
(scores, an order, reasons) and :meth:`QueryStrategy.select` picks the batch from it. Base strategies only rank;
wrappers (:mod:`.wrappers`) change the selection; a :class:`Preset` is a named composition of both.

Errors (all :class:`~labelf_trainer.exceptions.StrategyError`)::

    StrategyError
    ├── EmptyPoolError        no unlabeled candidates at all
    └── PoolExhaustedError    fewer unlabeled candidates than requested ("available / requested")
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..exceptions import StrategyError

__all__ = [
    "Pool",
    "Selection",
    "Ranking",
    "QueryStrategy",
    "Preset",
    "EmptyPoolError",
    "PoolExhaustedError",
    "argselect",
    "check_query_input",
    "greedy_distinct",
    "label_counts",
    "cover_languages",
]


class EmptyPoolError(StrategyError):
    """There is no unlabeled text left to suggest."""


class PoolExhaustedError(StrategyError):
    """Fewer unlabeled texts than the batch size asked for."""


@dataclass
class Pool:
    """What strategies read: one row per text, labeled and unlabeled alike.

    ``embeddings``: (N, d) L2-normalized float32 from the project's encoder (through the cache).
    ``proba``: (N, C) scores of the current model, columns in ``classes`` order; ``None`` when there is no model.
    Rows of labeled texts are never read for scoring, so callers may fill them with anything (zeros).
    ``labels``: row index -> labels of the labeled rows. ``label_embeddings``: (C, d) embedded label descriptions
    (``LabelSpec.prompt``), used by the rare-class and cold-start searches. ``languages``: ISO 639-1 code per row
    (``"unknown"`` allowed) or ``None``. ``priority``: per-row boost >= 0 (e.g. low-confidence service traffic).
    ``rule_hits``: (N, C) booleans, a keyword rule of label c marks row r (the config's ``rules:``), or ``None``.
    """

    embeddings: np.ndarray
    classes: list[str]
    proba: np.ndarray | None = None
    labels: dict[int, tuple[str, ...]] = field(default_factory=dict)
    label_embeddings: np.ndarray | None = None
    languages: Sequence[str] | None = None
    priority: np.ndarray | None = None
    ids: Sequence[str] | None = None
    multi_label: bool = False
    rule_hits: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = self.embeddings.shape[0]
        if self.proba is not None and self.proba.shape != (n, len(self.classes)):
            raise StrategyError(f"proba has shape {self.proba.shape}, expected ({n}, {len(self.classes)})")
        if self.label_embeddings is not None and self.label_embeddings.shape[0] != len(self.classes):
            raise StrategyError(f"label_embeddings has {self.label_embeddings.shape[0]} rows for "
                                f"{len(self.classes)} classes")
        if self.rule_hits is not None and self.rule_hits.shape != (n, len(self.classes)):
            raise StrategyError(f"rule_hits has shape {self.rule_hits.shape}, expected ({n}, {len(self.classes)})")
        for name, seq in (("languages", self.languages), ("priority", self.priority), ("ids", self.ids)):
            if seq is not None and len(seq) != n:
                raise StrategyError(f"{name} has {len(seq)} entries for {n} pool rows")

    def __len__(self) -> int:
        return int(self.embeddings.shape[0])


@dataclass
class Selection:
    """Picked row indices (best first), one score and one reason (a JSON-able dict with a ``summary``) each.

    ``protected``: how many leading picks a quota reserved (rare labels, label descriptions); later stages such as
    language coverage keep them.
    """

    indices: np.ndarray
    scores: np.ndarray
    reasons: list[dict[str, Any]]
    protected: int = 0

    def __len__(self) -> int:
        return len(self.indices)

    @classmethod
    def concat(cls, parts: Sequence["Selection"]) -> "Selection":
        """The picks of ``parts`` in order (``protected`` is 0: the caller knows what to protect)."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls(np.zeros(0, dtype=np.int64), np.zeros(0), [])
        return cls(np.concatenate([p.indices for p in parts]).astype(np.int64),
                   np.concatenate([p.scores for p in parts]).astype(np.float64),
                   [r for p in parts for r in p.reasons])


def check_query_input(pool: Pool, indices_unlabeled: np.ndarray, n: int) -> np.ndarray:
    """Validate once, before any work: ``n >= 1``, indices in range and unique, enough candidates."""
    iu = np.asarray(indices_unlabeled, dtype=np.int64).ravel()
    if n < 1:
        raise StrategyError(f"batch size must be at least 1, got {n}")
    if iu.size == 0:
        raise EmptyPoolError("the pool has no unlabeled texts left to suggest (available: 0 / requested: "
                             f"{n}); import more texts or expire pending batches")
    if iu.min() < 0 or iu.max() >= len(pool):
        raise StrategyError(f"unlabeled indices out of range for a pool of {len(pool)} rows")
    if np.unique(iu).size != iu.size:
        raise StrategyError("unlabeled indices contain duplicates")
    if iu.size < n:
        raise PoolExhaustedError(f"not enough unlabeled texts: available {iu.size} / requested {n}")
    return iu


def argselect(values: np.ndarray, n: int, *, maximum: bool = True, rng: np.random.Generator | None = None,
              tiebreak: np.ndarray | None = None) -> np.ndarray:
    """Positions of the ``n`` largest (or smallest) values, best first, ties broken at random by ``rng``.

    Without ``rng`` ties go by ``tiebreak`` (smaller first), or else keep their original order (deterministic).
    """
    values = np.asarray(values, dtype=np.float64)
    n = min(n, values.size)
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    key = -values if maximum else values
    if rng is not None and tiebreak is not None:
        raise StrategyError("argselect takes rng or tiebreak, not both")
    if rng is not None:
        tiebreak = rng.random(values.size)
    elif tiebreak is None:
        tiebreak = np.arange(values.size, dtype=np.float64)
    if n < values.size:
        # narrow to everything that could be in the top n (ties at the boundary included), then sort fully
        kth = np.partition(key, n - 1)[n - 1]
        cand = np.flatnonzero(key <= kth)
    else:
        cand = np.arange(values.size)
    order = cand[np.lexsort((tiebreak[cand], key[cand]))]
    return order[:n].astype(np.int64)


def greedy_distinct(order: np.ndarray, embeddings: np.ndarray, n: int, threshold: float,
                    exclude: np.ndarray | None = None, chosen: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Walk ``order`` (row indices, best first) and keep up to ``n`` rows that are not near-duplicates.

    A row is skipped if its cosine similarity is >= ``threshold`` to a row already kept, to a row of ``chosen``
    (picked earlier in the same batch) or to any row of ``exclude`` (e.g. the labeled texts). Embeddings must be
    L2-normalized. Returns (kept rows, number skipped). Work is done in chunks, so only as much of ``order`` is
    compared as is needed to fill the batch.
    """
    kept: list[int] = []
    skipped = 0
    if n <= 0:
        return np.zeros(0, dtype=np.int64), 0
    ref = embeddings[exclude] if exclude is not None and len(exclude) else None
    picked = [embeddings[chosen]] if chosen is not None and len(chosen) else []
    picked_mat = np.concatenate(picked) if picked else np.zeros((0, embeddings.shape[1]), dtype=embeddings.dtype)
    step = max(4 * n, 256)
    for start in range(0, len(order), step):
        rows = np.asarray(order[start:start + step], dtype=np.int64)
        X = embeddings[rows]
        ok = np.ones(len(rows), dtype=bool)
        if ref is not None:
            for s in range(0, len(ref), 4096):
                ok &= (X @ ref[s:s + 4096].T).max(axis=1) < threshold
        for j in range(len(rows)):
            if not ok[j]:
                skipped += 1
                continue
            if picked_mat.shape[0] and float((picked_mat @ X[j]).max()) >= threshold:
                skipped += 1
                continue
            kept.append(int(rows[j]))
            picked_mat = np.vstack([picked_mat, X[j:j + 1]])
            if len(kept) == n:
                return np.asarray(kept, dtype=np.int64), skipped
    return np.asarray(kept, dtype=np.int64), skipped


def label_counts(pool: Pool, indices_labeled: np.ndarray) -> np.ndarray:
    """Number of labeled rows per class (``classes`` order); a multi-label row counts for each of its labels."""
    index = {c: i for i, c in enumerate(pool.classes)}
    counts = np.zeros(len(pool.classes), dtype=np.int64)
    for r in np.asarray(indices_labeled, dtype=np.int64):
        for lab in pool.labels.get(int(r), ()):
            if lab in index:
                counts[index[lab]] += 1
    return counts


def cover_languages(sel: Selection, pool: Pool, candidates: np.ndarray, scores: np.ndarray, *,
                    min_share: float = 0.02, protected: int = 0, threshold: float = 1.01,
                    chosen: np.ndarray | None = None) -> Selection:
    """Make the batch cover every language holding at least ``min_share`` of the candidates.

    For each such language missing from the batch (most frequent first, while the batch has room), the lowest-
    ranked pick (never one of the first ``protected`` picks) is replaced by that language's best-scoring candidate
    (``scores`` aligned with ``candidates``) that is not a near-duplicate (cosine >= ``threshold``) of the batch
    nor one of (or a near-duplicate of) ``chosen`` (rows picked earlier in the same batch).
    ``"unknown"`` is not a language to cover.
    """
    if pool.languages is None or len(sel) == 0:
        return sel
    langs = np.asarray(pool.languages, dtype=object)
    cand_langs = langs[candidates]
    counts = Counter(lang for lang in cand_langs if lang != "unknown")
    need = [lang for lang, c in counts.most_common() if c >= max(1.0, min_share * len(candidates))]
    have = set(langs[sel.indices])
    missing = [lang for lang in need if lang not in have]
    if not missing:
        return sel
    indices, sc, reasons = sel.indices.copy(), sel.scores.copy(), list(sel.reasons)
    replaceable = [j for j in range(len(indices) - 1, protected - 1, -1)]
    before = np.asarray(chosen if chosen is not None else [], dtype=np.int64)
    taken = set(indices.tolist()) | set(before.tolist())
    for lang in missing:
        # keep at least one pick of every language already covered
        while replaceable and sum(langs[indices] == langs[indices[replaceable[0]]]) <= 1:
            replaceable.pop(0)
        if not replaceable:
            break
        mask = (cand_langs == lang) & ~np.isin(candidates, list(taken))
        if not mask.any():
            continue
        slot = replaceable.pop(0)
        rows = candidates[mask][np.argsort(-scores[mask], kind="stable")]
        others = np.concatenate([np.delete(indices, slot), before])
        pick, _ = greedy_distinct(rows, pool.embeddings, 1, threshold, chosen=others)
        if not len(pick):
            continue
        taken.discard(int(indices[slot]))
        row = int(pick[0])
        taken.add(row)
        indices[slot] = row
        sc[slot] = float(scores[np.flatnonzero(candidates == row)[0]])
        reasons[slot] = {"component": "language", "language": lang,
                         "summary": f"covers language '{lang}' ({counts[lang]} texts in the pool)"}
    return Selection(indices, sc, reasons, sel.protected)


class Ranking(ABC):
    """One query's candidates, scored and ordered by a base strategy: what :meth:`QueryStrategy.rank` returns.

    A base strategy only ranks: its ranking fills ``scores`` (one per candidate, higher = better) and implements
    :meth:`order` and :meth:`reasons`. Selecting the batch from it is the strategy's
    :meth:`~QueryStrategy.select`, which wrappers (:mod:`.wrappers`) override. A ranking that needs the batch size
    first (a clustering) sets ``scores`` in its :meth:`order` call. ``tiebreak``: per-candidate key for equal
    scores (smaller first; ``None``: candidate order). ``filler``: the reason of a pick that only fills up a short
    batch (``None``: its own reason).
    """

    filler: dict[str, Any] | None = None

    def __init__(self, pool: Pool, candidates: np.ndarray, labeled: np.ndarray, rng: np.random.Generator) -> None:
        self.pool = pool
        self.candidates = candidates
        self.labeled = labeled
        self.rng = rng
        self.scores: np.ndarray = np.zeros(len(candidates))
        self.tiebreak: np.ndarray | None = None
        self._where: np.ndarray | None = None

    @abstractmethod
    def order(self, n: int, chosen: np.ndarray) -> np.ndarray:
        """Candidate rows best first, as deep as ``n`` picks need; ``chosen`` rows (already picked) may be left out."""

    @abstractmethod
    def reasons(self, rows: np.ndarray) -> list[dict[str, Any]]:
        """One reason (a JSON-able dict with a ``summary``) per row."""

    def positions(self, rows: np.ndarray) -> np.ndarray:
        """Positions of ``rows`` in ``candidates``."""
        if self._where is None:
            self._where = np.full(len(self.pool), -1, dtype=np.int64)
            self._where[self.candidates] = np.arange(len(self.candidates))
        return self._where[np.asarray(rows, dtype=np.int64)]

    def best(self, n: int, exclude: np.ndarray) -> np.ndarray:
        """The ``n`` best-scoring candidate rows outside ``exclude``, best first."""
        rest = np.flatnonzero(~np.isin(self.candidates, exclude))
        top = argselect(self.scores[rest], n, tiebreak=self.tiebreak[rest] if self.tiebreak is not None else None)
        return self.candidates[rest[top]]

    def take(self, rows: np.ndarray, reason: dict[str, Any] | None = None) -> Selection:
        """``rows`` as a :class:`Selection`: their scores, and their own reasons or a copy of ``reason`` each."""
        rows = np.asarray(rows, dtype=np.int64)
        pos = self.positions(rows)
        reasons = [dict(reason) for _ in rows] if reason is not None else self.reasons(rows)
        return Selection(rows, self.scores[pos] if len(pos) else np.zeros(0), reasons)


class QueryStrategy(ABC):
    """A query strategy: pick ``n`` unlabeled rows of a :class:`Pool`.

    Scoring is separate from selection: :meth:`rank` scores and orders the candidates (a :class:`Ranking`),
    :meth:`select` picks the batch from it (by default the first ``n`` of the order; wrappers in :mod:`.wrappers`
    skip near-duplicates, reserve quotas, cover languages). :meth:`query` validates input once, runs both and keeps
    the result's scores in ``last_scores_`` and reasons in ``last_reasons_`` (so the CLI and Label Studio can show
    why). Randomness comes only from ``random_state`` (an int seed), turned into a generator per call.
    """

    name: ClassVar[str] = "base"

    def __init__(self, *, random_state: int | None = 0) -> None:
        self.random_state = random_state

    def query(self, pool: Pool, indices_unlabeled: np.ndarray, indices_labeled: np.ndarray | None = None,
              n: int = 10) -> Selection:
        """Return ``n`` distinct rows of ``indices_unlabeled``, best first, with scores and reasons."""
        iu = check_query_input(pool, indices_unlabeled, n)
        il = np.asarray(indices_labeled if indices_labeled is not None else sorted(pool.labels), dtype=np.int64)
        rng = np.random.default_rng(self.random_state)
        sel = self._query(pool, iu, il, n, rng)
        if len(sel) != n or np.unique(sel.indices).size != n or not np.isin(sel.indices, iu).all():
            raise StrategyError(f"{type(self).__name__} returned an invalid selection ({len(sel)} of {n})")
        for r in sel.reasons:
            r.setdefault("strategy", self.name)
        self.last_scores_ = sel.scores
        self.last_reasons_ = sel.reasons
        return sel

    def _query(self, pool: Pool, indices_unlabeled: np.ndarray, indices_labeled: np.ndarray, n: int,
               rng: np.random.Generator) -> Selection:
        """Select exactly ``n`` rows of the (validated) ``indices_unlabeled``."""
        ranking = self.rank(pool, indices_unlabeled, indices_labeled, rng)
        return self.select(ranking, n, np.zeros(0, dtype=np.int64))

    @abstractmethod
    def rank(self, pool: Pool, candidates: np.ndarray, labeled: np.ndarray, rng: np.random.Generator) -> Ranking:
        """Score and order ``candidates`` (unlabeled rows); ``labeled`` are the labeled rows."""

    def select(self, ranking: Ranking, n: int, chosen: np.ndarray) -> Selection:
        """Up to ``n`` picks from ``ranking``, none of them in ``chosen`` (rows picked earlier in the batch)."""
        rows = ranking.order(n, chosen)
        if len(chosen):
            rows = rows[~np.isin(rows, chosen)]
        return ranking.take(rows[:n])

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.endswith("_"))
        return f"{type(self).__name__}({params})"


class Preset(QueryStrategy):
    """A named composition of a base strategy and wrappers, with the constructor of one strategy.

    Subclasses implement :meth:`compose`; ranking and selection are the composition's.
    """

    @abstractmethod
    def compose(self) -> QueryStrategy:
        """The wrapped strategy this preset stands for."""

    def rank(self, pool: Pool, candidates: np.ndarray, labeled: np.ndarray, rng: np.random.Generator) -> Ranking:
        return self.compose().rank(pool, candidates, labeled, rng)

    def select(self, ranking: Ranking, n: int, chosen: np.ndarray) -> Selection:
        return self.compose().select(ranking, n, chosen)

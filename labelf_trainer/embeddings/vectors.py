"""Long texts, part 3: text vectors that carry their windows and turns, pooling, and the unit-max scoring rule.

:class:`TextVectors` is an ``(n, dim)`` float32 array of text vectors (what every frozen-encoder path has always
used) that also knows where its rows came from, so a multi-label model can score each window and each speaker turn
of those texts: ``X[rows]`` keeps that link, any computation on it gives a plain array. :func:`max_over_units` is the
rule: a label's logit is the maximum over the whole text, its windows and its turns; the deciding unit is "where in
the text".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .base import normalize

if TYPE_CHECKING:
    from .long_texts import UnitSource

__all__ = ["TextVectors", "TextUnits", "Units", "Evidence", "pool", "max_over_units", "WINDOW", "TURN", "KINDS"]

WINDOW, TURN = 0, 1
KINDS = ("window", "turn")


@dataclass
class TextUnits:
    """One text's scoring units: vectors (k, dim), character spans (k, 2) and kinds (k,) (0 window, 1 turn)."""

    vecs: np.ndarray
    spans: np.ndarray
    kind: np.ndarray

    @classmethod
    def empty(cls, dim: int) -> "TextUnits":
        return cls(np.zeros((0, dim), np.float32), np.zeros((0, 2), np.int64), np.zeros(0, np.int8))

    def only(self, kind: int) -> "TextUnits":
        keep = self.kind == kind
        return TextUnits(self.vecs[keep], self.spans[keep], self.kind[keep])


@dataclass
class Units:
    """The units of several texts: :class:`TextUnits` stacked, with ``owner`` (m,) the text's position."""

    vecs: np.ndarray
    owner: np.ndarray
    spans: np.ndarray
    kind: np.ndarray

    def __len__(self) -> int:
        return len(self.owner)

    @classmethod
    def stack(cls, parts: Sequence[TextUnits], dim: int) -> "Units":
        sizes = [len(p.kind) for p in parts]
        if not sum(sizes):
            return cls(np.zeros((0, dim), np.float32), np.zeros(0, np.int64), np.zeros((0, 2), np.int64),
                       np.zeros(0, np.int8))
        return cls(np.vstack([p.vecs for p in parts]).astype(np.float32, copy=False),
                   np.repeat(np.arange(len(parts)), sizes).astype(np.int64),
                   np.vstack([p.spans for p in parts]), np.concatenate([p.kind for p in parts]))


class TextVectors(np.ndarray):
    """Text vectors ``(n, dim)`` that remember their texts' windows and turns (see the module docstring).

    ``policy_key``: the long-text policy they were made with; ``units(start, stop, turns)``: the units of rows
    ``start:stop``. Row selection (``X[idx]``) keeps both; every other operation returns a plain ``ndarray``.
    """

    source: "UnitSource | None"
    rows: np.ndarray | None
    policy_key: str | None

    @classmethod
    def wrap(cls, vecs: np.ndarray, source: "UnitSource | None", policy_key: str) -> "TextVectors":
        out = np.asarray(vecs, dtype=np.float32).view(cls)
        out.source, out.rows, out.policy_key = source, np.arange(len(vecs)), policy_key
        return out

    def __array_finalize__(self, obj: Any) -> None:
        self.source, self.rows, self.policy_key = None, None, None

    def __array_wrap__(self, arr: np.ndarray, context: Any = None, return_scalar: bool = False) -> Any:
        arr = np.asarray(arr).view(np.ndarray)
        return arr[()] if return_scalar else arr

    def __getitem__(self, idx: Any) -> Any:
        out = super().__getitem__(idx)
        if not isinstance(out, TextVectors):
            return out
        if out.ndim != 2 or isinstance(idx, tuple) or self.rows is None:
            return out.view(np.ndarray)
        out.source, out.rows, out.policy_key = self.source, self.rows[idx], self.policy_key
        return out

    def __reduce__(self) -> Any:  # pickled (multiprocessing, copy): a plain array
        return np.asarray(self).view(np.ndarray).__reduce__()

    @property
    def has_units(self) -> bool:
        return self.source is not None and self.rows is not None

    def texts(self) -> list[str]:
        """The texts of these rows (for re-embedding them under another policy)."""
        assert self.source is not None and self.rows is not None
        return [self.source.texts[int(r)] for r in self.rows]

    def units(self, start: int = 0, stop: int | None = None, *, turns: bool = True) -> Units:
        """Window (and, with ``turns``, turn) units of rows ``start:stop``; ``owner`` counts from ``start``."""
        if self.source is None or self.rows is None:
            return Units.stack([], self.shape[1])
        return self.source.units(self.rows[start:stop], turns=turns)


def pool(vecs: np.ndarray, owner: np.ndarray, n: int, how: str = "mean") -> np.ndarray:
    """One L2-normalized vector per text from its window vectors: ``mean``, ``max`` or ``meanmax`` (the normalized
    sum of both). A text with one window keeps that window's vector bit for bit."""
    vecs = np.asarray(vecs, dtype=np.float32)
    dim = vecs.shape[1] if vecs.ndim == 2 else 0
    count = np.bincount(owner, minlength=n)
    mean = np.zeros((n, dim), np.float32)
    np.add.at(mean, owner, vecs)
    out = normalize(mean / np.maximum(count, 1)[:, None])
    if how in ("max", "meanmax"):
        mx = np.full((n, dim), -np.inf, np.float32)
        np.maximum.at(mx, owner, vecs)
        mx = normalize(np.where(np.isfinite(mx), mx, 0.0))
        out = mx if how == "max" else normalize(out + mx)
    single = np.flatnonzero(count == 1)
    if len(single):
        where = np.zeros(n, dtype=np.int64)
        where[owner] = np.arange(len(owner))  # exact for texts with one window
        out[single] = vecs[where[single]]
    return out


@dataclass
class Evidence:
    """Scores with the unit rule and where they come from: ``z`` (n, L) the combined logits, and per (text, label)
    the best unit's logit ``unit_z`` (-inf: the text has no units), its character ``span`` (n, L, 2) and ``kind``
    (-1: none, 0 window, 1 turn). The best unit is shown whether or not it beat the whole text's score."""

    z: np.ndarray
    unit_z: np.ndarray
    span: np.ndarray
    kind: np.ndarray


def max_over_units(z: np.ndarray, X: Any, logit: Callable[[np.ndarray], np.ndarray], *, offset: float = 0.0,
                   turns: bool = True, chunk: int = 512) -> Evidence:
    """``max(z, logit(unit) - offset)`` over each text's units (windows, and turns with ``turns``), for texts whose
    vectors ``X`` carry units (:class:`TextVectors`); other rows keep ``z``."""
    z = np.array(z, dtype=np.float64)
    n, n_labels = z.shape
    unit_z = np.full((n, n_labels), -np.inf)
    span = np.full((n, n_labels, 2), -1, dtype=np.int64)
    kind = np.full((n, n_labels), -1, dtype=np.int8)
    if not (isinstance(X, TextVectors) and X.has_units):
        return Evidence(z, unit_z, span, kind)
    cols = np.arange(n_labels)
    for a in range(0, n, chunk):
        U = X.units(a, min(a + chunk, n), turns=turns)
        if not len(U):
            continue
        zu = np.asarray(logit(U.vecs), dtype=np.float64).reshape(len(U), n_labels) - offset
        bounds = np.flatnonzero(np.r_[True, U.owner[1:] != U.owner[:-1], True])
        for s, e in zip(bounds[:-1], bounds[1:]):
            row = a + int(U.owner[s])
            best = s + zu[s:e].argmax(axis=0)
            unit_z[row] = zu[best, cols]
            span[row] = U.spans[best]
            kind[row] = U.kind[best]
    return Evidence(np.maximum(z, unit_z), unit_z, span, kind)

"""Long texts, part 1: the ``long_texts:`` policy and the splitter (speaker turns, token windows).

A text longer than the encoder's window is cut into windows of whole speaker turns (lines that start with a name and
a colon: ``Agent:``, ``Customer:``); a turn longer than a window is cut at sentence ends, else at a token. With
``overlap: 1`` the last turn of a window opens the next one. A text that fits is one window, the text itself, so it
gets exactly the embedding (and the cache row) it gets without the policy. Research and figures: issue 13,
``docs/long-texts.md``.

Usage::

    policy = LongTextPolicy()                                 # windows, encoder's window, 1 turn overlap, 16 windows
    layout = split_text(text, encoder.text_tokens(), policy)  # Layout(windows=[Span...], turns=[Span...])
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple, Protocol

import numpy as np

from ..exceptions import EncoderError

__all__ = ["LongTextPolicy", "TRUNCATE", "Span", "Layout", "TextTokens", "HFTokens", "split_turns", "split_text",
           "turn_content", "SPEAKER_RE", "policy_from_json"]

#: A speaker line: a name of up to 40 characters (letters, digits, space, ``.'_-``) starting with a letter, then ``:``
#: and a space or the line end. ``Agent:``, ``Agent 2:``, ``Anna-Lena:``; not ``10:30`` or ``http://``.
SPEAKER_RE = re.compile(r"^[ \t]*[^\W\d_][\w .'\-]{0,39}:(?=\s|$)", re.MULTILINE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
POOLINGS = ("mean", "max", "meanmax")
STRATEGIES = ("windows", "truncate")
TURN_VECTORS = ("own", "late")


@dataclass(frozen=True)
class LongTextPolicy:
    """The ``long_texts:`` config block, resolved.

    ``strategy``: ``windows`` (split, pool, score units) or ``truncate`` (the encoder's first window only).
    ``window``: tokens per window including special tokens and prefix (None: the encoder's own limit).
    ``overlap``: speaker turns repeated at the start of the next window. ``max_windows``: most windows per text
    (evenly spaced, first and last kept). ``pooling``: the one vector per text from its window vectors.
    ``turn_scores``: multi-label models also score every turn, besides every window. ``turn_vectors``: how a
    turn gets its vector: ``own`` (its words embedded on their own, one more encoder pass over short inputs) or
    ``late`` (late chunking: the mean of its tokens' vectors inside its window, free with token outputs). ``own``
    is the default: a head trained on short messages scores late-chunked turns of a call as the call's context
    (on the Nordtel calls a churn threat scored 0.14 late-chunked, 0.75 on its own; ``docs/long_texts.md``).
    """

    strategy: str = "windows"
    window: int | None = None
    overlap: int = 1
    max_windows: int = 16
    pooling: str = "mean"
    turn_scores: bool = True
    turn_vectors: str = "own"

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise EncoderError(f"long_texts.strategy: must be one of {', '.join(STRATEGIES)}, not {self.strategy!r}")
        if self.pooling not in POOLINGS:
            raise EncoderError(f"long_texts.pooling: must be one of {', '.join(POOLINGS)}, not {self.pooling!r}")
        if self.window is not None and self.window < 16:
            raise EncoderError(f"long_texts.window: at least 16 tokens, got {self.window}")
        if self.turn_vectors not in TURN_VECTORS:
            raise EncoderError(f"long_texts.turn_vectors: must be one of {', '.join(TURN_VECTORS)}, "
                               f"not {self.turn_vectors!r}")
        if self.overlap < 0 or self.max_windows < 1:
            raise EncoderError("long_texts: overlap must be >= 0 and max_windows >= 1")

    @property
    def windows(self) -> bool:
        return self.strategy == "windows"

    def key(self, limit: int) -> str:
        """What identifies the policy on an encoder whose limit is ``limit`` tokens (``window: null`` resolved)."""
        if not self.windows:
            return "lt1|truncate"
        return (f"lt1|{self.pooling}|w{self.window_for(limit)}|o{self.overlap}|m{self.max_windows}"
                f"|t{int(self.turn_scores)}" + ("|tv-own" if self.turn_scores and self.turn_vectors == "own" else ""))

    def window_for(self, limit: int) -> int:
        """The window in tokens on an encoder with ``limit`` (an error if the policy asks for more)."""
        if self.window is None:
            return limit
        if self.window > limit:
            raise EncoderError(f"long_texts.window: {self.window} tokens is more than the encoder's limit of {limit}")
        return self.window

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(cls, value: Any) -> "LongTextPolicy":
        """A policy from a policy, the config's ``long_texts`` block (any object with the fields) or a dict."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        raw = value if isinstance(value, dict) else {k: getattr(value, k) for k in cls.__dataclass_fields__
                                                     if hasattr(value, k)}
        unknown = sorted(set(raw) - set(cls.__dataclass_fields__))
        if unknown:
            raise EncoderError(f"long_texts: unknown field(s) {', '.join(unknown)}")
        return cls(**raw)


TRUNCATE = LongTextPolicy(strategy="truncate")
"""What models saved before the policy existed use: the encoder's first window (they were trained on it)."""


def policy_from_json(raw: dict[str, Any] | None) -> LongTextPolicy:
    """A model's stored policy; a model saved without one truncates, as it did when it was trained."""
    if not raw:
        return TRUNCATE
    return LongTextPolicy.of({"turn_vectors": "late", **raw})  # saved before turn_vectors: late-chunked turns


class Span(NamedTuple):
    """Character offsets ``[start, end)`` into a text (a named tuple: a pool's layouts are read in their millions)."""

    start: int
    end: int

    def of(self, text: str) -> str:
        return text[self.start:self.end]


@dataclass(frozen=True)
class Layout:
    """How one text is split: its windows (one = the whole text) and its turns (speaker turns, else lines)."""

    windows: tuple[Span, ...]
    turns: tuple[Span, ...]

    @property
    def single(self) -> bool:
        return len(self.windows) == 1

    def to_bytes(self) -> bytes:
        """A compact form (int32: window count, then window and turn offsets) for the layout cache."""
        spans = [(s.start, s.end) for s in (*self.windows, *self.turns)]
        return np.asarray([len(self.windows), *(x for s in spans for x in s)], dtype=np.int32).tobytes()

    @classmethod
    def from_bytes(cls, blob: bytes) -> "Layout":
        vals = np.frombuffer(blob, dtype=np.int32).tolist()
        pairs = iter(vals[1:])
        spans = list(map(Span._make, zip(pairs, pairs)))
        return cls(tuple(spans[:vals[0]]), tuple(spans[vals[0]:]))


class TextTokens(Protocol):
    """How an encoder counts tokens: ``limit`` per input (special tokens and prefix included), ``overhead`` (the
    special tokens and prefix), ``offsets(text)``: character offsets of the text's own tokens."""

    limit: int
    overhead: int

    def offsets(self, text: str) -> np.ndarray: ...


class HFTokens:
    """:class:`TextTokens` of a Hugging Face fast tokenizer (``transformers``) or a ``tokenizers.Tokenizer``."""

    def __init__(self, tokenizer: Any, limit: int, prefix: str = "") -> None:
        self.tokenizer = tokenizer
        self.limit = int(limit)
        self._raw = not callable(tokenizer)  # tokenizers.Tokenizer: .encode() with .offsets
        if self._raw:
            specials = len(tokenizer.encode("", add_special_tokens=True).ids)
            pre = len(tokenizer.encode(prefix, add_special_tokens=False).ids) if prefix else 0
        else:
            specials = tokenizer.num_special_tokens_to_add(pair=False)
            pre = len(tokenizer(prefix, add_special_tokens=False)["input_ids"]) if prefix else 0
        self.overhead = specials + pre

    def offsets(self, text: str) -> np.ndarray:
        if self._raw:
            offs = self.tokenizer.encode(text, add_special_tokens=False).offsets
        else:
            offs = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True,
                                  truncation=False)["offset_mapping"]
        return np.asarray(offs, dtype=np.int64).reshape(-1, 2)


def split_turns(text: str) -> list[Span]:
    """Speaker turns when at least two lines start with ``Name:`` (lines without one join the turn above), else the
    non-empty lines; spans without surrounding whitespace."""
    starts = [m.start() for m in SPEAKER_RE.finditer(text)]
    if len(starts) >= 2:
        cuts = ([0] if text[:starts[0]].strip() else []) + starts + [len(text)]
        spans = [_strip(text, a, b) for a, b in zip(cuts[:-1], cuts[1:])]
    else:
        spans, pos = [], 0
        for line in text.split("\n"):
            spans.append(_strip(text, pos, pos + len(line)))
            pos += len(line) + 1
    return [s for s in spans if s.end > s.start]


def turn_content(text: str, turn: Span) -> Span:
    """The part of a turn after its speaker's name (``Agent: ``), what the turn says (its vector is made from)."""
    m = SPEAKER_RE.match(text, turn.start, turn.end)
    return _strip(text, m.end(), turn.end) if m is not None else turn


def _strip(text: str, a: int, b: int) -> Span:
    while b > a and text[b - 1].isspace():
        b -= 1
    while a < b and text[a].isspace():
        a += 1
    return Span(a, b)


def _fits_without_tokenizing(text: str, budget: int) -> bool:
    """A cheap sure answer for short texts: no tokenizer makes more tokens than UTF-8 bytes plus words."""
    return len(text.encode("utf-8")) + len(text.split()) <= budget


def split_text(text: str, tokens: TextTokens | None, policy: LongTextPolicy) -> Layout:
    """The windows and turns of ``text`` under ``policy`` (one window: the text; see the module docstring)."""
    turns = tuple(split_turns(text))
    whole = (Span(0, len(text)),)
    if tokens is None or not policy.windows:
        return Layout(whole, turns)
    budget = policy.window_for(tokens.limit) - tokens.overhead
    if _fits_without_tokenizing(text, budget):
        return Layout(whole, turns)
    starts = tokens.offsets(text)[:, 0]
    if len(starts) <= budget:
        return Layout(whole, turns)

    def count(a: int, b: int) -> int:
        return int(np.searchsorted(starts, b, "left") - np.searchsorted(starts, a, "left"))

    units: list[Span] = []
    for t in turns:
        units.extend([t] if count(t.start, t.end) <= budget else _cut(text, t, starts, budget, count))
    sizes = [count(u.start, u.end) for u in units]
    windows: list[Span] = []
    i = 0
    while i < len(units):
        j, used = i, 0
        while j < len(units) and used + sizes[j] <= budget:
            used += sizes[j]
            j += 1
        j = max(j, i + 1)
        windows.append(Span(units[i].start, units[j - 1].end))
        if j >= len(units):
            break
        i = max(j - policy.overlap, i + 1)
    if len(windows) > policy.max_windows:
        keep = np.unique(np.linspace(0, len(windows) - 1, policy.max_windows).round().astype(int))
        windows = [windows[k] for k in keep]
    return Layout(tuple(windows), turns)


def _cut(text: str, turn: Span, starts: np.ndarray, budget: int, count: Any) -> list[Span]:
    """A turn longer than a window: pieces ending at sentence ends where they fit, else at the budget-th token."""
    ends = sorted({turn.start + m.end() for m in _SENTENCE_END.finditer(turn.of(text))} | {turn.end})
    pieces, a = [], turn.start
    while a < turn.end:
        best = None
        for c in ends:
            if c <= a:
                continue
            if count(a, c) > budget:
                break
            best = c
        if best is None:  # one sentence longer than a window: cut at its budget-th token (a new start after a)
            after = starts[starts >= a][budget:]
            after = after[after > a]
            best = int(after[0]) if len(after) else turn.end
        piece = _strip(text, a, best)
        if piece.end > piece.start:
            pieces.append(piece)
        a = best
    return pieces


def owners(layouts: Sequence[Layout], what: str = "windows") -> np.ndarray:
    """Index of the text each window (or turn) belongs to, in layout order."""
    return np.repeat(np.arange(len(layouts)), [len(getattr(lay, what)) for lay in layouts]).astype(np.int64)

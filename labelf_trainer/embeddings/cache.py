"""On-disk embedding cache keyed by (encoder fingerprint, text hash), one SQLite file per encoder."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..store.hashcache import HashCache

__all__ = ["EmbeddingCache"]


class EmbeddingCache:
    """Stores float32 vectors by text hash for one encoder fingerprint.

    Usage::

        cache = EmbeddingCache(Path(".labelf/x/cache"), encoder.fingerprint, encoder.dim)
        found = cache.get_many(hashes)      # {hash: vector}
        cache.put_many({h: v, ...})
    """

    def __init__(self, root: Path, fingerprint: str, dim: int) -> None:
        self.dim = dim
        self._cache = HashCache(Path(root) / "embeddings" / f"{fingerprint}.sqlite", table="emb", value_column="vec")
        self.path = self._cache.path

    def get_many(self, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for h, blob in self._cache.get_many(hashes).items():
            vec = np.frombuffer(blob, dtype=np.float32)  # type: ignore[arg-type]
            if vec.shape[0] == self.dim:
                out[h] = vec
        return out

    def put_many(self, vectors: dict[str, np.ndarray]) -> None:
        self._cache.put_many({h: np.asarray(v, dtype=np.float32).tobytes() for h, v in vectors.items()})

    def __len__(self) -> int:
        return len(self._cache)

    def close(self) -> None:
        self._cache.close()

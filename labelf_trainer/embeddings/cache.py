"""On-disk embedding cache keyed by (encoder fingerprint, text hash), one SQLite file per encoder.

Vectors are stored as float32, or as float16 with ``half=True`` (half the disk and read time of a million-text pool;
``benchmarks/batch.py`` measures the answers of a model trained and scored on float16 vectors against float32).
Reading accepts both in one file, so switching leaves the existing entries usable. :meth:`EmbeddingCache.put_many`
returns the vectors as a later read gives them, so a caller can hand out the same values for a text whether it was
just encoded or read back.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..store.hashcache import HashCache

__all__ = ["EmbeddingCache"]


class EmbeddingCache:
    """Stores vectors by text hash for one encoder fingerprint (float32, or float16 with ``half``); reads float32.

    Usage::

        cache = EmbeddingCache(Path(".labelf/x/cache"), encoder.fingerprint, encoder.dim)
        found = cache.get_many(hashes)      # {hash: float32 vector}
        stored = cache.put_many({h: v, ...})   # {hash: the vector a later get_many returns}
    """

    def __init__(self, root: Path, fingerprint: str, dim: int, *, half: bool = False) -> None:
        self.dim = dim
        self.half = half
        self._cache = HashCache(Path(root) / "embeddings" / f"{fingerprint}.sqlite", table="emb", value_column="vec")
        self.path = self._cache.path

    def get_many(self, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        full, half = self.dim * 4, self.dim * 2
        for h, blob in self._cache.get_many(hashes).items():
            if len(blob) == full:
                out[h] = np.frombuffer(blob, dtype=np.float32)  # type: ignore[arg-type]
            elif len(blob) == half:
                out[h] = np.frombuffer(blob, dtype=np.float16).astype(np.float32)  # type: ignore[arg-type]
        return out

    def put_many(self, vectors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        dtype = np.float16 if self.half else np.float32
        stored = {h: np.asarray(v, dtype=dtype) for h, v in vectors.items()}
        self._cache.put_many({h: v.tobytes() for h, v in stored.items()})
        return {h: v.astype(np.float32) for h, v in stored.items()} if self.half else stored

    def __len__(self) -> int:
        return len(self._cache)

    def close(self) -> None:
        self._cache.close()

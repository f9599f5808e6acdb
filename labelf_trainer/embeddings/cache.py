"""On-disk embedding cache keyed by (encoder fingerprint, text hash), one SQLite file per encoder."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

import numpy as np

__all__ = ["EmbeddingCache"]


class EmbeddingCache:
    """Stores float32 vectors by text hash for one encoder fingerprint.

    Usage::

        cache = EmbeddingCache(Path(".labelf/x/cache"), encoder.fingerprint, encoder.dim)
        found = cache.get_many(hashes)      # {hash: vector}
        cache.put_many({h: v, ...})
    """

    def __init__(self, root: Path, fingerprint: str, dim: int) -> None:
        self.path = Path(root) / "embeddings" / f"{fingerprint}.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.dim = dim
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS emb (hash TEXT PRIMARY KEY, vec BLOB NOT NULL)")

    def get_many(self, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        hashes = list(dict.fromkeys(hashes))
        out: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(hashes), 900):
                chunk = hashes[start:start + 900]
                rows = self._conn.execute(
                    f"SELECT hash, vec FROM emb WHERE hash IN ({','.join('?' * len(chunk))})", chunk).fetchall()
                for h, blob in rows:
                    vec = np.frombuffer(blob, dtype=np.float32)
                    if vec.shape[0] == self.dim:
                        out[h] = vec
        return out

    def put_many(self, vectors: dict[str, np.ndarray]) -> None:
        rows = [(h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in vectors.items()]
        with self._lock, self._conn:
            self._conn.executemany("INSERT OR REPLACE INTO emb(hash, vec) VALUES (?, ?)", rows)

    def __len__(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM emb").fetchone()[0]

    def close(self) -> None:
        self._conn.close()

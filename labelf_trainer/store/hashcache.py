"""A text-hash -> value cache in its own SQLite file (WAL): embeddings per encoder, detected languages.

Usage::

    cache = HashCache(Path(".labelf/x/cache/languages.sqlite"))
    cache.put_many({"ab12...": b"en"})
    cache.get_many(["ab12...", "cd34..."])      # {"ab12...": b"en"}
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

from .items import CHUNK

__all__ = ["HashCache"]


class HashCache:
    """Values (bytes or text) by text hash; thread-safe; writes are committed batch by batch."""

    def __init__(self, path: Path, *, table: str = "cache", value_column: str = "value") -> None:
        if not (table.isidentifier() and value_column.isidentifier()):
            raise ValueError(f"bad cache table or column name: {table!r}, {value_column!r}")
        self.path = Path(path)
        self._table, self._col = table, value_column
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(f"CREATE TABLE IF NOT EXISTS {table} (hash TEXT PRIMARY KEY, {value_column} BLOB NOT NULL)"
                           )

    def get_many(self, hashes: Iterable[str]) -> dict[str, bytes | str]:
        hashes = list(dict.fromkeys(hashes))
        out: dict[str, bytes | str] = {}
        with self._lock:
            for start in range(0, len(hashes), CHUNK):
                chunk = hashes[start:start + CHUNK]
                marks = ",".join("?" * len(chunk))
                out.update(self._conn.execute(
                    f"SELECT hash, {self._col} FROM {self._table} WHERE hash IN ({marks})", chunk).fetchall())
        return out

    def put_many(self, values: dict[str, bytes | str]) -> None:
        with self._lock, self._conn:
            self._conn.executemany(f"INSERT OR REPLACE INTO {self._table}(hash, {self._col}) VALUES (?, ?)",
                                   list(values.items()))

    def __len__(self) -> int:
        with self._lock:
            return self._conn.execute(f"SELECT COUNT(*) FROM {self._table}").fetchone()[0]

    def close(self) -> None:
        self._conn.close()

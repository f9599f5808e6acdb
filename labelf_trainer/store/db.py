"""The workspace database: schema, connections and transactions; one store object per table group.

Model artefacts live beside the database under ``models/`` and embeddings under ``cache/`` (see
:mod:`labelf_trainer.registry` and :mod:`labelf_trainer.embeddings.cache`).

Concurrency: writes go through one connection per process, in ``BEGIN IMMEDIATE`` transactions serialized across
threads (a lock) and processes (SQLite's write lock, waited for up to ``busy_timeout_s``). Transactions nest: an
inner ``transaction()`` joins the outer one, so the table stores' writes compose into one atomic change. Reads
outside a transaction use a read-only connection per thread and never wait for the writer: in WAL mode a reader
sees the last committed state even while another process holds the write lock (the service's key checks and
model lookups rely on this).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..exceptions import StoreError

__all__ = ["Workspace", "utcnow", "DB_NAME", "BUSY_TIMEOUT_S"]

DB_NAME = "labelf.sqlite"
BUSY_TIMEOUT_S = 30.0
"""How long a write waits for another process's write lock before failing with "database is locked"."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY,
    text TEXT NOT NULL,
    hash TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    origin TEXT NOT NULL DEFAULT 'import',
    gold TEXT,
    meta TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS items_hash ON items(hash);
CREATE TABLE IF NOT EXISTS annotations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id TEXT NOT NULL REFERENCES items(id),
    labels TEXT NOT NULL,
    annotator TEXT NOT NULL DEFAULT 'unknown',
    source TEXT NOT NULL DEFAULT 'file',
    external_id TEXT,
    status TEXT NOT NULL DEFAULT 'active',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS annotations_item ON annotations(item_id);
CREATE UNIQUE INDEX IF NOT EXISTS annotations_external ON annotations(source, external_id)
    WHERE external_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    strategy TEXT NOT NULL,
    model_id INTEGER,
    model_version INTEGER,
    seed INTEGER,
    params TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS batch_items (
    batch_id INTEGER NOT NULL REFERENCES batches(id),
    item_id TEXT NOT NULL REFERENCES items(id),
    rank INTEGER NOT NULL,
    score REAL,
    predicted TEXT,
    confidence REAL,
    reason TEXT,
    status TEXT NOT NULL DEFAULT 'pending',
    audit INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (batch_id, item_id)
);
CREATE INDEX IF NOT EXISTS batch_items_item ON batch_items(item_id, status);
CREATE TABLE IF NOT EXISTS models (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    labels TEXT NOT NULL,
    multi_label INTEGER NOT NULL DEFAULT 0,
    confidence_threshold REAL NOT NULL DEFAULT 0.7,
    auto_threshold REAL,
    deployed_version INTEGER,
    routing INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS model_versions (
    model_id INTEGER NOT NULL REFERENCES models(id),
    version INTEGER NOT NULL,
    path TEXT NOT NULL,
    metrics TEXT NOT NULL DEFAULT '{}',
    training_examples INTEGER NOT NULL DEFAULT 0,
    last_trained TEXT NOT NULL,
    params TEXT NOT NULL DEFAULT '{}',
    encoder_fingerprint TEXT,
    PRIMARY KEY (model_id, version)
);
CREATE TABLE IF NOT EXISTS api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    hash TEXT NOT NULL,
    scopes TEXT NOT NULL DEFAULT 'inference',
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
#: Columns added after a table was first released: (table, column, declaration). Older workspaces get them on open.
MIGRATIONS = (("models", "auto_threshold", "REAL"), ("api_keys", "scopes", "TEXT NOT NULL DEFAULT 'inference'"),
              ("batch_items", "audit", "INTEGER NOT NULL DEFAULT 0"))


def utcnow() -> str:
    """Current UTC time as ISO 8601 with a Z suffix (the Labelf API's format)."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, check_same_thread=False, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys=ON")
    if read_only:
        conn.execute("PRAGMA query_only=1")
    return conn


class Workspace:
    """A workspace folder: ``labelf.sqlite`` plus ``models/`` and ``cache/``.

    Usage::

        ws = Workspace.create(Path(".labelf/telecom"))   # or Workspace.open(...) for an existing one
        added, known = ws.items.add(items)
        with ws.transaction():                         # several stores' writes, all or nothing
            ws.annotations.add(anns)
            ws.kv.set("cursor", "2026-01-01T00:00:00Z")
    """

    def __init__(self, root: Path, conn: sqlite3.Connection) -> None:
        from .annotations import AnnotationStore
        from .batches import BatchStore
        from .items import ItemStore
        from .keys import KeyStore
        from .kv import KVStore
        from .models import ModelStore

        self.root = Path(root)
        self.conn = conn
        self._lock = threading.RLock()
        self._tx_thread: int | None = None
        self._tx_depth = 0
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self.items = ItemStore(self)
        self.annotations = AnnotationStore(self)
        self.batches = BatchStore(self)
        self.models = ModelStore(self)
        self.keys = KeyStore(self)
        self.kv = KVStore(self)

    # -- opening -------------------------------------------------------------------------------------------
    @classmethod
    def create(cls, root: str | Path) -> "Workspace":
        """Open the workspace at ``root``, creating the folder and database if needed."""
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        return cls._open(root)

    @classmethod
    def open(cls, root: str | Path) -> "Workspace":
        """Open an existing workspace; :class:`StoreError` if there is none (run ``labelf init`` first)."""
        root = Path(root)
        if not (root / DB_NAME).is_file():
            raise StoreError(f"no workspace at {root} (run `labelf init CONFIG` first)")
        return cls._open(root)

    @classmethod
    def _open(cls, root: Path) -> "Workspace":
        try:
            conn = _connect(root / DB_NAME)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(SCHEMA)
            for table, column, decl in MIGRATIONS:
                if column not in {r["name"] for r in conn.execute(f"PRAGMA table_info({table})")}:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{root / DB_NAME}: cannot open workspace database: {e}") from None
        return cls(root, conn)

    def close(self) -> None:
        with self._readers_lock:
            for c in self._readers:
                c.close()
            self._readers.clear()
        self.conn.close()

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def path(self) -> Path:
        return self.root / DB_NAME

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    # -- statements ----------------------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: all or nothing, serialized across threads and processes; nested calls join it."""
        with self._lock:
            if self._tx_depth:
                self._tx_depth += 1
                try:
                    yield self.conn
                finally:
                    self._tx_depth -= 1
                return
            self.conn.execute("BEGIN IMMEDIATE")
            self._tx_depth, self._tx_thread = 1, threading.get_ident()
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")
            finally:
                self._tx_depth, self._tx_thread = 0, None

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = _connect(self.path, read_only=True)
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        """Rows of a read. Inside this thread's transaction it sees the transaction's own writes; otherwise it
        reads the last committed state without waiting for any writer."""
        if self._tx_thread == threading.get_ident():
            return self.conn.execute(sql, tuple(params)).fetchall()
        return self._reader().execute(sql, tuple(params)).fetchall()

    def execute(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        """One write statement, in the current transaction or its own."""
        with self.transaction() as c:
            return c.execute(sql, tuple(params))

    def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> sqlite3.Cursor:
        with self.transaction() as c:
            return c.executemany(sql, [tuple(r) for r in rows])

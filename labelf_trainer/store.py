"""The workspace store: one SQLite file (WAL) per workspace.

It holds the pool of texts, annotations, suggestion batches, the model registry's metadata and small key/value
state. Model artefacts live beside it under ``models/`` and embeddings under ``cache/`` (see
:mod:`labelf_trainer.registry` and :mod:`labelf_trainer.embeddings.cache`). Writes happen in transactions, so an
interrupted command leaves the database as it was before it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .exceptions import StoreError
from .types import Annotation, Item

__all__ = ["Workspace", "utcnow", "rewrite_annotation"]

DB_NAME = "labelf.sqlite"

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
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def utcnow() -> str:
    """Current UTC time as ISO 8601 with a Z suffix (the Labelf API's format)."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def rewrite_annotation(c: sqlite3.Connection, row_id: int, **changes: Any) -> None:
    """Change an annotation by re-inserting it under a new id: the effective label of an item is its highest-id
    active annotation, so an edited label (a corrected file re-imported, an annotation updated in Label Studio)
    becomes the latest, whichever source wrote before it."""
    old = c.execute("SELECT * FROM annotations WHERE id = ?", (row_id,)).fetchone()
    values = {k: old[k] for k in old.keys() if k != "id"} | changes
    c.execute("DELETE FROM annotations WHERE id = ?", (row_id,))
    c.execute(f"INSERT INTO annotations({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
              list(values.values()))


class Workspace:
    """A workspace folder: ``labelf.sqlite`` plus ``models/`` and ``cache/``.

    Usage::

        ws = Workspace.create(Path(".labelf/telecom"))   # or Workspace.open(...) for an existing one
        added, known = ws.add_items(items)
    """

    def __init__(self, root: Path, conn: sqlite3.Connection) -> None:
        self.root = Path(root)
        self.conn = conn
        self._lock = threading.RLock()

    # -- opening -------------------------------------------------------------------------------------------
    @classmethod
    def create(cls, root: str | Path) -> "Workspace":
        """Open the workspace at ``root``, creating the folder and database if needed."""
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        return cls._connect(root)

    @classmethod
    def open(cls, root: str | Path) -> "Workspace":
        """Open an existing workspace; :class:`StoreError` if there is none (run ``labelf init`` first)."""
        root = Path(root)
        if not (root / DB_NAME).is_file():
            raise StoreError(f"no workspace at {root} (run `labelf init CONFIG` first)")
        return cls._connect(root)

    @classmethod
    def _connect(cls, root: Path) -> "Workspace":
        try:
            conn = sqlite3.connect(root / DB_NAME, timeout=30, check_same_thread=False, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(SCHEMA)
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{root / DB_NAME}: cannot open workspace database: {e}") from None
        return cls(root, conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: all or nothing, serialized across threads and processes."""
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self.conn.execute(sql, tuple(params)).fetchall()

    # -- key/value state -----------------------------------------------------------------------------------
    def get_state(self, key: str, default: Any = None) -> Any:
        rows = self.query("SELECT value FROM kv WHERE key = ?", (key,))
        return json.loads(rows[0]["value"]) if rows else default

    def set_state(self, key: str, value: Any) -> None:
        with self.transaction() as c:
            c.execute("INSERT INTO kv(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                      (key, json.dumps(value)))

    # -- pool ----------------------------------------------------------------------------------------------
    def add_items(self, items: Iterable[Item], origin: str = "import") -> tuple[int, int]:
        """Add items to the pool; items whose id is already known are skipped. Returns (added, skipped)."""
        now = utcnow()
        rows = [(it.id, it.text, it.hash, it.source, origin, json.dumps(list(it.gold)) if it.gold else None,
                 json.dumps(it.meta), now) for it in items]
        with self.transaction() as c:
            before = c.execute("SELECT COUNT(*) FROM items").fetchone()[0]
            c.executemany("INSERT OR IGNORE INTO items(id, text, hash, source, origin, gold, meta, created_at) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            added = c.execute("SELECT COUNT(*) FROM items").fetchone()[0] - before
        return added, len(rows) - added

    def count_items(self) -> int:
        return self.query("SELECT COUNT(*) AS n FROM items")[0]["n"]

    def items(self, ids: Iterable[str] | None = None, origin: str | None = None) -> list[Item]:
        """Items in insertion order (all, or those with the given ids in that order)."""
        if ids is None:
            sql, params = "SELECT * FROM items", []
            if origin:
                sql, params = sql + " WHERE origin = ?", [origin]
            rows = self.query(sql + " ORDER BY rowid", params)
            return [self._item(r) for r in rows]
        ids = list(ids)
        by_id: dict[str, Item] = {}
        for start in range(0, len(ids), 900):
            chunk = ids[start:start + 900]
            q = f"SELECT * FROM items WHERE id IN ({','.join('?' * len(chunk))})"
            by_id.update((r["id"], self._item(r)) for r in self.query(q, chunk))
        return [by_id[i] for i in ids if i in by_id]

    @staticmethod
    def _item(r: sqlite3.Row) -> Item:
        gold = tuple(json.loads(r["gold"])) if r["gold"] else None
        return Item(id=r["id"], text=r["text"], source=r["source"], gold=gold, meta=json.loads(r["meta"]))

    # -- annotations ---------------------------------------------------------------------------------------
    def add_annotations(self, annotations: Iterable[Annotation]) -> int:
        """Record annotations (an annotation with a known (source, external_id) is updated, not doubled; an
        edited one becomes the item's latest).

        Marks the items' pending suggestions as labeled. Returns the number of annotations written.
        """
        now = utcnow()
        anns = list(annotations)
        with self.transaction() as c:
            for a in anns:
                labels = json.dumps(sorted(a.labels))
                old = None if a.external_id is None else c.execute(
                    "SELECT id, labels, annotator, status FROM annotations WHERE source = ? AND external_id = ?",
                    (a.source, a.external_id)).fetchone()
                if old is not None:  # the same annotation again: unchanged, or edited (then it becomes the latest)
                    if (old["labels"], old["status"]) != (labels, "active"):
                        rewrite_annotation(c, old["id"], item_id=a.item_id, labels=labels, annotator=a.annotator,
                                           status="active", updated_at=now)
                    elif old["annotator"] != a.annotator:
                        c.execute("UPDATE annotations SET annotator = ?, updated_at = ? WHERE id = ?",
                                  (a.annotator, now, old["id"]))
                elif a.external_id is not None:
                    c.execute("INSERT INTO annotations(item_id, labels, annotator, source, external_id, created_at,"
                              " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                              (a.item_id, labels, a.annotator, a.source, a.external_id, now, now))
                else:
                    c.execute("INSERT INTO annotations(item_id, labels, annotator, source, created_at, updated_at)"
                              " VALUES (?, ?, ?, ?, ?, ?)", (a.item_id, labels, a.annotator, a.source, now, now))
                c.execute("UPDATE batch_items SET status = 'labeled' WHERE item_id = ? AND status = 'pending'",
                          (a.item_id,))
        return len(anns)

    def labeled(self) -> dict[str, tuple[str, ...]]:
        """Effective labels per item: the latest active annotation; items with a conflict are left out."""
        rows = self.query(
            "SELECT a.item_id, a.labels FROM annotations a JOIN ("
            "  SELECT item_id, MAX(id) AS id FROM annotations WHERE status = 'active' GROUP BY item_id"
            ") latest ON a.id = latest.id "
            "WHERE a.item_id NOT IN (SELECT item_id FROM annotations WHERE status = 'conflict') "
            "ORDER BY a.id")
        return {r["item_id"]: tuple(json.loads(r["labels"])) for r in rows}

    def count_annotations(self) -> int:
        return self.query("SELECT COUNT(*) AS n FROM annotations WHERE status = 'active'")[0]["n"]

    # -- suggestion batches (the sampler's) ------------------------------------------------------------------
    def create_batch(self, strategy: str, rows: Iterable[dict[str, Any]], *, model_id: int | None = None,
                     model_version: int | None = None, seed: int | None = None,
                     params: dict[str, Any] | None = None) -> int:
        """Record a suggestion batch and its items (status 'pending') in one transaction; returns the batch id.

        Each row: ``item_id``, ``rank``, and optionally ``score``, ``predicted``, ``confidence``, ``reason`` (dict).
        """
        rows = list(rows)
        with self.transaction() as c:
            cur = c.execute("INSERT INTO batches(created_at, strategy, model_id, model_version, seed, params) "
                            "VALUES (?, ?, ?, ?, ?, ?)",
                            (utcnow(), strategy, model_id, model_version, seed, json.dumps(params or {})))
            batch_id = int(cur.lastrowid)
            c.executemany(
                "INSERT INTO batch_items(batch_id, item_id, rank, score, predicted, confidence, reason) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(batch_id, r["item_id"], int(r["rank"]), r.get("score"), r.get("predicted"), r.get("confidence"),
                  json.dumps(r.get("reason") or {}, ensure_ascii=False)) for r in rows])
        return batch_id

    def batches(self) -> list[dict[str, Any]]:
        """Every batch (oldest first) with its item counts per status."""
        rows = self.query(
            "SELECT b.*, SUM(bi.status = 'pending') AS pending, SUM(bi.status = 'labeled') AS labeled, "
            "SUM(bi.status = 'expired') AS expired, COUNT(bi.item_id) AS size FROM batches b "
            "LEFT JOIN batch_items bi ON bi.batch_id = b.id GROUP BY b.id ORDER BY b.id")
        return [{**dict(r), "params": json.loads(r["params"]), "pending": r["pending"] or 0,
                 "labeled": r["labeled"] or 0, "expired": r["expired"] or 0} for r in rows]

    def batch(self, batch_id: int) -> dict[str, Any]:
        """One batch's record (see :meth:`batches`); :class:`StoreError` if there is no such batch."""
        for b in self.batches():
            if b["id"] == batch_id:
                return b
        raise StoreError(f"no suggestion batch {batch_id} in this workspace")

    def batch_items(self, batch_id: int) -> list[dict[str, Any]]:
        """The items of a batch in rank order, with their text, score, prediction, reason and status."""
        self.batch(batch_id)
        rows = self.query("SELECT bi.*, i.text FROM batch_items bi JOIN items i ON i.id = bi.item_id "
                          "WHERE bi.batch_id = ? ORDER BY bi.rank", (batch_id,))
        return [{**dict(r), "reason": json.loads(r["reason"]) if r["reason"] else {}} for r in rows]

    def pending_item_ids(self) -> set[str]:
        """Items suggested in a batch and not yet labeled or expired (never suggested again meanwhile)."""
        return {r["item_id"] for r in self.query("SELECT DISTINCT item_id FROM batch_items WHERE status = 'pending'")}

    def expire_pending(self, older_than_days: float, now: datetime | None = None) -> int:
        """Mark pending suggestions of batches older than ``older_than_days`` as expired; returns how many."""
        from datetime import timedelta

        cutoff = ((now or datetime.now(timezone.utc)) - timedelta(days=older_than_days)).replace(microsecond=0)
        stamp = cutoff.isoformat().replace("+00:00", "Z")
        with self.transaction() as c:
            cur = c.execute("UPDATE batch_items SET status = 'expired' WHERE status = 'pending' AND batch_id IN "
                            "(SELECT id FROM batches WHERE created_at < ?)", (stamp,))
            return int(cur.rowcount)

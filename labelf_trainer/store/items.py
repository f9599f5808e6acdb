"""The pool: every text of the workspace (imported, pulled from a labeling tool, or routed service traffic)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Container, Iterable
from typing import TYPE_CHECKING

import numpy as np

from ..types import Item, text_hash
from .db import utcnow

if TYPE_CHECKING:
    from .db import Workspace

__all__ = ["ItemStore", "CHUNK"]

CHUNK = 900
"""Ids per ``IN (...)`` query (SQLite's default limit of host parameters is 999)."""


def _item(r: sqlite3.Row) -> Item:
    gold = tuple(json.loads(r["gold"])) if r["gold"] else None
    return Item(id=r["id"], text=r["text"], source=r["source"], gold=gold, meta=json.loads(r["meta"]))


class ItemStore:
    """``ws.items``: add texts (known ids are skipped), read them back, look them up by content hash."""

    def __init__(self, ws: "Workspace") -> None:
        self.ws = ws

    def add(self, items: Iterable[Item], origin: str = "import") -> tuple[int, int]:
        """Add items to the pool; items whose id is already known are skipped. Returns (added, skipped)."""
        now = utcnow()
        rows = [(it.id, it.text, it.hash, it.source, origin, json.dumps(list(it.gold)) if it.gold else None,
                 json.dumps(it.meta), now) for it in items]
        with self.ws.transaction() as c:
            before = c.execute("SELECT COUNT(*) FROM items").fetchone()[0]
            c.executemany("INSERT OR IGNORE INTO items(id, text, hash, source, origin, gold, meta, created_at) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            added = c.execute("SELECT COUNT(*) FROM items").fetchone()[0] - before
        return added, len(rows) - added

    def count(self) -> int:
        return self.ws.query("SELECT COUNT(*) AS n FROM items")[0]["n"]

    def all(self, origin: str | None = None) -> list[Item]:
        """Every item in insertion order (or those of one ``origin``)."""
        sql, params = "SELECT * FROM items", []
        if origin:
            sql, params = sql + " WHERE origin = ?", [origin]
        return [_item(r) for r in self.ws.query(sql + " ORDER BY rowid", params)]

    def get(self, ids: Iterable[str]) -> list[Item]:
        """The items with these ids, in that order (unknown ids are left out)."""
        ids = list(ids)
        by_id: dict[str, Item] = {}
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            q = f"SELECT * FROM items WHERE id IN ({','.join('?' * len(chunk))})"
            by_id.update((r["id"], _item(r)) for r in self.ws.query(q, chunk))
        return [by_id[i] for i in ids if i in by_id]

    def index(self) -> list[tuple[str, str]]:
        """(id, origin) of every item in insertion order, without the texts (cheap on a million-text pool)."""
        return [(r[0], r[1]) for r in self.ws.query("SELECT id, origin FROM items ORDER BY rowid")]

    def draw_texts(self, size: int, rng: np.random.Generator, *, order: str = "rowid", skip_ids: Container[str] = (),
                   skip_hashes: Container[str] = ()) -> tuple[list[str], int]:
        """Texts of up to ``size`` items drawn uniformly with ``rng`` (in ``order``: ``rowid`` or ``id``) from those
        not in ``skip_ids`` and whose text hash is not in ``skip_hashes``, and how many there were to draw from.
        Only the drawn texts are read, so a million-text pool costs its ids and hashes, not its texts."""
        if order not in ("rowid", "id"):
            raise ValueError(f"order must be rowid or id, not {order!r}")
        rows = self.ws.query(f"SELECT id, hash FROM items ORDER BY {order}")
        ids = [r[0] for r in rows if r[0] not in skip_ids and r[1] not in skip_hashes]
        n = len(ids)
        if n > size:
            ids = [ids[i] for i in np.sort(rng.choice(n, size=size, replace=False))]
        return [it.text for it in self.get(ids)], n

    def origins(self) -> dict[str, str]:
        """Item id -> origin (``import``, ``traffic``, ``label-studio``...)."""
        return {r["id"]: r["origin"] for r in self.ws.query("SELECT id, origin FROM items")}

    def sample_texts(self, n: int) -> list[str]:
        """Up to ``n`` texts drawn at random."""
        return [r["text"] for r in self.ws.query("SELECT text FROM items ORDER BY random() LIMIT ?", [int(n)])]

    def known_hashes(self, hashes: Iterable[str]) -> set[str]:
        """Which of these content hashes are in the pool."""
        hashes = list(dict.fromkeys(hashes))
        found: set[str] = set()
        for start in range(0, len(hashes), CHUNK):
            chunk = hashes[start:start + CHUNK]
            q = f"SELECT hash FROM items WHERE hash IN ({','.join('?' * len(chunk))})"
            found.update(r["hash"] for r in self.ws.query(q, chunk))
        return found

    def id_for_text(self, text: str) -> str | None:
        """The oldest item with exactly this text, if any."""
        rows = self.ws.query("SELECT id FROM items WHERE hash = ? ORDER BY rowid LIMIT 1", (text_hash(text),))
        return rows[0]["id"] if rows else None

    def exists(self, item_id: str) -> bool:
        return bool(self.ws.query("SELECT 1 FROM items WHERE id = ?", (item_id,)))

    def text(self, item_id: str) -> str | None:
        rows = self.ws.query("SELECT text FROM items WHERE id = ?", (item_id,))
        return rows[0]["text"] if rows else None

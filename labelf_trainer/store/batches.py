"""Suggestion batches: what the sampler picked, in which order, why, and whether each pick is still pending."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from ..exceptions import StoreError
from .db import utcnow
from .items import CHUNK

if TYPE_CHECKING:
    from .db import Workspace

__all__ = ["BatchStore"]


class BatchStore:
    """``ws.batches``: record batches, list them, track the status of each suggested item."""

    def __init__(self, ws: "Workspace") -> None:
        self.ws = ws

    def create(self, strategy: str, rows: Iterable[dict[str, Any]], *, model_id: int | None = None,
               model_version: int | None = None, seed: int | None = None,
               params: dict[str, Any] | None = None) -> int:
        """Record a batch and its items (status 'pending') in one transaction; returns the batch id.

        Each row: ``item_id``, ``rank``, and optionally ``score``, ``predicted``, ``confidence``, ``reason`` (dict),
        ``audit`` (drawn uniformly from the pool: its label measures accuracy on the traffic).
        """
        rows = list(rows)
        with self.ws.transaction() as c:
            cur = c.execute("INSERT INTO batches(created_at, strategy, model_id, model_version, seed, params) "
                            "VALUES (?, ?, ?, ?, ?, ?)",
                            (utcnow(), strategy, model_id, model_version, seed, json.dumps(params or {})))
            batch_id = int(cur.lastrowid or 0)
            c.executemany(
                "INSERT INTO batch_items(batch_id, item_id, rank, score, predicted, confidence, reason, audit) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(batch_id, r["item_id"], int(r["rank"]), r.get("score"), r.get("predicted"), r.get("confidence"),
                  json.dumps(r.get("reason") or {}, ensure_ascii=False), int(bool(r.get("audit"))))
                 for r in rows])
        return batch_id

    def list(self) -> list[dict[str, Any]]:
        """Every batch (oldest first) with its item counts per status."""
        rows = self.ws.query(
            "SELECT b.*, SUM(bi.status = 'pending') AS pending, SUM(bi.status = 'labeled') AS labeled, "
            "SUM(bi.status = 'expired') AS expired, COUNT(bi.item_id) AS size FROM batches b "
            "LEFT JOIN batch_items bi ON bi.batch_id = b.id GROUP BY b.id ORDER BY b.id")
        return [{**dict(r), "params": json.loads(r["params"]), "pending": r["pending"] or 0,
                 "labeled": r["labeled"] or 0, "expired": r["expired"] or 0} for r in rows]

    def ids(self) -> list[int]:
        return [r["id"] for r in self.ws.query("SELECT id FROM batches ORDER BY id")]

    def get(self, batch_id: int) -> dict[str, Any]:
        """One batch's record (see :meth:`list`); :class:`StoreError` naming the known batches if there is none."""
        for b in self.list():
            if b["id"] == batch_id:
                return b
        listed = ", ".join(map(str, self.ids())) or "none yet; run `labelf suggest`"
        raise StoreError(f"no suggestion batch {batch_id} (batches: {listed})")

    def items(self, batch_id: int) -> list[dict[str, Any]]:
        """The items of a batch in rank order, with their text, score, prediction, reason and status."""
        self.get(batch_id)
        rows = self.ws.query("SELECT bi.*, i.text FROM batch_items bi JOIN items i ON i.id = bi.item_id "
                             "WHERE bi.batch_id = ? ORDER BY bi.rank", (batch_id,))
        return [{**dict(r), "reason": json.loads(r["reason"]) if r["reason"] else {}} for r in rows]

    def push_rows(self, batch_id: int | None = None) -> list[sqlite3.Row]:
        """Rows to send to a labeling tool: one batch's items in rank order, or (None) every pending item.

        Each row: ``batch_id, item_id, rank, score, confidence, reason`` (JSON) and the batch's model.
        """
        sql = ("SELECT bi.batch_id, bi.item_id, bi.rank, bi.score, bi.confidence, bi.reason, b.model_id, "
               "b.model_version FROM batch_items bi JOIN batches b ON b.id = bi.batch_id ")
        if batch_id is not None:
            self.get(batch_id)
            return self.ws.query(sql + "WHERE bi.batch_id = ? ORDER BY bi.rank", (batch_id,))
        return self.ws.query(sql + "WHERE bi.status = 'pending' ORDER BY bi.batch_id, bi.rank")

    def audit_counts(self) -> tuple[int, int]:
        """(texts ever batched, of which audit picks), each text counted once."""
        row = self.ws.query("SELECT COUNT(DISTINCT item_id) AS n, COUNT(DISTINCT CASE WHEN audit = 1 THEN item_id END) "
                            "AS a FROM batch_items")[0]
        return int(row["n"] or 0), int(row["a"] or 0)

    def sampler_item_ids(self) -> set[str]:
        """Items a sampling strategy picked (in any batch), audit picks left out."""
        return {r["item_id"] for r in self.ws.query("SELECT DISTINCT item_id FROM batch_items WHERE audit = 0")}

    def audit_item_ids(self) -> set[str]:
        """Items picked uniformly from the pool as audit texts (in any batch)."""
        return {r["item_id"] for r in self.ws.query("SELECT DISTINCT item_id FROM batch_items WHERE audit = 1")}

    def pending_item_ids(self) -> set[str]:
        """Items suggested in a batch and not yet labeled or expired (never suggested again meanwhile)."""
        return {r["item_id"] for r in self.ws.query("SELECT DISTINCT item_id FROM batch_items WHERE status = 'pending'")}

    def pending_batches_of(self, item_ids: Iterable[str]) -> list[int]:
        """Ids of the batches in which any of these items is pending."""
        ids = list(dict.fromkeys(item_ids))
        found: set[int] = set()
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            found.update(r["batch_id"] for r in self.ws.query(
                f"SELECT DISTINCT batch_id FROM batch_items WHERE status = 'pending' AND item_id IN "
                f"({','.join('?' * len(chunk))})", chunk))
        return sorted(found)

    def mark_labeled(self, item_ids: Iterable[str]) -> None:
        """The items' pending suggestions are done."""
        self.ws.executemany("UPDATE batch_items SET status = 'labeled' WHERE item_id = ? AND status = 'pending'",
                            [(i,) for i in dict.fromkeys(item_ids)])

    def expire_pending(self, older_than_days: float, now: datetime | None = None) -> int:
        """Mark pending suggestions of batches older than ``older_than_days`` as expired; returns how many."""
        cutoff = ((now or datetime.now(timezone.utc)) - timedelta(days=older_than_days)).replace(microsecond=0)
        stamp = cutoff.isoformat().replace("+00:00", "Z")
        cur = self.ws.execute("UPDATE batch_items SET status = 'expired' WHERE status = 'pending' AND batch_id IN "
                              "(SELECT id FROM batches WHERE created_at < ?)", (stamp,))
        return int(cur.rowcount)

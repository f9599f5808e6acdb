"""Annotations: the labels given to texts, their history, and the rows connectors keep in sync.

An item's effective labels are its highest-id ``active`` annotation, so an edited label is re-inserted under a new
id and becomes the latest whichever source wrote before it. Rows of an external tool carry ``(source,
external_id)``; their ``status`` says what they count for (``active``, ``superseded``, ``conflict``, ``skipped``,
``deleted``; see :mod:`labelf_trainer.connectors.ingest`). Items with a ``conflict`` row are left out of the
labeled set until someone settles them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..types import Annotation
from .db import utcnow

if TYPE_CHECKING:
    from .db import Workspace

__all__ = ["AnnotationStore", "COLUMNS", "ALIASES_KEY", "RELABEL_LOG_KEY"]

ALIASES_KEY = "labels.aliases"
"""kv entry: ``{old name: current name}`` for renamed and merged labels (what pulls and label files map)."""
RELABEL_LOG_KEY = "labels.relabel_log"
"""kv entry: one record per :meth:`AnnotationStore.relabel` (its mapping and each changed row's old labels)."""

COLUMNS = ("item_id", "labels", "annotator", "source", "external_id", "status", "created_at", "updated_at")


def _like(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + "%"


class AnnotationStore:
    """``ws.annotations``: record labels, read the effective ones, keep an external tool's rows in sync."""

    def __init__(self, ws: "Workspace") -> None:
        self.ws = ws

    def add(self, annotations: Iterable[Annotation]) -> int:
        """Record annotations (one with a known ``(source, external_id)`` is updated, not doubled; an edited one
        becomes the item's latest). Marks the items' pending suggestions as labeled. Returns how many were written.
        """
        now = utcnow()
        anns = list(annotations)
        with self.ws.transaction() as c:
            for a in anns:
                labels = json.dumps(sorted(a.labels))
                old = None if a.external_id is None else c.execute(
                    "SELECT id, labels, annotator, status FROM annotations WHERE source = ? AND external_id = ?",
                    (a.source, a.external_id)).fetchone()
                if old is not None:  # the same annotation again: unchanged, or edited (then it becomes the latest)
                    if (old["labels"], old["status"]) != (labels, "active"):
                        self.rewrite(old["id"], item_id=a.item_id, labels=labels, annotator=a.annotator,
                                     status="active", updated_at=now)
                    elif old["annotator"] != a.annotator:
                        self.update(old["id"], annotator=a.annotator, updated_at=now)
                else:
                    self.insert(a.item_id, labels, a.annotator, a.source, a.external_id, "active", now)
            self.ws.batches.mark_labeled([a.item_id for a in anns])
        return len(anns)

    def labeled(self) -> dict[str, tuple[str, ...]]:
        """Effective labels per item: the latest active annotation; items with a conflict are left out."""
        rows = self.ws.query(
            "SELECT a.item_id, a.labels FROM annotations a JOIN ("
            "  SELECT item_id, MAX(id) AS id FROM annotations WHERE status = 'active' GROUP BY item_id"
            ") latest ON a.id = latest.id "
            "WHERE a.item_id NOT IN (SELECT item_id FROM annotations WHERE status = 'conflict') "
            "ORDER BY a.id")
        return {r["item_id"]: tuple(json.loads(r["labels"])) for r in rows}

    def count(self) -> int:
        return self.ws.query("SELECT COUNT(*) AS n FROM annotations WHERE status = 'active'")[0]["n"]

    def votes(self) -> dict[str, dict[str, tuple[str, ...]]]:
        """Each annotator's latest live answer per item (``active``, ``superseded`` or ``conflict`` rows; skipped
        and deleted ones are not answers): ``{item_id: {annotator: labels}}``, what agreement is measured on."""
        rows = self.ws.query(
            "SELECT a.item_id, a.annotator, a.labels FROM annotations a JOIN ("
            "  SELECT item_id, annotator, MAX(id) AS id FROM annotations"
            "  WHERE status IN ('active', 'superseded', 'conflict') GROUP BY item_id, annotator"
            ") latest ON a.id = latest.id ORDER BY a.id")
        out: dict[str, dict[str, tuple[str, ...]]] = {}
        for r in rows:
            out.setdefault(r["item_id"], {})[r["annotator"]] = tuple(json.loads(r["labels"]))
        return out

    def latest_rows(self) -> dict[str, int]:
        """Item id -> the row id of its effective (latest active) annotation: a new label gives a new id."""
        rows = self.ws.query("SELECT item_id, MAX(id) AS id FROM annotations WHERE status = 'active' GROUP BY item_id")
        return {r["item_id"]: int(r["id"]) for r in rows}

    def conflicted(self) -> set[str]:
        """Items with a ``conflict`` row (left out of the labeled set until settled)."""
        return {r["item_id"] for r in self.ws.query(
            "SELECT DISTINCT item_id FROM annotations WHERE status = 'conflict'")}

    # -- rows of external tools (connectors) -----------------------------------------------------------------
    def insert(self, item_id: str, labels: str | Sequence[str], annotator: str, source: str,
               external_id: str | None, status: str, updated_at: str) -> None:
        """One new row (``labels``: a JSON list or the labels)."""
        labels_json = labels if isinstance(labels, str) else json.dumps(sorted(labels))
        self.ws.execute(f"INSERT INTO annotations({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                        (item_id, labels_json, annotator, source, external_id, status, utcnow(), updated_at))

    def rewrite(self, row_id: int, **changes: Any) -> None:
        """Change a row by re-inserting it under a new id, so that it becomes the item's latest."""
        with self.ws.transaction() as c:
            old = c.execute("SELECT * FROM annotations WHERE id = ?", (row_id,)).fetchone()
            values = {k: old[k] for k in old.keys() if k != "id"} | changes
            c.execute("DELETE FROM annotations WHERE id = ?", (row_id,))
            c.execute(f"INSERT INTO annotations({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                      list(values.values()))

    def update(self, row_id: int, **fields: Any) -> None:
        """Change columns of a row in place (its position in the item's history stays)."""
        bad = set(fields) - set(COLUMNS)
        if bad:
            raise ValueError(f"not annotation columns: {sorted(bad)}")
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.ws.execute(f"UPDATE annotations SET {sets} WHERE id = ?", (*fields.values(), row_id))

    def by_external_prefix(self, source: str, prefix: str) -> dict[str, sqlite3.Row]:
        """Rows of ``source`` whose external id starts with ``prefix``, by external id."""
        rows = self.ws.query("SELECT id, item_id, external_id, labels, status, annotator, updated_at FROM annotations"
                             " WHERE source = ? AND external_id LIKE ? ESCAPE '\\'", (source, _like(prefix)))
        return {r["external_id"]: r for r in rows}

    def external_ids(self, source: str, prefix: str = "", *, include_deleted: bool = False) -> list[str]:
        """Distinct external ids of ``source`` starting with ``prefix``."""
        rows = self.ws.query("SELECT DISTINCT external_id FROM annotations WHERE source = ? AND external_id LIKE ? "
                             "ESCAPE '\\'" + ("" if include_deleted else " AND status != 'deleted'"),
                             (source, _like(prefix)))
        return [r["external_id"] for r in rows]

    def item_of(self, source: str, external_id_prefix: str) -> str | None:
        """The item of the first row of ``source`` whose external id starts with the prefix."""
        rows = self.ws.query("SELECT item_id FROM annotations WHERE source = ? AND external_id LIKE ? ESCAPE '\\' "
                             "ORDER BY id LIMIT 1", (source, _like(external_id_prefix)))
        return rows[0]["item_id"] if rows else None

    # -- renamed and merged labels (labelf labels rename|merge) ----------------------------------------------
    def aliases(self) -> dict[str, str]:
        """Old label names -> the names they became (``labelf labels rename``/``merge``)."""
        return dict(self.ws.kv.get(ALIASES_KEY, {}))

    def relabel(self, mapping: dict[str, str], *, aliases: dict[str, str] | None = None,
                note: dict[str, Any] | None = None) -> tuple[int, int]:
        """Rename labels in every annotation row (any status, any source), in one transaction.

        Rows are changed in place, not re-inserted: a rename is not a new judgement, so each item's history keeps
        its order (the newest still wins), the rows of an external tool keep their ``(source, external_id)`` and
        agreement still sees the same annotators. The history is kept in the kv entry :data:`RELABEL_LOG_KEY`: the
        mapping, ``note``, and every changed row's id with its labels before. ``aliases`` (if given) replaces
        :data:`ALIASES_KEY` in the same transaction. Returns (rows changed, items touched).
        """
        changed: list[tuple[int, str]] = []
        items: set[str] = set()
        with self.ws.transaction() as c:
            for r in c.execute("SELECT id, item_id, labels FROM annotations").fetchall():
                old = json.loads(r["labels"])
                if not any(lab in mapping for lab in old):
                    continue
                new = json.dumps(sorted(dict.fromkeys(mapping.get(lab, lab) for lab in old)))
                c.execute("UPDATE annotations SET labels = ? WHERE id = ?", (new, r["id"]))
                changed.append((int(r["id"]), r["labels"]))
                items.add(r["item_id"])
            log = list(self.ws.kv.get(RELABEL_LOG_KEY, []))
            log.append({"at": utcnow(), "mapping": mapping, **(note or {}), "rows": changed})
            self.ws.kv.set(RELABEL_LOG_KEY, log)
            if aliases is not None:
                self.ws.kv.set(ALIASES_KEY, aliases)
        return len(changed), len(items)

    def label_counts(self) -> dict[str, int]:
        """Labeled texts per label (effective labels, as :meth:`labeled`)."""
        counts: dict[str, int] = {}
        for labels in self.labeled().values():
            for lab in labels:
                counts[lab] = counts.get(lab, 0) + 1
        return counts

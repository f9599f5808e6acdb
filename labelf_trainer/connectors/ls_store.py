"""Writing Label Studio annotations into the workspace store, with the conflict policy applied per task.

Every Label Studio annotation is one row of ``annotations`` (``source='label-studio'``, ``external_id`` =
``ls:<project>:<task>:<annotation>``, ``updated_at`` = Label Studio's time of its last change), whose ``status``
says what it counts for:

- ``active``: the task's effective labels (exactly one row per resolved task);
- ``superseded``: another annotation of the same task won (policy ``latest`` or ``majority``);
- ``conflict``: annotators disagree and the policy keeps them all (``conflict``, or a ``majority`` tie); the store
  leaves such items out of the labeled set until someone settles them in Label Studio;
- ``skipped``: the annotator skipped (cancelled) the task;
- ``deleted``: the annotation was deleted in Label Studio.

A whole pull is one transaction, and labels missing from the config raise :class:`UnknownLabelError` before
anything is written. Writing the same state twice changes no row.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..exceptions import DataError, UnknownLabelError
from ..store import Workspace, rewrite_annotation, utcnow
from ..types import stable_id, text_hash

__all__ = ["SOURCE", "IngestStats", "LSAnnotation", "LSTask", "external_id", "ingest", "mark_deleted", "resolve"]

SOURCE = "label-studio"
POLICIES = ("majority", "latest", "conflict")


@dataclass(frozen=True)
class LSAnnotation:
    """One Label Studio annotation, reduced to what the store needs."""

    id: int
    labels: tuple[str, ...]
    annotator: str
    updated_at: str
    cancelled: bool = False


@dataclass(frozen=True)
class LSTask:
    """One task: our item id (``data.labelf_id``, absent for tasks made in Label Studio), text, annotations."""

    id: int
    text: str
    item_id: str | None = None
    annotations: tuple[LSAnnotation, ...] = ()


@dataclass
class IngestStats:
    new: int = 0
    updated: int = 0
    deleted: int = 0
    skipped: int = 0
    conflicts: int = 0
    new_items: int = 0
    item_ids: list[str] = field(default_factory=list)


def external_id(project_id: int, task_id: int, annotation_id: int) -> str:
    return f"ls:{project_id}:{task_id}:{annotation_id}"


def resolve(annotations: Sequence[tuple[str, tuple[str, ...], str]], policy: str) -> dict[str, str]:
    """Status per annotation key for one task's live (not skipped) annotations ``(key, labels, updated_at)``.

    All agree: the latest is ``active``, the rest ``superseded``. Otherwise ``latest`` takes the latest,
    ``majority`` the latest of the most frequent labels (a tie is a conflict), ``conflict`` keeps all as ``conflict``.
    """
    if policy not in POLICIES:
        raise ValueError(f"conflict policy must be one of {POLICIES}, not {policy!r}")
    if not annotations:
        return {}
    ordered = sorted(annotations, key=lambda a: (a[2], a[0]))
    counts = Counter(a[1] for a in ordered)
    if len(counts) > 1 and policy == "conflict":
        return {a[0]: "conflict" for a in ordered}
    if len(counts) > 1 and policy == "majority":
        (top, n), *rest = counts.most_common()
        if rest and rest[0][1] == n:
            return {a[0]: "conflict" for a in ordered}
        winner = [a for a in ordered if a[1] == top][-1][0]
    else:
        winner = ordered[-1][0]
    return {a[0]: ("active" if a[0] == winner else "superseded") for a in ordered}


def _shown(task_ids: Iterable[int]) -> str:
    ids = sorted(set(task_ids))
    return ", ".join(map(str, ids[:10])) + (" ..." if len(ids) > 10 else "")


def check_labels(tasks: Iterable[LSTask], known: Sequence[str], project_id: int, *, multi_label: bool = True) -> None:
    """Raise :class:`UnknownLabelError` listing labels (and tasks) that the config does not define, and
    :class:`DataError` for annotations with several choices when the project is single-label."""
    known_set = set(known)
    unknown: dict[str, list[int]] = {}
    several: list[int] = []
    for t in tasks:
        for a in t.annotations:
            if not multi_label and len(set(a.labels)) > 1:
                several.append(t.id)
            for lab in a.labels:
                if lab not in known_set:
                    unknown.setdefault(lab, []).append(t.id)
    if several:
        raise DataError(f"Label Studio project {project_id}: task(s) {_shown(several)} have annotations with several "
                        "labels, but the project is single-label (use choice=\"single\" in the labeling config, or "
                        "task: multi-label in the project config); nothing was pulled")
    if unknown:
        shown = _shown(i for ids in unknown.values() for i in ids)
        raise UnknownLabelError(list(unknown), list(known),
                                where=f"Label Studio project {project_id} (task(s) {shown}); nothing was pulled")


def _item_for(c: sqlite3.Connection, task: LSTask, stats: IngestStats) -> str:
    """The item a task belongs to: its ``labelf_id``, else a pool item with the same text; added to the pool
    (origin ``label-studio``) when the store has neither."""
    item_id = task.item_id
    if item_id is None:
        same = c.execute("SELECT id FROM items WHERE hash = ? ORDER BY rowid LIMIT 1",
                         (text_hash(task.text),)).fetchone()
        item_id = same["id"] if same is not None else stable_id(task.text)
    if c.execute("SELECT 1 FROM items WHERE id = ?", (item_id,)).fetchone() is None:
        c.execute("INSERT INTO items(id, text, hash, source, origin, gold, meta, created_at) "
                  "VALUES (?, ?, ?, ?, 'label-studio', NULL, ?, ?)",
                  (item_id, task.text, text_hash(task.text), SOURCE, json.dumps({"ls_task_id": task.id}), utcnow()))
        stats.new_items += 1
    return item_id


def _apply_task(c: sqlite3.Connection, project_id: int, task: LSTask, *, policy: str, multi_label: bool,
                complete: bool, stats: IngestStats) -> None:
    prefix = f"ls:{project_id}:{task.id}:"
    rows = {r["external_id"]: r for r in c.execute(
        "SELECT id, external_id, labels, status, annotator, updated_at FROM annotations "
        "WHERE source = ? AND external_id LIKE ? ESCAPE '\\'", (SOURCE, prefix.replace("_", "\\_") + "%"))}
    if not task.annotations and not rows:
        return  # an unannotated task: nothing to record, no item to add
    item_id = _item_for(c, task, stats)
    # the task's annotations as they are now: stored ones, overridden by what the server sent
    live: dict[str, tuple[tuple[str, ...], str, str, bool]] = {}  # key -> (labels, annotator, updated_at, skipped)
    for key, r in rows.items():
        if r["status"] != "deleted":
            live[key] = (tuple(json.loads(r["labels"])), r["annotator"], r["updated_at"], r["status"] == "skipped")
    sent = {external_id(project_id, task.id, a.id): a for a in task.annotations}
    if complete:
        live = {k: v for k, v in live.items() if k in sent}
    for key, a in sent.items():
        empty = not a.labels and not multi_label
        live[key] = (a.labels, a.annotator, a.updated_at, a.cancelled or empty)
    statuses = {k: "skipped" for k, v in live.items() if v[3]}
    statuses.update(resolve([(k, v[0], v[2]) for k, v in live.items() if not v[3]], policy))
    if "conflict" in statuses.values():
        stats.conflicts += 1
    now = utcnow()
    before = (stats.new, stats.updated, stats.deleted, stats.skipped)
    for key, (labels, annotator, updated_at, _skipped) in live.items():
        status, labels_json = statuses[key], json.dumps(sorted(labels))
        old = rows.get(key)
        if old is None:
            c.execute("INSERT INTO annotations(item_id, labels, annotator, source, external_id, status, created_at,"
                      " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                      (item_id, labels_json, annotator, SOURCE, key, status, now, updated_at))
            if status == "skipped":
                stats.skipped += 1
            else:
                stats.new += 1
        elif (old["labels"], old["status"], old["updated_at"], old["annotator"]) != \
                (labels_json, status, updated_at, annotator):
            if (old["labels"], old["status"]) != (labels_json, status):  # an edit: it becomes the item's latest
                rewrite_annotation(c, old["id"], labels=labels_json, status=status, annotator=annotator,
                                   updated_at=updated_at, item_id=item_id)
            else:
                c.execute("UPDATE annotations SET annotator = ?, updated_at = ?, item_id = ? WHERE id = ?",
                          (annotator, updated_at, item_id, old["id"]))
            if old["status"] == "deleted" or old["labels"] != labels_json or old["status"] != status:
                stats.updated += 1
    for key, old in rows.items():
        if key not in live and old["status"] != "deleted":
            c.execute("UPDATE annotations SET status = 'deleted', updated_at = ? WHERE id = ?", (now, old["id"]))
            stats.deleted += 1
    if "active" in statuses.values():
        c.execute("UPDATE batch_items SET status = 'labeled' WHERE item_id = ? AND status = 'pending'", (item_id,))
    if (stats.new, stats.updated, stats.deleted, stats.skipped) != before:
        stats.item_ids.append(item_id)


def ingest(ws: Workspace, project_id: int, tasks: Sequence[LSTask], *, known_labels: Sequence[str],
           policy: str = "majority", multi_label: bool = False, complete: bool = True,
           state: dict[str, object] | None = None) -> IngestStats:
    """Write the tasks' annotations in one transaction (``complete``: the tasks carry all their annotations, so
    stored ones they lack were deleted). ``state``: kv entries written in the same transaction (the pull cursor)."""
    check_labels(tasks, known_labels, project_id, multi_label=multi_label)
    stats = IngestStats()
    with ws.transaction() as c:
        for task in tasks:
            _apply_task(c, project_id, task, policy=policy, multi_label=multi_label, complete=complete, stats=stats)
        for key, value in (state or {}).items():
            c.execute("INSERT INTO kv(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                      (key, json.dumps(value)))
    return stats


def known_task_ids(ws: Workspace, project_id: int) -> set[int]:
    """Tasks of this project with annotations in the store (not deleted)."""
    rows = ws.query("SELECT DISTINCT external_id FROM annotations WHERE source = ? AND external_id LIKE ? "
                    "AND status != 'deleted'", (SOURCE, f"ls:{project_id}:%"))
    return {int(r["external_id"].split(":")[2]) for r in rows}


def mark_deleted(ws: Workspace, project_id: int, annotation_ids: Iterable[int], *, policy: str = "majority",
                 multi_label: bool = False) -> IngestStats:
    """Annotations deleted in Label Studio (a webhook): mark them deleted and re-resolve their tasks."""
    ids = {int(i) for i in annotation_ids}
    stats = IngestStats()
    rows = ws.query("SELECT external_id FROM annotations WHERE source = ? AND external_id LIKE ? "
                    "AND status != 'deleted'",
                    (SOURCE, f"ls:{project_id}:%"))
    tasks: dict[int, set[str]] = {}
    for r in rows:
        _ls, _p, task_id, ann_id = r["external_id"].split(":")
        if int(ann_id) in ids:
            tasks.setdefault(int(task_id), set()).add(r["external_id"])
    with ws.transaction() as c:
        for task_id, keys in tasks.items():
            now = utcnow()
            for key in keys:
                c.execute("UPDATE annotations SET status = 'deleted', updated_at = ? "
                          "WHERE source = ? AND external_id = ?",
                          (now, SOURCE, key))
                stats.deleted += 1
            item = c.execute("SELECT item_id FROM annotations WHERE source = ? AND external_id = ?",
                             (SOURCE, next(iter(keys)))).fetchone()["item_id"]
            text = c.execute("SELECT text FROM items WHERE id = ?", (item,)).fetchone()["text"]
            _apply_task(c, project_id, LSTask(id=task_id, text=text, item_id=item), policy=policy,
                        multi_label=multi_label, complete=False, stats=stats)
    return stats

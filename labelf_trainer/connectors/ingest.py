"""Writing pulled annotations into the workspace store, with the conflict policy applied per task (any connector).

Every annotation of a tool is one row of ``annotations`` (``source`` = the connector's source, ``external_id`` =
``<task key>:<annotation id>``, ``updated_at`` = the tool's time of its last change), whose ``status`` says what
it counts for:

- ``active``: the task's effective labels (exactly one row per resolved task);
- ``superseded``: another annotation of the same task won (policy ``latest`` or ``majority``);
- ``conflict``: annotators disagree and the policy keeps them all (``conflict``, or a ``majority`` tie); the store
  leaves such items out of the labeled set until someone settles them;
- ``skipped``: the annotator skipped (cancelled) the task;
- ``deleted``: the annotation was deleted in the tool.

Labels renamed or merged since the tool's annotation was made (``labelf labels rename|merge``) are read under
their current name (:func:`canonical_tasks`, the workspace's alias table). A whole pull is one transaction, and
labels missing from the config raise :class:`UnknownLabelError` before
anything is written. Writing the same state twice changes no row. The history is kept: an edit re-inserts the row
under a new id (it becomes the item's latest), a deletion only marks it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from ..exceptions import DataError, UnknownLabelError
from ..store import Workspace, utcnow
from ..types import Item, stable_id
from .base import PulledAnnotation, PulledTask, PullResult

__all__ = ["POLICIES", "canonical_tasks", "check_pulled_labels", "external_id", "ingest", "mark_deleted", "resolve",
           "effective_pairs"]

POLICIES = ("majority", "latest", "conflict")


def external_id(task: PulledTask, annotation: PulledAnnotation) -> str:
    return f"{task.key}:{annotation.id}"


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


def _shown(tasks: Iterable[PulledTask]) -> str:
    names = sorted({t.where or t.key for t in tasks})
    return ", ".join(names[:10]) + (" ..." if len(names) > 10 else "")


def canonical_tasks(tasks: Iterable[PulledTask], aliases: Mapping[str, str] | None = None,
                    canonical: Callable[[str], str] | None = None) -> list[PulledTask]:
    """The tasks with every label under its current name: ``aliases`` (old name -> current name, from
    ``labelf labels rename|merge``), then ``canonical`` (e.g. ``ProjectConfig.canonical_label``: the out-of-scope
    label's aliases). Labels repeated after mapping are kept once."""
    def name(lab: str) -> str:
        lab = (aliases or {}).get(lab, lab)
        return canonical(lab) if canonical is not None else lab

    out = []
    for t in tasks:
        anns = tuple(replace(a, labels=tuple(dict.fromkeys(name(lab) for lab in a.labels))) for a in t.annotations)
        out.append(t if anns == t.annotations else replace(t, annotations=anns))
    return out


def check_pulled_labels(tasks: Iterable[PulledTask], known: Sequence[str], target: str, *,
                        multi_label: bool = True, aliases: Mapping[str, str] | None = None,
                        canonical: Callable[[str], str] | None = None) -> None:
    """Raise :class:`UnknownLabelError` listing labels (and tasks) that the config does not define, and
    :class:`DataError` for annotations with several choices when the project is single-label. Labels are read
    under their current names first (:func:`canonical_tasks`)."""
    tasks = canonical_tasks(tasks, aliases, canonical)
    known_set = set(known)
    unknown: dict[str, list[PulledTask]] = {}
    several: list[PulledTask] = []
    for t in tasks:
        for a in t.annotations:
            if not multi_label and len(set(a.labels)) > 1:
                several.append(t)
            for lab in a.labels:
                if lab not in known_set:
                    unknown.setdefault(lab, []).append(t)
    if several:
        raise DataError(f"{target}: annotations with several labels on {_shown(several)}, but the project is "
                        "single-label (use a single choice in the labeling config, or task: multi-label in the "
                        "project config); nothing was pulled")
    if unknown:
        raise UnknownLabelError(list(unknown), list(known),
                                where=f"{target} ({_shown(t for ts in unknown.values() for t in ts)}); "
                                      "nothing was pulled")


def _item_for(ws: Workspace, task: PulledTask, source: str, stats: PullResult) -> str:
    """The item a task belongs to: its item id, else a pool item with the same text; added to the pool
    (origin = the source) when the store has neither."""
    item_id = task.item_id or ws.items.id_for_text(task.text) or stable_id(task.text)
    if not ws.items.exists(item_id):
        ws.items.add([Item(id=item_id, text=task.text, source=source, meta={"task": task.key})], origin=source)
        stats.new_items += 1
    return item_id


def _apply_task(ws: Workspace, source: str, task: PulledTask, *, policy: str, multi_label: bool, complete: bool,
                stats: PullResult) -> None:
    rows = ws.annotations.by_external_prefix(source, f"{task.key}:")
    if not task.annotations and not rows:
        return  # an unannotated task: nothing to record, no item to add
    item_id = _item_for(ws, task, source, stats)
    # the task's annotations as they are now: stored ones, overridden by what the tool sent
    live: dict[str, tuple[tuple[str, ...], str, str, bool]] = {}  # key -> (labels, annotator, updated_at, skipped)
    for key, r in rows.items():
        if r["status"] != "deleted":
            live[key] = (tuple(json.loads(r["labels"])), r["annotator"], r["updated_at"], r["status"] == "skipped")
    sent = {external_id(task, a): a for a in task.annotations}
    if complete:
        live = {k: v for k, v in live.items() if k in sent}
    for key, a in sent.items():
        empty = not a.labels and not multi_label
        live[key] = (a.labels, a.annotator, a.updated_at, a.cancelled or empty)
    statuses = {k: "skipped" for k, v in live.items() if v[3]}
    statuses.update(resolve([(k, v[0], v[2]) for k, v in live.items() if not v[3]], policy))
    if "conflict" in statuses.values():
        stats.conflicts += 1
    before = (stats.new, stats.updated, stats.deleted, stats.skipped)
    for key, (labels, annotator, updated_at, _skipped) in live.items():
        status, labels_json = statuses[key], json.dumps(sorted(labels))
        old = rows.get(key)
        if old is None:
            ws.annotations.insert(item_id, labels_json, annotator, source, key, status, updated_at)
            if status == "skipped":
                stats.skipped += 1
            else:
                stats.new += 1
        elif (old["labels"], old["status"], old["updated_at"], old["annotator"]) != \
                (labels_json, status, updated_at, annotator):
            if (old["labels"], old["status"]) != (labels_json, status):  # an edit: it becomes the item's latest
                ws.annotations.rewrite(old["id"], labels=labels_json, status=status, annotator=annotator,
                                       updated_at=updated_at, item_id=item_id)
            else:
                ws.annotations.update(old["id"], annotator=annotator, updated_at=updated_at, item_id=item_id)
            if old["status"] == "deleted" or old["labels"] != labels_json or old["status"] != status:
                stats.updated += 1
    for key, old in rows.items():
        if key not in live and old["status"] != "deleted":
            ws.annotations.update(old["id"], status="deleted", updated_at=utcnow())
            stats.deleted += 1
    if "active" in statuses.values():
        ws.batches.mark_labeled([item_id])
    if (stats.new, stats.updated, stats.deleted, stats.skipped) != before:
        stats.item_ids.append(item_id)


def ingest(ws: Workspace, source: str, tasks: Sequence[PulledTask], *, target: str, known_labels: Sequence[str],
           policy: str = "majority", multi_label: bool = False, complete: bool = True,
           state: dict[str, Any] | None = None, stats: PullResult | None = None,
           canonical: Callable[[str], str] | None = None) -> PullResult:
    """Write the tasks' annotations in one transaction (``complete``: the tasks carry all their annotations, so
    stored ones they lack were deleted). ``state``: kv entries written in the same transaction (the pull cursor).
    Labels are stored under their current names: the workspace's aliases of renamed and merged labels, then
    ``canonical`` (pass ``config.canonical_label`` so the out-of-scope aliases count as that label).
    """
    tasks = canonical_tasks(tasks, ws.annotations.aliases(), canonical)
    check_pulled_labels(tasks, known_labels, target, multi_label=multi_label)
    stats = stats or PullResult(target)
    with ws.transaction():
        for task in tasks:
            _apply_task(ws, source, task, policy=policy, multi_label=multi_label, complete=complete, stats=stats)
        for key, value in (state or {}).items():
            ws.kv.set(key, value)
    return stats


def mark_deleted(ws: Workspace, source: str, external_ids: Iterable[str], *, target: str, policy: str = "majority",
                 multi_label: bool = False) -> PullResult:
    """Annotations deleted in the tool (a webhook): mark them deleted and re-resolve their tasks."""
    stats = PullResult(target)
    by_task: dict[str, list[str]] = {}
    for key in external_ids:
        by_task.setdefault(key.rpartition(":")[0], []).append(key)
    with ws.transaction():
        for task_key, keys in by_task.items():
            rows = ws.annotations.by_external_prefix(source, f"{task_key}:")
            live = [rows[k] for k in keys if k in rows and rows[k]["status"] != "deleted"]
            if not live:
                continue
            for r in live:
                ws.annotations.update(r["id"], status="deleted", updated_at=utcnow())
                stats.deleted += 1
            item = live[0]["item_id"]
            _apply_task(ws, source, PulledTask(key=task_key, text=ws.items.text(item) or "", item_id=item),
                        policy=policy, multi_label=multi_label, complete=False, stats=stats)
    return stats


def effective_pairs(ws: Workspace, stats: PullResult) -> PullResult:
    """Fill ``stats.pairs`` with the (text, labels) now effective for the items the pull touched."""
    labeled = ws.annotations.labeled()
    touched = list(dict.fromkeys(i for i in stats.item_ids if i in labeled))
    stats.pairs = [(it.text, labeled[it.id]) for it in ws.items.get(touched)]
    return stats

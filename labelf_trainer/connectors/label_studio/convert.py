"""Label Studio's task and annotation JSON to and from our records (:class:`PulledTask`, :class:`TaskRow`)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from ..base import PulledAnnotation, PulledTask, TaskRow
from .schema import ID_FIELD, REVIEW_FIELD, LabelSchema

__all__ = ["SOURCE", "task_key", "to_pulled_task", "to_ls_task", "timestamp"]

SOURCE = "label-studio"
"""``annotations.source`` of rows pulled from Label Studio."""


def task_key(project_id: int, task_id: int) -> str:
    """Our key of a Label Studio task (annotation rows are ``<key>:<annotation id>``)."""
    return f"ls:{project_id}:{task_id}"


def timestamp(value: Any) -> str:
    """Label Studio timestamps (datetime or ISO text, 'Z' or offset) as one sortable UTC form."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _annotator(ann: dict[str, Any], users: dict[int, str]) -> str:
    who = ann.get("completed_by")
    if isinstance(who, dict):
        return str(who.get("email") or who.get("username") or f"ls-user-{who.get('id')}")
    name = str(ann.get("created_username") or "").split(",")[0].strip()
    if name:
        return name
    return users.get(who, f"ls-user-{who}") if isinstance(who, int) else "unknown"


def to_pulled_task(raw: dict[str, Any], project_id: int, schema: LabelSchema, users: dict[int, str]) -> PulledTask:
    """A Label Studio task (with its annotations) as a :class:`PulledTask`."""
    data = raw.get("data") or {}
    anns = tuple(
        PulledAnnotation(id=str(int(a["id"])), labels=schema.labels_of(a.get("result")),
                         annotator=_annotator(a, users), updated_at=timestamp(a.get("updated_at") or a.get("created_at")),
                         cancelled=bool(a.get("was_cancelled")))
        for a in raw.get("annotations") or [] if isinstance(a, dict) and a.get("id") is not None)
    item_id = data.get(ID_FIELD)
    return PulledTask(key=task_key(project_id, int(raw["id"])), text=schema.text_of(data),
                      item_id=str(item_id) if item_id not in (None, "") else None, annotations=anns,
                      where=f"task {int(raw['id'])}")


def to_ls_task(row: TaskRow, schema: LabelSchema) -> dict[str, Any]:
    """A task to import: the text (or dialogue), our item id (and, on a review task, the label row under review),
    the pre-annotation and why it was picked."""
    task: dict[str, Any] = {"data": {**schema.data_of(row.text), ID_FIELD: row.item_id},
                            "meta": {"labelf": row.meta()}}
    if row.review is not None:
        task["data"][REVIEW_FIELD] = row.review
    if row.prediction is not None:  # on a conversation, with the deciding excerpts highlighted (``evidence``)
        task["predictions"] = [{"model_version": row.prediction["model_version"], "score": row.prediction["score"],
                                "result": schema.result(row.prediction["labels"], text=row.text,
                                                        evidence=row.prediction.get("evidence") or ())}]
    return task

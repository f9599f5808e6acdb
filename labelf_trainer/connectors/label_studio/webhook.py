"""Label Studio webhooks: annotation events written into the store at once (no call back to Label Studio)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...exceptions import DataError
from ..base import PullResult
from ..ingest import ingest, mark_deleted
from .convert import SOURCE, to_pulled_task
from .schema import LabelSchema, parse_labeling_config

if TYPE_CHECKING:
    from ...loop.project import Project

__all__ = ["ingest_webhook"]


def ingest_webhook(project: "Project", payload: dict[str, Any]) -> PullResult | None:
    """Write what a Label Studio webhook reports (ANNOTATION_CREATED/UPDATED: that annotation, at once;
    ANNOTATIONS_DELETED: mark them deleted). Returns None for other actions. No call back to Label Studio."""
    action = payload.get("action")
    cfg = project.config
    proj = payload.get("project") or {}
    if action in ("ANNOTATION_CREATED", "ANNOTATION_UPDATED"):
        ann, task = payload.get("annotation"), payload.get("task")
        if not isinstance(ann, dict) or not isinstance(task, dict):
            raise DataError(f"{action} webhook: 'annotation' and 'task' objects are required")
        pid = int(proj.get("id") or task.get("project") or ann.get("project"))
        schema = parse_labeling_config(proj["label_config"]) if proj.get("label_config") else \
            LabelSchema(from_name=(ann.get("result") or [{}])[0].get("from_name", "label"), to_name="text",
                        labels=tuple(cfg.answer_labels))
        t = to_pulled_task({**task, "annotations": [ann]}, pid, schema, {})
        return ingest(project.ws, SOURCE, [t], target=f"Label Studio project {pid}", known_labels=cfg.answer_labels,
                      policy=cfg.labeling.conflict_policy, multi_label=cfg.multi_label, complete=False,
                      canonical=cfg.canonical_label)
    if action == "ANNOTATIONS_DELETED":
        anns = payload.get("annotations") or []
        pid = int(proj.get("id") or (anns[0].get("project") if anns else 0) or 0)
        ids = {str(int(a["id"])) for a in anns if isinstance(a, dict) and "id" in a}
        keys = [k for k in project.ws.annotations.external_ids(SOURCE, f"ls:{pid}:") if k.rsplit(":", 1)[1] in ids]
        return mark_deleted(project.ws, SOURCE, keys, target=f"Label Studio project {pid}",
                            policy=cfg.labeling.conflict_policy, multi_label=cfg.multi_label)
    return None

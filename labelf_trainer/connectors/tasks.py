"""What every connector sends: the task rows of a suggestion batch (or of every pending suggestion, or of chosen
items) and their pre-annotations from the model that picked them (default: the project's active model)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..exceptions import DataError, LabelfError
from ..predict import choices
from .base import TaskRow

if TYPE_CHECKING:
    from ..loop.project import Project

__all__ = ["batch_rows", "item_rows", "pre_annotate", "model_version_tag"]


def model_version_tag(model_id: int, version: int) -> str:
    """The ``model_version`` a labeling tool shows for predictions of a registry model version."""
    return f"labelf-{model_id}@{version}"


def _reason(raw: Any) -> Any:
    try:
        return json.loads(raw) if raw else None
    except (TypeError, ValueError):
        return raw


def batch_rows(project: "Project", batch_id: int | None = None) -> list[TaskRow]:
    """One batch's items in rank order, or (None) every pending suggestion; each item once."""
    rows = project.ws.batches.push_rows(batch_id)
    if batch_id is None and not rows:
        raise DataError("no pending suggestions to push: run `labelf suggest` first, or pass a batch file")
    texts = {it.id: it.text for it in project.ws.items.get(r["item_id"] for r in rows)}
    out: dict[str, TaskRow] = {}
    for r in rows:
        if r["item_id"] in out:
            continue
        model = (int(r["model_id"]), int(r["model_version"])) \
            if r["model_id"] is not None and r["model_version"] is not None else None
        out[r["item_id"]] = TaskRow(item_id=r["item_id"], text=texts[r["item_id"]], batch_id=r["batch_id"],
                                    rank=r["rank"], score=r["score"], confidence=r["confidence"],
                                    reason=_reason(r["reason"]), model=model)
    return list(out.values())


def item_rows(project: "Project", item_ids: Sequence[str]) -> list[TaskRow]:
    """Rows for chosen items (a batch file); unknown ids are an error naming them."""
    ids = list(dict.fromkeys(item_ids))
    items = project.ws.items.get(ids)
    missing = sorted(set(ids) - {it.id for it in items})
    if missing:
        raise DataError(f"item(s) not in the workspace: {', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}")
    return [TaskRow(item_id=it.id, text=it.text) for it in items]


def _current_model(project: "Project") -> tuple[int, int] | None:
    mid = project.registry.active_model_id()
    if mid is None:
        return None
    rec = project.registry.get(mid)
    return (mid, rec.current.version) if rec.current else None


def pre_annotate(project: "Project", rows: Sequence[TaskRow]) -> list[TaskRow]:
    """The rows with ``prediction`` filled from each row's model (default: the active model), with the routing band
    of its confidence. Rows whose ``prediction`` is already set (a review task's current label) keep it. A model
    that cannot be loaded leaves its rows without pre-annotation rather than failing the push."""
    groups: dict[tuple[int, int] | None, list[int]] = {}
    todo = [i for i, r in enumerate(rows) if r.prediction is None]
    default = _current_model(project) if todo else None
    for i in todo:
        groups.setdefault(rows[i].model or default, []).append(i)
    out = list(rows)
    multi = project.config.multi_label
    for ref, idx in groups.items():
        if ref is None:
            continue
        try:
            model = project.registry.load(*ref)
            proba = np.asarray(model.predict_proba([rows[i].text for i in idx]))
            bands = project.registry.bands(*ref, project.config.thresholds)
        except LabelfError:
            continue
        classes = list(model.classes_ or [])
        picks = choices(proba, classes, multi_label=multi, threshold=float(model.threshold))
        for i, row, (chosen, score, order) in zip(idx, proba, picks):
            out[i] = dataclasses.replace(out[i], prediction={
                "labels": chosen, "score": score, "scores": {classes[j]: round(float(row[j]), 4) for j in order},
                "model_version": model_version_tag(*ref), "band": bands.of(score)})
    return out

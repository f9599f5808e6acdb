"""What the quality commands remember in the workspace, readable without numpy (for `labelf status`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..loop.project import Project

__all__ = ["LAST_REVIEW_KEY", "suspect_count", "label_quality"]

LAST_REVIEW_KEY = "quality:last_review"
"""Workspace kv key: the last review's time, how many labels it reviewed, and its suspects (item id -> the row id
of the label that was flagged)."""


def suspect_count(project: "Project") -> dict[str, Any] | None:
    """The last review (None if none ran): when, how many labels it reviewed and flagged, and how many flagged
    labels nobody has looked at since (a newer label, corrected or confirmed, settles one)."""
    last = project.ws.kv.get(LAST_REVIEW_KEY)
    if not last:
        return None
    rows = project.ws.annotations.latest_rows()
    still = sum(1 for item_id, row in last["suspects"].items() if row is not None and rows.get(item_id) == row)
    return {"at": last["at"], "reviewed": last["reviewed"], "flagged": len(last["suspects"]), "still_suspect": still}


def label_quality(project: "Project") -> dict[str, Any]:
    """For the HTML report: the last review's suspect count and the annotators' agreement (each None if absent)."""
    from .agreement import agreement_summary

    return {"suspects": suspect_count(project), "agreement": agreement_summary(project)}

"""Rows of the model registry: models (id, type, labels, deployed version, threshold, routing) and their versions.

The registry (:mod:`labelf_trainer.registry`) owns the artefacts and the rules; this module only reads and writes
the two tables. JSON columns (labels, metrics, params) are returned decoded.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .db import utcnow

if TYPE_CHECKING:
    from .db import Workspace

__all__ = ["ModelStore"]


def _model(r: Any) -> dict[str, Any]:
    return {**dict(r), "labels": json.loads(r["labels"]), "multi_label": bool(r["multi_label"]),
            "routing": bool(r["routing"])}


def _version(r: Any) -> dict[str, Any]:
    return {**dict(r), "metrics": json.loads(r["metrics"]), "params": json.loads(r["params"])}


class ModelStore:
    """``ws.models``: model rows and version rows."""

    def __init__(self, ws: "Workspace") -> None:
        self.ws = ws

    def get(self, model_id: int) -> dict[str, Any] | None:
        rows = self.ws.query("SELECT * FROM models WHERE id = ?", (int(model_id),))
        return _model(rows[0]) if rows else None

    def list(self) -> list[dict[str, Any]]:
        return [_model(r) for r in self.ws.query("SELECT * FROM models ORDER BY id")]

    def ids(self) -> list[int]:
        return [r["id"] for r in self.ws.query("SELECT id FROM models ORDER BY id")]

    def versions(self, model_id: int) -> list[dict[str, Any]]:
        return [_version(r) for r in self.ws.query(
            "SELECT * FROM model_versions WHERE model_id = ? ORDER BY version", (int(model_id),))]

    def version_paths(self) -> set[str]:
        """Artefact paths (relative to the workspace) of every registered version."""
        return {r["path"] for r in self.ws.query("SELECT path FROM model_versions")}

    def deployments(self) -> dict[int, dict[str, Any]]:
        """Per model: deployed version, routing, confidence threshold and name (one cheap query, for pollers)."""
        rows = self.ws.query("SELECT id, deployed_version, routing, confidence_threshold, auto_threshold, name "
                             "FROM models")
        return {r["id"]: dict(r) for r in rows}

    def create(self, name: str, model_type: str, labels: list[str], *, multi_label: bool,
               confidence_threshold: float) -> int:
        cur = self.ws.execute(
            "INSERT INTO models(name, type, labels, multi_label, confidence_threshold, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (name, model_type, json.dumps(list(labels)), int(multi_label), confidence_threshold, utcnow()))
        return int(cur.lastrowid or 0)

    def delete_if_empty(self, model_id: int) -> bool:
        """Remove a model row that has no version (a failed first training leaves none behind)."""
        cur = self.ws.execute("DELETE FROM models WHERE id = ? AND NOT EXISTS "
                              "(SELECT 1 FROM model_versions WHERE model_id = ?)", (model_id, model_id))
        return cur.rowcount > 0

    def add_version(self, model_id: int, version: int, path: str, *, metrics: dict[str, Any],
                    training_examples: int, params: dict[str, Any], encoder_fingerprint: str | None,
                    deploy: bool) -> None:
        with self.ws.transaction() as c:
            c.execute("INSERT INTO model_versions(model_id, version, path, metrics, training_examples, last_trained,"
                      " params, encoder_fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                      (model_id, version, path, json.dumps(metrics), int(training_examples), utcnow(),
                       json.dumps(params, default=str), encoder_fingerprint))
            if deploy:
                self.set_deployed(model_id, version)

    def set_metrics(self, model_id: int, version: int, metrics: dict[str, Any]) -> None:
        """Replace a version's stored metrics (e.g. an accuracy estimate updated with new audit labels)."""
        self.ws.execute("UPDATE model_versions SET metrics = ? WHERE model_id = ? AND version = ?",
                        (json.dumps(metrics), model_id, version))

    def set_deployed(self, model_id: int, version: int | None) -> None:
        self.ws.execute("UPDATE models SET deployed_version = ? WHERE id = ?", (version, model_id))

    def set_threshold(self, model_id: int, threshold: float, auto: float | None = None) -> None:
        """The review threshold, and the auto threshold (None: the version's recommendation)."""
        self.ws.execute("UPDATE models SET confidence_threshold = ?, auto_threshold = ? WHERE id = ?",
                        (threshold, auto, model_id))

    def set_routing(self, model_id: int, on: bool) -> bool:
        """Routing of low-confidence traffic on or off; False if there is no such model."""
        return self.ws.execute("UPDATE models SET routing = ? WHERE id = ?", (int(on), int(model_id))).rowcount > 0

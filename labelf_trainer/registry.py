"""The model registry: integer model ids, immutable numbered versions, one deployed version per model.

Metadata lives in the workspace database; artefacts in ``models/<id>/v<N>/``. A version is written into a hidden
temporary folder and renamed into place only when complete, then recorded in one transaction, so an interrupted
write leaves the registry exactly as it was (a stray ``.tmp-*`` folder is ignored and cleaned up later).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .exceptions import ModelError, ModelNotFoundError
from .models import TextClassifier, load_classifier
from .store import Workspace, utcnow

__all__ = ["ModelRecord", "VersionRecord", "ModelRegistry", "MODEL_TYPE_NAMES", "ACTIVE_MODEL_KEY"]

MODEL_TYPE_NAMES = ("zero-shot", "embedding-head", "setfit", "fine-tuned")
ACTIVE_MODEL_KEY = "active_model_id"


@dataclass(frozen=True)
class VersionRecord:
    model_id: int
    version: int
    path: Path
    metrics: dict[str, Any]
    training_examples: int
    last_trained: str
    params: dict[str, Any]
    encoder_fingerprint: str | None


@dataclass(frozen=True)
class ModelRecord:
    id: int
    name: str
    type: str
    labels: list[str]
    multi_label: bool
    confidence_threshold: float
    deployed_version: int | None
    routing: bool
    created_at: str
    versions: list[VersionRecord] = field(default_factory=list)

    @property
    def status(self) -> str:
        return "deployed" if self.deployed_version is not None else ("trained" if self.versions else "created")

    @property
    def current(self) -> VersionRecord | None:
        """The deployed version, else the newest."""
        for v in self.versions:
            if v.version == self.deployed_version:
                return v
        return self.versions[-1] if self.versions else None

    def version(self, number: int | None) -> VersionRecord:
        if number is None:
            if self.current is None:
                raise ModelNotFoundError(f"model {self.id} has no versions")
            return self.current
        for v in self.versions:
            if v.version == number:
                return v
        raise ModelNotFoundError(f"model {self.id} has no version {number} "
                                 f"(versions: {', '.join(str(v.version) for v in self.versions) or 'none'})")

    def to_api(self) -> dict[str, Any]:
        """The model object in the shape of the Labelf v2 API."""
        cur = self.current
        metrics = dict(cur.metrics) if cur else {}
        per_class = {
            lab: {k: v for k, v in m.items() if k in ("precision", "recall", "f1")}
            for lab, m in (metrics.get("per_class") or {}).items()
        }
        return {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "status": self.status,
            "labels": list(self.labels),
            "metrics": {"accuracy": metrics.get("accuracy"), "f1_macro": metrics.get("f1_macro"), "per_class": per_class},
            "training_examples": cur.training_examples if cur else 0,
            "last_trained": cur.last_trained if cur else None,
            "confidence_threshold": self.confidence_threshold,
        }


def parse_model_ref(ref: str) -> tuple[int, int | None]:
    """``"42"`` -> (42, None); ``"42@3"`` or ``"42@v3"`` -> (42, 3)."""
    head, _, ver = str(ref).partition("@")
    try:
        model_id = int(head)
        version = int(ver.lstrip("vV")) if ver else None
    except ValueError:
        raise ModelNotFoundError(f"invalid model reference {ref!r}: use ID or ID@VERSION, e.g. 42 or 42@3") from None
    return model_id, version


class ModelRegistry:
    """Registers, versions, deploys and loads models of a workspace.

    Usage::

        reg = ModelRegistry(ws)
        model_id, version = reg.register("Contact reason", model, deploy=True)
        clf = reg.load(model_id)            # the deployed version
    """

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    # -- reading -------------------------------------------------------------------------------------------
    def get(self, model_id: int) -> ModelRecord:
        rows = self.ws.query("SELECT * FROM models WHERE id = ?", (int(model_id),))
        if not rows:
            known = [str(r["id"]) for r in self.ws.query("SELECT id FROM models ORDER BY id")]
            raise ModelNotFoundError(f"no model with id {model_id} (models: {', '.join(known) or 'none'})")
        return self._record(rows[0])

    def list(self) -> list[ModelRecord]:
        return [self._record(r) for r in self.ws.query("SELECT * FROM models ORDER BY id")]

    def _record(self, r: Any) -> ModelRecord:
        versions = [
            VersionRecord(model_id=v["model_id"], version=v["version"], path=self.ws.root / v["path"],
                          metrics=json.loads(v["metrics"]), training_examples=v["training_examples"],
                          last_trained=v["last_trained"], params=json.loads(v["params"]),
                          encoder_fingerprint=v["encoder_fingerprint"])
            for v in self.ws.query("SELECT * FROM model_versions WHERE model_id = ? ORDER BY version", (r["id"],))
        ]
        return ModelRecord(id=r["id"], name=r["name"], type=r["type"], labels=json.loads(r["labels"]),
                           multi_label=bool(r["multi_label"]), confidence_threshold=r["confidence_threshold"],
                           deployed_version=r["deployed_version"], routing=bool(r["routing"]),
                           created_at=r["created_at"], versions=versions)

    def load(self, model_id: int, version: int | None = None, *, cache: bool = True) -> TextClassifier:
        """Load a version (default: the deployed one), checking labels and encoder fingerprint."""
        rec = self.get(model_id)
        ver = rec.version(version)
        model = load_classifier(ver.path, expected_labels=rec.labels)
        if cache and hasattr(model, "use_cache"):
            model.use_cache(self.ws.cache_dir)
        return model

    # -- writing -------------------------------------------------------------------------------------------
    def create_model(self, name: str, model_type: str, labels: list[str], *, multi_label: bool = False,
                     confidence_threshold: float = 0.7) -> int:
        if model_type not in MODEL_TYPE_NAMES:
            raise ModelError(f"unknown model type {model_type!r}; known: {', '.join(MODEL_TYPE_NAMES)}")
        with self.ws.transaction() as c:
            cur = c.execute("INSERT INTO models(name, type, labels, multi_label, confidence_threshold, created_at)"
                            " VALUES (?, ?, ?, ?, ?, ?)",
                            (name, model_type, json.dumps(list(labels)), int(multi_label), confidence_threshold,
                             utcnow()))
            return int(cur.lastrowid)

    def add_version(self, model_id: int, model: TextClassifier, *, metrics: dict[str, Any] | None = None,
                    training_examples: int = 0, params: dict[str, Any] | None = None, deploy: bool = False) -> int:
        """Write ``model`` as the next immutable version of ``model_id``; returns the version number."""
        rec = self.get(model_id)
        if model.model_type != rec.type:
            raise ModelError(f"model {model_id} is of type {rec.type!r}, not {model.model_type!r}")
        if list(model.classes_ or []) != rec.labels:
            raise ModelError(f"model {model_id} has labels {rec.labels}, the new version has {model.classes_}")
        if bool(model.multi_label) != rec.multi_label:
            kinds = {True: "multi-label", False: "single-label"}
            raise ModelError(f"model {model_id} is {kinds[rec.multi_label]}, the new version is {kinds[bool(model.multi_label)]}")
        base = self.ws.models_dir / str(model_id)
        base.mkdir(parents=True, exist_ok=True)
        self._clean_tmp(base)
        tmp = base / f".tmp-{uuid.uuid4().hex}"
        try:
            model.save(tmp)
            _fsync_tree(tmp)
            version = self._publish(base, tmp, rec)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        rel = str((base / f"v{version}").relative_to(self.ws.root))
        with self.ws.transaction() as c:
            c.execute("INSERT INTO model_versions(model_id, version, path, metrics, training_examples, last_trained,"
                      " params, encoder_fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                      (model_id, version, rel, json.dumps(metrics or {}), int(training_examples), utcnow(),
                       json.dumps(params or {}, default=str), model.encoder_fingerprint))
            if deploy:
                c.execute("UPDATE models SET deployed_version = ? WHERE id = ?", (version, model_id))
        return version

    def _publish(self, base: Path, tmp: Path, rec: ModelRecord) -> int:
        taken = {v.version for v in rec.versions} | {
            int(p.name[1:]) for p in base.iterdir() if p.name.startswith("v") and p.name[1:].isdigit()}
        version = max(taken, default=0) + 1
        while True:
            try:
                os.rename(tmp, base / f"v{version}")  # atomic; fails if the target exists and is not empty
                return version
            except OSError:
                if not (base / f"v{version}").exists():
                    raise
                version += 1

    @staticmethod
    def _clean_tmp(base: Path) -> None:
        for p in base.glob(".tmp-*"):
            shutil.rmtree(p, ignore_errors=True)

    def register(self, name: str, model: TextClassifier, *, metrics: dict[str, Any] | None = None,
                 training_examples: int = 0, params: dict[str, Any] | None = None, deploy: bool = True,
                 confidence_threshold: float = 0.7) -> tuple[int, int]:
        """Create a model entry and write its first version; returns (model_id, version)."""
        model_id = self.create_model(name, model.model_type, list(model.classes_ or []),
                                     multi_label=model.multi_label, confidence_threshold=confidence_threshold)
        version = self.add_version(model_id, model, metrics=metrics, training_examples=training_examples,
                                   params=params, deploy=deploy)
        return model_id, version

    def deploy(self, model_id: int, version: int | None = None) -> int:
        """Make ``version`` (default: the newest) the deployed version; returns it."""
        rec = self.get(model_id)
        ver = rec.version(version) if version is not None else (rec.versions[-1] if rec.versions else None)
        if ver is None:
            raise ModelNotFoundError(f"model {model_id} has no versions to deploy")
        with self.ws.transaction() as c:
            c.execute("UPDATE models SET deployed_version = ? WHERE id = ?", (ver.version, model_id))
        return ver.version

    def set_threshold(self, model_id: int, threshold: float) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ModelError(f"confidence_threshold must be in [0, 1], got {threshold}")
        self.get(model_id)
        with self.ws.transaction() as c:
            c.execute("UPDATE models SET confidence_threshold = ? WHERE id = ?", (threshold, model_id))

    # -- the project's active model ------------------------------------------------------------------------
    def active_model_id(self) -> int | None:
        return self.ws.get_state(ACTIVE_MODEL_KEY)

    def set_active(self, model_id: int) -> None:
        self.get(model_id)
        self.ws.set_state(ACTIVE_MODEL_KEY, int(model_id))


def _fsync_tree(path: Path) -> None:
    for p in path.rglob("*"):
        if p.is_file():
            with p.open("rb") as fh:
                os.fsync(fh.fileno())
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

"""The model registry: integer model ids, immutable numbered versions, one deployed version per model.

Metadata lives in the workspace database (:mod:`labelf_trainer.store.models`); artefacts in ``models/<id>/v<N>/``
(:mod:`.artefacts`: written into a temp folder, renamed into place under a per-model lock, then recorded), so an
interrupted or concurrent write leaves the registry consistent.
"""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING, Any

from ..exceptions import ModelError, ModelNotFoundError
from ..models.specs import model_spec
from ..store import Workspace
from .artefacts import clean_stale_temp, fsync_tree, model_lock, new_temp_dir, next_version, recover_orphans
from .bands import Bands, bands_for
from .records import ModelRecord, VersionRecord

if TYPE_CHECKING:
    from ..config import Thresholds
    from ..models.base import TextClassifier

__all__ = ["ModelRegistry", "ACTIVE_MODEL_KEY"]

ACTIVE_MODEL_KEY = "active_model_id"


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
        row = self.ws.models.get(model_id)
        if row is None:
            known = ", ".join(map(str, self.ws.models.ids())) or "none"
            raise ModelNotFoundError(f"no model with id {model_id} (models: {known})")
        return self._record(row)

    def list(self) -> list[ModelRecord]:
        return [self._record(r) for r in self.ws.models.list()]

    def _record(self, r: dict[str, Any]) -> ModelRecord:
        versions = [
            VersionRecord(model_id=v["model_id"], version=v["version"], path=self.ws.root / v["path"],
                          metrics=v["metrics"], training_examples=v["training_examples"],
                          last_trained=v["last_trained"], params=v["params"],
                          encoder_fingerprint=v["encoder_fingerprint"])
            for v in self.ws.models.versions(r["id"])
        ]
        return ModelRecord(id=r["id"], name=r["name"], type=r["type"], labels=r["labels"],
                           multi_label=r["multi_label"], confidence_threshold=r["confidence_threshold"],
                           deployed_version=r["deployed_version"], routing=r["routing"],
                           created_at=r["created_at"], versions=versions, auto_threshold=r["auto_threshold"])

    def load(self, model_id: int, version: int | None = None, *, cache: bool = True) -> "TextClassifier":
        """Load a version (default: the deployed one), checking labels and encoder fingerprint."""
        from ..models import load_classifier
        from ..models.base import FrozenEncoderClassifier

        rec = self.get(model_id)
        ver = rec.version(version)
        model = load_classifier(ver.path, expected_labels=rec.labels)
        if cache and isinstance(model, FrozenEncoderClassifier):
            model.use_cache(self.ws.cache_dir)
        return model

    # -- writing -------------------------------------------------------------------------------------------
    def create_model(self, name: str, model_type: str, labels: list[str], *, multi_label: bool = False,
                     confidence_threshold: float = 0.7) -> int:
        model_spec(model_type)  # ModelError naming the known types
        return self.ws.models.create(name, model_type, list(labels), multi_label=multi_label,
                                     confidence_threshold=confidence_threshold)

    def delete_if_empty(self, model_id: int) -> bool:
        """Remove a model entry that never got a version (a failed first training)."""
        return self.ws.models.delete_if_empty(model_id)

    def add_version(self, model_id: int, model: "TextClassifier", *, metrics: dict[str, Any] | None = None,
                    training_examples: int = 0, params: dict[str, Any] | None = None, deploy: bool = False) -> int:
        """Write ``model`` as the next immutable version of ``model_id``; returns the version number.

        The artefact is written into this process's temp folder, then (under the model's lock) renamed to the next
        free ``v<N>`` and recorded in one transaction. Concurrent calls get consecutive versions.
        """
        rec = self.get(model_id)
        if model.model_type != rec.type:
            raise ModelError(f"model {model_id} is of type {rec.type!r}, not {model.model_type!r}")
        if list(model.classes_ or []) != rec.labels:
            raise ModelError(f"model {model_id} has labels {rec.labels}, the new version has {model.classes_}")
        if bool(model.multi_label) != rec.multi_label:
            kinds = {True: "multi-label", False: "single-label"}
            raise ModelError(f"model {model_id} is {kinds[rec.multi_label]}, the new version is "
                             f"{kinds[bool(model.multi_label)]}")
        base = self.ws.models_dir / str(model_id)
        base.mkdir(parents=True, exist_ok=True)
        clean_stale_temp(base)
        tmp = new_temp_dir(base)
        try:
            model.save(tmp)
            fsync_tree(tmp)
            with model_lock(base):
                registered = {v["version"] for v in self.ws.models.versions(model_id)}
                recover_orphans(base, registered)
                version = next_version(base, registered)
                final = base / f"v{version}"
                os.rename(tmp, final)
                try:
                    self.ws.models.add_version(
                        model_id, version, str(final.relative_to(self.ws.root)), metrics=metrics or {},
                        training_examples=training_examples, params=params or {},
                        encoder_fingerprint=model.encoder_fingerprint, deploy=deploy)
                except BaseException:
                    shutil.rmtree(final, ignore_errors=True)
                    raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return version

    def register(self, name: str, model: "TextClassifier", *, metrics: dict[str, Any] | None = None,
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
        self.ws.models.set_deployed(model_id, ver.version)
        return ver.version

    def set_threshold(self, model_id: int, threshold: float, auto: float | None = None) -> None:
        """The model's review threshold (``confidence_threshold``) and optionally its auto threshold (None: the
        deployed version's recommendation); see :mod:`.bands`."""
        for name, value in (("confidence_threshold", threshold), ("auto threshold", auto)):
            if value is not None and not 0.0 <= value <= 1.0:
                raise ModelError(f"{name} must be in [0, 1], got {value}")
        if auto is not None and auto < threshold:
            raise ModelError(f"the auto threshold ({auto}) must not be below the review threshold ({threshold})")
        self.get(model_id)
        self.ws.models.set_threshold(model_id, threshold, auto)

    def bands(self, model_id: int, version: int | None, defaults: "Thresholds") -> Bands:
        """The routing bands of a version (default: the deployed one); see :mod:`.bands`."""
        rec = self.get(model_id)
        return bands_for(rec, rec.version(version) if rec.versions else None, defaults)

    def set_routing(self, model_id: int, on: bool) -> None:
        """Store low-confidence service traffic of this model for labeling (``labelf models routing ID on``)."""
        if not self.ws.models.set_routing(model_id, on):
            self.get(model_id)  # ModelNotFoundError naming the known models

    # -- the project's active model ------------------------------------------------------------------------
    def active_model_id(self) -> int | None:
        return self.ws.kv.get(ACTIVE_MODEL_KEY)

    def set_active(self, model_id: int) -> None:
        self.get(model_id)
        self.ws.kv.set(ACTIVE_MODEL_KEY, int(model_id))

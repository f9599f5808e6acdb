"""Deployed models kept in memory, swapped atomically when the registry deploys a new version.

A background thread reads the small ``models`` table every ``reload_interval_s`` (one cheap query) and reloads any
model whose deployed version changed, so no request ever waits for a reload. The new version is loaded while the
old one keeps serving, then swapped in with one assignment: a request that already holds a :class:`ServedModel`
finishes with it. If a new version cannot be loaded the old one stays and the error is reported by ``/ready``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from ..exceptions import LabelfError, ModelError, ModelNotFoundError
from ..loop.project import Project
from ..models.base import FrozenEncoderClassifier, TextClassifier
from ..registry import Bands, ModelRecord, bands_for

__all__ = ["ServedModel", "ModelManager", "ModelNotDeployedError", "ModelUnavailableError"]

log = logging.getLogger("labelf.service")


class ModelNotDeployedError(ModelNotFoundError):
    """The model exists but has no deployed version."""


class ModelUnavailableError(ModelError):
    """A deployed model could not be loaded (a server-side problem, not the client's)."""


@dataclass(frozen=True)
class ServedModel:
    """One loaded model version and the registry record it was loaded with."""

    record: ModelRecord
    version: int
    model: TextClassifier
    bands: Bands

    @property
    def id(self) -> int:
        return self.record.id

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def labels(self) -> list[str]:
        return list(self.model.classes_ or self.record.labels)

    @property
    def shares_encoder(self) -> str | None:
        """The encoder fingerprint when the model can be fed shared embeddings, else None."""
        return self.model.encoder_fingerprint if isinstance(self.model, FrozenEncoderClassifier) else None


def _state(row: dict[str, Any]) -> tuple[Any, ...]:
    """What, in a model's row, makes a served copy stale."""
    return (row["deployed_version"], int(row["routing"]), row["confidence_threshold"], row["auto_threshold"],
            row["name"])


class ModelManager:
    """Loads the deployed version of each model on first use (or at start) and follows redeploys.

    Usage::

        manager = ModelManager(project, reload_interval_s=1.0)
        manager.load_all()
        served = manager.get(42)        # ServedModel of the deployed version
    """

    def __init__(self, project: Project, *, reload_interval_s: float = 1.0, pinned_cache_size: int = 8,
                 runtime: str = "torch") -> None:
        self.project = project
        self.runtime = runtime
        self.reload_interval_s = reload_interval_s
        self.pinned_cache_size = pinned_cache_size
        self._models: dict[int, ServedModel] = {}
        self._pinned: OrderedDict[tuple[int, int], ServedModel] = OrderedDict()
        self._seen: dict[int, tuple] = {}
        self.errors: dict[int, str] = {}
        self._failed: dict[int, int] = {}  # model id -> the deployed version that failed to load
        self.reloads = 0
        self._last_check = 0.0
        self._refresh_lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- polling -------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Poll the registry in a daemon thread until :meth:`stop`."""
        if self._thread is None and self.reload_interval_s > 0:
            self._stop.clear()
            self._thread = threading.Thread(target=self._poll, name="labelf-model-poller", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _poll(self) -> None:
        while not self._stop.wait(self.reload_interval_s):
            try:
                self.refresh(force=True)
            except Exception:  # noqa: BLE001 - keep polling whatever happens (e.g. database locked)
                log.exception("model refresh failed")

    # -- reading -------------------------------------------------------------------------------------------
    @property
    def loaded(self) -> dict[int, ServedModel]:
        return dict(self._models)

    def get(self, model_id: int) -> ServedModel:
        """The deployed version of ``model_id``; 404-type errors for unknown or undeployed models."""
        served = self._models.get(model_id)
        if served is not None:
            return served
        rec = self.project.registry.get(model_id)  # ModelNotFoundError for unknown ids
        if rec.deployed_version is None:
            raise ModelNotDeployedError(
                f"model {model_id} is not deployed (status: {rec.status}); deploy it with `labelf models deploy {model_id}`")
        if self._failed.get(model_id) == rec.deployed_version:  # known broken: no reload per request
            raise ModelUnavailableError(self.errors.get(model_id, f"model {model_id} cannot be loaded"))
        with self._load_lock:
            served = self._models.get(model_id)
            if served is None:
                served = self._load_deployed(rec)
        return served

    def _load_deployed(self, rec: ModelRecord) -> ServedModel:
        """Load and serve the deployed version of ``rec`` (call under the load lock); a failure is remembered
        in :attr:`errors` (reported by /ready) until the registry deploys another version."""
        state = (rec.deployed_version, int(rec.routing), rec.confidence_threshold, rec.auto_threshold, rec.name)
        try:
            served = self._load(rec, int(rec.deployed_version))
        except ModelError as e:
            self.errors[rec.id], self._failed[rec.id], self._seen[rec.id] = str(e), int(rec.deployed_version), state
            raise
        self._models[rec.id], self._seen[rec.id] = served, state
        self.errors.pop(rec.id, None)
        self._failed.pop(rec.id, None)
        return served

    def get_version(self, model_id: int, version: int) -> ServedModel:
        """A pinned version (deployed or not), kept in a small LRU."""
        served = self._models.get(model_id)
        if served is not None and served.version == version:
            return served
        key = (model_id, version)
        with self._load_lock:
            if key in self._pinned:
                self._pinned.move_to_end(key)
                return self._pinned[key]
            rec = self.project.registry.get(model_id)
            rec.version(version)  # ModelNotFoundError naming the versions
            served = self._load(rec, version)
            self._pinned[key] = served
            while len(self._pinned) > self.pinned_cache_size:
                self._pinned.popitem(last=False)
        return served

    # -- loading -------------------------------------------------------------------------------------------
    def _load(self, rec: ModelRecord, version: int) -> ServedModel:
        t0 = time.perf_counter()
        try:
            model = self.project.registry.load(rec.id, version, cache=False)
            if self.runtime != "torch":
                from ..models.runtime import accelerate

                accelerate(model, self.runtime, self.project.ws.cache_dir)
            model.predict_proba(["warm up"])  # loads the encoder weights now, not in the first request
        except ModelNotFoundError:
            raise
        except LabelfError as e:
            raise ModelUnavailableError(f"model {rec.id} v{version} cannot be loaded: {e}") from None
        except Exception as e:  # noqa: BLE001 - a broken artefact must not take the service down
            log.exception("loading model %s v%s failed", rec.id, version)
            raise ModelUnavailableError(f"model {rec.id} v{version} cannot be loaded: {type(e).__name__}: {e}") from None
        log.info("loaded model %s v%s (%s) in %.0f ms", rec.id, version, rec.type, (time.perf_counter() - t0) * 1000)
        return ServedModel(record=rec, version=version, model=model, bands=self._bands(rec, version))

    def _bands(self, rec: ModelRecord, version: int) -> Bands:
        return bands_for(rec, rec.version(version), self.project.config.thresholds)

    def load_all(self) -> None:
        """Load every deployed model now (at start-up); failures are logged and reported by /ready."""
        for rec in self.project.registry.list():
            if rec.deployed_version is None:
                continue
            try:
                with self._load_lock:
                    self._load_deployed(rec)
            except ModelError as e:
                log.error("%s", e)
        self._last_check = time.monotonic()

    def refresh(self, *, force: bool = False) -> None:
        """Follow the registry: reload models whose deployed version changed, update thresholds and routing.

        Cheap when nothing changed; called by the poller thread (and by tests, with ``force=True``).
        """
        if not force and time.monotonic() - self._last_check < self.reload_interval_s:
            return
        if not self._refresh_lock.acquire(blocking=True):
            return
        try:
            self._last_check = time.monotonic()
            current = self.project.ws.models.deployments()
            for model_id in list(self._models):
                row = current.get(model_id)
                if row is None or row["deployed_version"] is None:
                    self._models.pop(model_id, None)
                    self._seen.pop(model_id, None)
                    continue
                if _state(row) == self._seen.get(model_id):
                    continue
                self._update(model_id, row)
            for model_id in [m for m in self._failed if m not in self._models]:  # failed at start or first use
                row = current.get(model_id)
                if row is None or row["deployed_version"] is None:
                    self.errors.pop(model_id, None)
                    self._failed.pop(model_id, None)
                elif _state(row) != self._seen.get(model_id):  # another version deployed since: try it
                    try:
                        with self._load_lock:
                            self._load_deployed(self.project.registry.get(model_id))
                    except ModelError as e:
                        log.error("%s", e)
        finally:
            self._refresh_lock.release()

    def _update(self, model_id: int, row: dict[str, Any]) -> None:
        old = self._models[model_id]
        rec = self.project.registry.get(model_id)
        if row["deployed_version"] == old.version:
            self._models[model_id] = ServedModel(record=rec, version=old.version, model=old.model,
                                                 bands=self._bands(rec, old.version))
        else:
            try:
                with self._load_lock:
                    new = self._load(rec, int(row["deployed_version"]))
            except ModelError as e:
                self.errors[model_id] = str(e)
                log.error("%s; still serving v%s", e, old.version)
                self._seen[model_id] = _state(row)  # retried when the registry changes again
                return
            self._models[model_id] = new  # the swap: one assignment
            self.reloads += 1
            self.errors.pop(model_id, None)
            log.info("model %s: now serving v%s (was v%s)", model_id, new.version, old.version)
        self._seen[model_id] = _state(row)

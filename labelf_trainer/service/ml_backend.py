"""The Label Studio ML backend: the endpoints Label Studio calls when our model is connected to a project.

The service mounts :data:`router` under ``/ml-backend``: predictions come from the service's own
:class:`~labelf_trainer.service.manager.ModelManager` (no second model cache), and retraining runs as a separate
``labelf train --deploy`` process, so it never blocks inference; the manager's poller then serves the new version. In Label Studio: Settings > Model > Connect Model, URL ``http://HOST:PORT/ml-backend`` (or
``LabelStudioConnector.connect_ml_backend(url)``, which also adds the annotation webhook).

- ``GET /health``: ``{"status": "UP", "model_class", "model_version"}``
- ``POST /setup``: ``{"model_version"}`` (Label Studio calls it before predicting)
- ``POST /predict``: ``{"tasks": [...]}`` -> ``{"results": [{"result", "score", "model_version", "band"}, ...]}``,
  one per task in order, from the project's active model (``band``: :mod:`labelf_trainer.registry.bands`)
- ``POST /webhook``: ANNOTATION_CREATED / ANNOTATION_UPDATED write that annotation into the store at once,
  ANNOTATIONS_DELETED marks them deleted; every ``label_studio.retrain_every`` new annotations (or on
  START_TRAINING) it starts ``labelf train --deploy`` in a subprocess, so ``model_version`` changes and Label Studio
  asks for predictions again.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse

from ..connectors.label_studio.schema import LabelSchema, parse_labeling_config
from ..connectors.label_studio.webhook import ingest_webhook
from ..connectors.tasks import model_version_tag
from ..exceptions import LabelfError
from ..loop.project import Project
from ..predict import choices
from .manager import ModelManager, ServedModel

__all__ = ["COUNTER_KEY", "MLBackendState", "router"]

log = logging.getLogger(__name__)
COUNTER_KEY = "ml_backend:annotations_since_training"


class MLBackendState:
    """Per-app state: the training subprocess (at most one) and what the last one said."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.training: subprocess.Popen[str] | None = None
        self.last_error: str | None = None
        self.trainings = 0

    @property
    def is_training(self) -> bool:
        with self.lock:
            if self.training is None:
                return False
            if self.training.poll() is None:
                return True
            self._finish()
            return False

    def _finish(self) -> None:
        proc, self.training = self.training, None
        assert proc is not None
        err = (proc.stderr.read() if proc.stderr else "").strip()
        if proc.returncode == 0:
            self.trainings += 1
            self.last_error = None
            log.info("ML backend retraining finished")
        else:
            self.last_error = next((ln for ln in reversed(err.splitlines()) if ln.startswith("error:")),
                                   f"labelf train exited with {proc.returncode}")
            log.warning("ML backend retraining failed: %s", self.last_error)


def current(project: Project, manager: ModelManager) -> tuple[ServedModel, str]:
    """The project's active model as the service serves it, and its Label Studio ``model_version``."""
    mid = project.registry.active_model_id()
    if mid is None:
        raise LabelfError("the project has no active model yet (run `labelf init`)")
    served = manager.get(int(mid))
    return served, model_version_tag(served.id, served.version)


def _state(request: Request) -> tuple[Project, ModelManager, MLBackendState]:
    app_state = request.app.state
    with _INIT_LOCK:
        st = getattr(app_state, "ml_backend", None)
        if st is None:
            st = app_state.ml_backend = MLBackendState()
    return app_state.project, app_state.manager, st


_INIT_LOCK = threading.Lock()
router = APIRouter(tags=["label-studio-ml-backend"])


def _error(status: int, field: str, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": [{"loc": ["body", field], "msg": message}],
                                                     "status": "error", "message": message})


@router.get("/health")
def health(request: Request) -> dict[str, Any]:
    project, manager, st = _state(request)
    try:
        _model, version = current(project, manager)
    except LabelfError as e:
        return {"status": "UP", "model_class": "labelf-trainer", "model_version": None, "detail": str(e)}
    return {"status": "UP", "model_class": "labelf-trainer", "model_version": version, "training": st.is_training}


@router.post("/setup")
def setup(request: Request, payload: Annotated[dict[str, Any] | None, Body()] = None) -> Any:
    project, manager, st = _state(request)
    payload = payload or {}
    if payload.get("schema"):
        try:
            schema = parse_labeling_config(payload["schema"])
        except LabelfError as e:
            return _error(422, "schema", str(e))
        unknown = sorted(set(schema.labels) - set(project.config.label_names))
        if unknown:
            return _error(422, "schema", f"labels not in the project config: {', '.join(map(repr, unknown))}")
    try:
        _model, version = current(project, manager)
    except LabelfError as e:
        return _error(409, "model_version", str(e))
    return {"model_version": version}


def _text_of(task: dict[str, Any], schema: Any) -> str | None:
    data = task.get("data") if isinstance(task, dict) else None
    return (schema.text_of(data) or None) if isinstance(data, dict) else None


@router.post("/predict")
def predict(request: Request, payload: Annotated[dict[str, Any], Body()]) -> Any:
    project, manager, st = _state(request)
    tasks = payload.get("tasks")
    if not isinstance(tasks, list):
        return _error(422, "tasks", "'tasks' must be a list of Label Studio tasks")
    try:
        schema = parse_labeling_config(payload["label_config"]) if payload.get("label_config") else \
            LabelSchema(from_name="label", to_name="text", labels=tuple(project.config.label_names))
    except LabelfError as e:
        return _error(422, "label_config", str(e))
    texts = [_text_of(t, schema) for t in tasks]
    bad = [i for i, t in enumerate(texts) if t is None]
    if bad:
        return _error(422, "tasks", f"task(s) at position {', '.join(map(str, bad[:10]))} have no text in data."
                                    f"{schema.text_field}")
    try:
        served, version = current(project, manager)
        proba = np.asarray(served.model.predict_proba(texts)) if texts else np.zeros((0, 0))
    except LabelfError as e:
        return _error(409, "model_version", str(e))
    picks = choices(proba, served.labels, multi_label=project.config.multi_label,
                    threshold=float(served.model.threshold))
    results = [{"result": schema.result(chosen), "score": score, "model_version": version,
                "band": served.bands.of(score)} for chosen, score, _order in picks]
    return {"results": results, "model_version": version}


def start_training(project: Project, st: MLBackendState) -> bool:
    """Start one ``labelf train --deploy`` process unless one is running; resets the annotation counter."""
    with st.lock:
        if st.is_training:
            return False
        if project.config.source_path is None:
            raise LabelfError("the ML backend can retrain only a project opened from a config file")
        project.ws.kv.set(COUNTER_KEY, 0)
        st.training = subprocess.Popen(
            [sys.executable, "-m", "labelf_trainer.cli.main", "train", "--deploy", "--quiet",
             "--config", str(project.config.source_path)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        log.info("ML backend retraining started (pid %s)", st.training.pid)
        return True


@router.post("/webhook")
def webhook(request: Request, payload: Annotated[dict[str, Any], Body()]) -> Any:
    project, _manager, st = _state(request)
    action = payload.get("action")
    if not isinstance(action, str):
        return _error(422, "action", "'action' is required (e.g. ANNOTATION_CREATED)")
    if action == "START_TRAINING":
        return {"status": "ok", "action": action, "training": start_training(project, st)}
    try:
        stats = ingest_webhook(project, payload)
    except LabelfError as e:
        return _error(422, "annotation", str(e))
    except (KeyError, TypeError, ValueError) as e:
        return _error(422, "project", f"malformed {action} payload: {e}")
    if stats is None:
        return {"status": "ignored", "action": action}
    counted = stats.new + stats.updated
    with st.lock:
        since = int(project.ws.kv.get(COUNTER_KEY, 0)) + counted
        project.ws.kv.set(COUNTER_KEY, since)
        every = project.config.label_studio.retrain_every
        training = since >= every and action != "ANNOTATIONS_DELETED" and start_training(project, st)
    return {"status": "ok", "action": action, "new": stats.new, "updated": stats.updated, "deleted": stats.deleted,
            "annotations_since_training": 0 if training else since, "training": training}

"""The Label Studio ML backend: the endpoints Label Studio calls when our model is connected to a project.

The service mounts :data:`router` under ``/ml-backend`` and sets ``app.state.project``; :func:`create_app` serves
it alone. In Label Studio: Settings > Model > Connect Model, URL ``http://HOST:PORT/ml-backend`` (or
``LabelStudioConnector.connect_ml_backend(url)``, which also adds the annotation webhook).

- ``GET /health``: ``{"status": "UP", "model_class", "model_version"}``
- ``POST /setup``: ``{"model_version"}`` (Label Studio calls it before predicting)
- ``POST /predict``: ``{"tasks": [...]}`` -> ``{"results": [{"result", "score", "model_version"}, ...]}``, one per
  task in order, from the project's active model
- ``POST /webhook``: ANNOTATION_CREATED / ANNOTATION_UPDATED write that annotation into the store at once,
  ANNOTATIONS_DELETED marks them deleted; every ``label_studio.retrain_every`` new annotations (or on
  START_TRAINING) it retrains with ``training.train_and_register`` in the background and deploys the result, so
  ``model_version`` changes and Label Studio asks for predictions again.
"""

from __future__ import annotations

import logging
import threading
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Body, FastAPI, Request
from fastapi.responses import JSONResponse

from ..exceptions import LabelfError
from ..predict import choices
from .label_studio import ingest_webhook, model_version_tag
from .ls_schema import LabelSchema, parse_labeling_config

__all__ = ["COUNTER_KEY", "MLBackendState", "create_app", "router"]

log = logging.getLogger(__name__)
COUNTER_KEY = "ml_backend:annotations_since_training"
TRAINED_KEY = "ml_backend:last_training"


class MLBackendState:
    """Per-app state: the loaded model (reloaded when the active version changes) and the training thread."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.model_key: tuple[int, int] | None = None
        self.model: Any = None
        self.training: threading.Thread | None = None
        self.last_error: str | None = None
        self.trainings = 0

    def current(self, project: Any) -> tuple[Any, str]:
        """The active model (cached) and its Label Studio ``model_version``."""
        with self.lock:
            mid = project.registry.active_model_id()
            if mid is None:
                raise LabelfError("the project has no active model yet (run `labelf init`)")
            rec = project.registry.get(mid)
            if rec.current is None:
                raise LabelfError(f"model {mid} has no versions")
            key = (int(mid), int(rec.current.version))
            if key != self.model_key:
                self.model = project.registry.load(*key)
                self.model_key = key
            return self.model, model_version_tag(*key)

    @property
    def is_training(self) -> bool:
        return self.training is not None and self.training.is_alive()


def _state(request: Request) -> tuple[Any, MLBackendState]:
    app_state = request.app.state
    project = getattr(app_state, "project", None)
    if project is None:
        raise LabelfError("no project is loaded in this server (app.state.project)")
    st = getattr(app_state, "ml_backend", None)
    if st is None:
        with _INIT_LOCK:
            st = getattr(app_state, "ml_backend", None)
            if st is None:
                st = app_state.ml_backend = MLBackendState()
    return project, st


_INIT_LOCK = threading.Lock()
router = APIRouter(tags=["label-studio-ml-backend"])


def _error(status: int, field: str, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": [{"loc": ["body", field], "msg": message}],
                                                     "status": "error", "message": message})


@router.get("/health")
def health(request: Request) -> dict[str, Any]:
    project, st = _state(request)
    try:
        _model, version = st.current(project)
    except LabelfError as e:
        return {"status": "UP", "model_class": "labelf-trainer", "model_version": None, "detail": str(e)}
    return {"status": "UP", "model_class": "labelf-trainer", "model_version": version, "training": st.is_training}


@router.post("/setup")
def setup(request: Request, payload: Annotated[dict[str, Any] | None, Body()] = None) -> Any:
    project, st = _state(request)
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
        _model, version = st.current(project)
    except LabelfError as e:
        return _error(409, "model_version", str(e))
    return {"model_version": version}


def _text_of(task: dict[str, Any], schema: LabelSchema) -> str | None:
    data = task.get("data") if isinstance(task, dict) else None
    if not isinstance(data, dict):
        return None
    value = data.get(schema.text_field)
    if isinstance(value, str):
        return value
    return next((v for v in data.values() if isinstance(v, str) and v.strip()), None)


@router.post("/predict")
def predict(request: Request, payload: Annotated[dict[str, Any], Body()]) -> Any:
    project, st = _state(request)
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
        model, version = st.current(project)
        proba = np.asarray(model.predict_proba(texts)) if texts else np.zeros((0, 0))
    except LabelfError as e:
        return _error(409, "model_version", str(e))
    picks = choices(proba, list(model.classes_ or []), multi_label=project.config.multi_label,
                    threshold=float(getattr(model, "threshold", 0.5)))
    results = [{"result": schema.result(chosen), "score": score, "model_version": version}
               for chosen, score, _order in picks]
    return {"results": results, "model_version": version}


def _train(project: Any, st: MLBackendState) -> None:
    try:
        from ..training import train_and_register  # written by the training area; imported when needed
        result = train_and_register(project, deploy=True, progress=False)
        if project.registry.active_model_id() != result.model_id:
            project.registry.set_active(result.model_id)
        project.ws.set_state(TRAINED_KEY, {"model_id": result.model_id, "version": result.version,
                                           "model_version": model_version_tag(result.model_id, result.version)})
        st.trainings += 1
        st.last_error = None
        log.info("ML backend retrained: %s", model_version_tag(result.model_id, result.version))
    except LabelfError as e:  # e.g. not enough annotations yet: keep counting, report in /health
        st.last_error = str(e)
        log.warning("ML backend training failed: %s", e)
    except Exception as e:
        st.last_error = f"{type(e).__name__}: {e}"
        log.exception("ML backend training crashed")


def start_training(project: Any, st: MLBackendState) -> bool:
    """Start one background training unless one is running; resets the annotation counter."""
    with st.lock:
        if st.is_training:
            return False
        project.ws.set_state(COUNTER_KEY, 0)
        st.training = threading.Thread(target=_train, args=(project, st), name="labelf-ml-backend-train",
                                       daemon=True)
        st.training.start()
        return True


@router.post("/webhook")
def webhook(request: Request, payload: Annotated[dict[str, Any], Body()]) -> Any:
    project, st = _state(request)
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
        since = int(project.ws.get_state(COUNTER_KEY, 0)) + counted
        project.ws.set_state(COUNTER_KEY, since)
        every = project.config.label_studio.retrain_every
        training = since >= every and action != "ANNOTATIONS_DELETED" and start_training(project, st)
    return {"status": "ok", "action": action, "new": stats.new, "updated": stats.updated, "deleted": stats.deleted,
            "annotations_since_training": 0 if training else since, "training": training}


def create_app(project: Any) -> FastAPI:
    """A standalone server for the ML backend: ``uvicorn`` it and connect ``http://HOST:PORT/ml-backend``."""
    app = FastAPI(title="labelf-trainer ML backend for Label Studio")
    app.state.project = project
    app.include_router(router, prefix="/ml-backend")
    return app

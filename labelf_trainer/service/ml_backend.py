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
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from ..config import MAX_TEXT_CHARS

from ..connectors.label_studio.schema import LabelSchema, parse_labeling_config
from ..connectors.label_studio.webhook import ingest_webhook
from ..connectors.tasks import model_version_tag
from ..exceptions import LabelfError
from ..loop.project import Project
from ..predict import choices
from .errors import ApiError
from .manager import ModelManager, ServedModel

__all__ = ["COUNTER_KEY", "MLBackendState", "router"]

log = logging.getLogger(__name__)
COUNTER_KEY = "ml_backend:annotations_since_training"


class MLBackendState:
    """Per-app state: the training subprocess (at most one) and what the last one said."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.training: subprocess.Popen[str] | None = None
        self.log: Path | None = None
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
        err = self.log.read_text(encoding="utf-8", errors="replace") if self.log and self.log.is_file() else ""
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


def _error(status: int, field: str, message: str) -> ApiError:
    """The service's one error body (``{detail, errors, request_id}``), naming the field."""
    return ApiError(status, f"{field}: {message}", errors=[{"loc": field, "msg": message}])


class _LabelStudioBody(BaseModel):
    """Label Studio sends more fields than we read; they are accepted and ignored."""

    model_config = ConfigDict(extra="allow")


class SetupRequest(_LabelStudioBody):
    label_config: StrictStr | None = Field(None, alias="schema", description="The project's labeling config (XML).")
    project: StrictStr | StrictInt | None = None


class PredictTask(_LabelStudioBody):
    data: dict[str, Any] = Field(description="The task's data; the text is under the labeling config's field.")


class PredictRequest(_LabelStudioBody):
    tasks: list[PredictTask] = Field(max_length=1000, description="Label Studio tasks.")
    label_config: StrictStr | None = Field(None, description="The project's labeling config (XML).")


class WebhookRequest(_LabelStudioBody):
    action: StrictStr = Field(min_length=1, max_length=100, description="e.g. ANNOTATION_CREATED, START_TRAINING.")


@router.get("/health")
def health(request: Request) -> dict[str, Any]:
    project, manager, st = _state(request)
    try:
        _model, version = current(project, manager)
    except LabelfError as e:
        return {"status": "UP", "model_class": "labelf-trainer", "model_version": None, "detail": str(e)}
    return {"status": "UP", "model_class": "labelf-trainer", "model_version": version, "training": st.is_training}


@router.post("/setup")
def setup(request: Request, payload: Annotated[SetupRequest | None, Body()] = None) -> dict[str, Any]:
    project, manager, _st = _state(request)
    xml = payload.label_config if payload is not None else None
    if xml:
        try:
            schema = parse_labeling_config(xml)
        except LabelfError as e:
            raise _error(422, "schema", str(e)) from None
        unknown = sorted(set(schema.labels) - set(project.config.answer_labels))
        if unknown:
            raise _error(422, "schema", f"labels not in the project config: {', '.join(map(repr, unknown))}")
    try:
        _model, version = current(project, manager)
    except LabelfError as e:
        raise _error(409, "model_version", str(e)) from None
    return {"model_version": version}


def _text_of(task: PredictTask, schema: Any) -> str | None:
    return schema.text_of(task.data) or None


@router.post("/predict")
def predict(request: Request, payload: Annotated[PredictRequest, Body()]) -> dict[str, Any]:
    project, manager, _st = _state(request)
    try:
        schema = parse_labeling_config(payload.label_config) if payload.label_config else \
            LabelSchema(from_name="label", to_name="text", labels=tuple(project.config.answer_labels))
    except LabelfError as e:
        raise _error(422, "label_config", str(e)) from None
    texts = [_text_of(t, schema) for t in payload.tasks]
    bad = [i for i, t in enumerate(texts) if t is None or len(t) > MAX_TEXT_CHARS]
    if bad:
        raise _error(422, "tasks", f"task(s) at position {', '.join(map(str, bad[:10]))} have no text in data."
                                   f"{schema.text_field} (or one over {MAX_TEXT_CHARS:,} characters)")
    try:
        served, version = current(project, manager)
        proba = np.asarray(served.model.predict_proba(texts)) if texts else np.zeros((0, 0))  # type: ignore[arg-type]
    except LabelfError as e:
        raise _error(409, "model_version", str(e)) from None
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
        st.log = project.ws.root / "logs" / "ml-backend-training.log"
        st.log.parent.mkdir(parents=True, exist_ok=True)
        with st.log.open("w", encoding="utf-8") as err:
            st.training = subprocess.Popen(
                [sys.executable, "-m", "labelf_trainer.cli.main", "train", "--deploy", "--quiet",
                 "--config", str(project.config.source_path)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, text=True)
        log.info("ML backend retraining started (pid %s)", st.training.pid)
        return True


@router.post("/webhook")
def webhook(request: Request, payload: Annotated[WebhookRequest, Body()]) -> dict[str, Any]:
    project, _manager, st = _state(request)
    action = payload.action
    if action == "START_TRAINING":
        return {"status": "ok", "action": action, "training": start_training(project, st)}
    try:
        stats = ingest_webhook(project, payload.model_dump(by_alias=True))
    except LabelfError as e:
        raise _error(422, "annotation", str(e)) from None
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise _error(422, "project", f"malformed {action} payload: {e}") from None
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

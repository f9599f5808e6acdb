"""Inference: one model, several models with per-model settings, several models with one setting.

Endpoints are plain ``def`` (FastAPI runs them in its threadpool): the model work never blocks the event loop.
Models sharing a frozen encoder share one encoding pass (:mod:`labelf_trainer.service.engine`). Texts below a
routed model's confidence threshold are stored for labeling after the response is sent.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Body, Path, Request

from ...exceptions import ModelNotFoundError
from ...embeddings.langid import dominant_language
from ...predict import rank
from ..deps import ExecutorDep, ManagerDep, SettingsDep, request_id
from ..engine import predict_models
from ..errors import ApiError
from ..manager import ModelManager, ServedModel
from ..settings import ServiceSettings
from ..schemas import (
    INFERENCE_EXAMPLES,
    MAX_MODEL_ID,
    MULTI_INFERENCE_EXAMPLES,
    MULTI_MODEL_EXAMPLES,
    InferenceRequest,
    InferenceResponse,
    MultiInferenceRequest,
    MultiInferenceResponse,
    MultiModelRequest,
    MultiModelResponse,
)

router = APIRouter(tags=["inference"])

ModelIdPath = Annotated[int, Path(ge=0, le=MAX_MODEL_ID, description="The deployed model to run.")]
_ERRORS = {401: {"description": "Missing, wrong or revoked API key."},
           404: {"description": "Unknown or undeployed model."},
           422: {"description": "Invalid input; `detail` names the field."}}


def _check_filter(served: ServedModel, label_filter: Sequence[str] | None, field: str) -> None:
    if label_filter is None:
        return
    known = set(served.labels)
    unknown = [lab for lab in dict.fromkeys(label_filter) if lab not in known]
    if unknown:
        raise ApiError(422, f"{field}: unknown label(s) {', '.join(map(repr, unknown))} for model {served.id}; "
                            f"its labels: {', '.join(map(repr, served.labels))}",
                       errors=[{"loc": field, "msg": f"unknown label(s): {', '.join(map(repr, unknown))}"}])


def _get(manager: ModelManager, model_id: int, field: str) -> ServedModel:
    try:
        return manager.get(model_id)
    except ModelNotFoundError as e:
        raise ApiError(404, f"{field}: {e}") from None


def _served(manager: ModelManager, settings: ServiceSettings, refs: Sequence[tuple[int, str]],
            filters: Sequence[tuple[Sequence[str] | None, str]] = (), *, field: str) -> list[ServedModel]:
    """The deployed models of ``refs`` ((model id, field name) each), their label filters checked."""
    if len(refs) > settings.max_models_per_request:
        raise ApiError(422, f"{field}: at most {settings.max_models_per_request} models per request")
    served = [_get(manager, mid, where) for mid, where in refs]
    for s, (label_filter, where) in zip(served, filters):
        _check_filter(s, label_filter, where)
    return served


def _classify(request: Request, served: list[ServedModel], texts: list[str],
              executor: ThreadPoolExecutor | None = None) -> list[np.ndarray]:
    """Scores of every model on the texts (shared encoding passes), counted; human-band texts of routed models are
    queued for the labeling pool (never written in the request: :mod:`labelf_trainer.service.traffic`)."""
    probas = predict_models(served, texts, executor)
    state = request.app.state
    for s, p in zip(served, probas):
        state.metrics.count_predictions(s.id, len(texts))
        if state.settings.routing and s.record.routing:
            state.routing.submit(s, texts, p, request_id=request_id(request),
                                 key_id=getattr(request.state, "api_key_id", None))
    return probas


def _bands(served: ServedModel, proba: np.ndarray) -> list[str]:
    """The routing band of each text's top label (:mod:`labelf_trainer.registry.bands`)."""
    return [served.bands.of(float(row.max())) for row in np.asarray(proba)] if len(proba) else []


def _ms(t0: float) -> int:
    return int(round((time.perf_counter() - t0) * 1000))


@router.post("/v2/models/{model_id:int}/inference", response_model=InferenceResponse, responses=_ERRORS,
             summary="Classify texts with one model")
def inference(
    model_id: ModelIdPath,
    body: Annotated[InferenceRequest, Body(openapi_examples=INFERENCE_EXAMPLES)],
    request: Request, manager: ManagerDep, settings: SettingsDep,
) -> dict:
    """Labels per text sorted by confidence; `max_predictions` cuts the list, `label_filter` restricts it.

    Up to 8 texts, each at most 10,000 characters. `text_language` is the request's dominant language
    (ISO 639-1), or `unknown` when no text has enough letters (8) or a confident enough guess to tell. `bands`
    (an addition to the Labelf shape) is each text's routing band: `auto`, `review` or `human`.
    """
    t0 = time.perf_counter()
    served = _served(manager, settings, [(model_id, "model_id")], [(body.label_filter, "label_filter")],
                     field="model_id")[0]
    texts = list(body.texts)
    proba = _classify(request, [served], texts)[0]
    preds = rank(proba, served.labels, max_predictions=body.max_predictions, label_filter=body.label_filter)
    return {"predictions": preds, "model_id": served.id, "model_version": served.version,
            "text_language": dominant_language(texts), "processing_time_ms": _ms(t0),
            "bands": _bands(served, proba)}


@router.post("/v2/models/inference", response_model=MultiInferenceResponse, responses=_ERRORS,
             summary="Multi-model inference (per-model settings)")
def multi_inference(
    body: Annotated[MultiInferenceRequest, Body(openapi_examples=MULTI_INFERENCE_EXAMPLES)],
    request: Request, manager: ManagerDep, executor: ExecutorDep,
    settings: SettingsDep,
) -> dict:
    """Run several models on the same texts in one call; each model has its own `max_predictions` and
    `label_filter`. Models on the same frozen encoder share one encoding pass; the others run in parallel."""
    t0 = time.perf_counter()
    ms = body.model_settings
    served = _served(manager, settings, [(s.model_id, f"model_settings[{i}].model_id") for i, s in enumerate(ms)],
                     [(s.label_filter, f"model_settings[{i}].label_filter") for i, s in enumerate(ms)],
                     field="model_settings")
    probas = _classify(request, served, list(body.texts), executor)
    results = [{"model_id": s.id, "model_name": s.name, "model_version": s.version, "bands": _bands(s, p),
                "predictions": rank(p, s.labels, max_predictions=m.max_predictions, label_filter=m.label_filter,
                                    key="score")} for s, m, p in zip(served, ms, probas)]
    return {"results": results, "processing_time_ms": _ms(t0)}


@router.post("/v2/multi-model/inference", response_model=MultiModelResponse, responses=_ERRORS,
             summary="Multi-model inference (one setting for all models)")
def multi_model_inference(
    body: Annotated[MultiModelRequest, Body(openapi_examples=MULTI_MODEL_EXAMPLES)],
    request: Request, manager: ManagerDep, executor: ExecutorDep,
    settings: SettingsDep,
) -> dict:
    """Run several models on the same texts; results keyed by model id (a string), one `max_predictions` for all."""
    t0 = time.perf_counter()
    ids = list(dict.fromkeys(body.model_ids))
    served = _served(manager, settings, [(mid, f"model_ids[{body.model_ids.index(mid)}]") for mid in ids],
                     field="model_ids")
    probas = _classify(request, served, list(body.texts), executor)
    results = {str(s.id): {"predictions": rank(p, s.labels, max_predictions=body.max_predictions),
                           "model_version": s.version, "bands": _bands(s, p)} for s, p in zip(served, probas)}
    return {"results": results, "processing_time_ms": _ms(t0)}

"""``GET /health`` (no auth), ``GET /ready`` and the Prometheus ``GET /metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, PlainTextResponse

from ..deps import ManagerDep, MetricsDep, require_api_key
from ..schemas import HealthResponse, ReadyResponse

public = APIRouter(tags=["ops"])
router = APIRouter(tags=["ops"], dependencies=[Depends(require_api_key)])


@public.get("/health", response_model=HealthResponse, summary="Liveness (no API key needed)")
def health() -> dict:
    return {"status": "ok"}


@router.get("/ready", response_model=ReadyResponse, summary="Readiness: deployed models loaded",
            responses={503: {"model": ReadyResponse, "description": "A deployed model could not be loaded."}})
def ready(manager: ManagerDep) -> JSONResponse:
    """`ready` when every deployed model is loaded (an older version still serving counts as a problem to report)."""
    loaded = manager.loaded
    body = ReadyResponse(status="ready" if not manager.errors else "not_ready", models_loaded=len(loaded),
                         models={str(k): v.version for k, v in sorted(loaded.items())},
                         errors={str(k): v for k, v in sorted(manager.errors.items())})
    return JSONResponse(body.model_dump(), status_code=200 if not manager.errors else 503)


@router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
def metrics(metrics: MetricsDep, manager: ManagerDep) -> PlainTextResponse:
    """Requests by route and status, a latency histogram per route, texts classified and routed per model."""
    return PlainTextResponse(metrics.render(models_loaded=len(manager.loaded), model_reloads=manager.reloads),
                             media_type="text/plain; version=0.0.4")

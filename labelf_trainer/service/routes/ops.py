"""``GET /health`` (no auth), ``GET /ready`` and the Prometheus ``GET /metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from ..deps import ManagerDep, MetricsDep
from ..schemas import HealthResponse, ReadyResponse

public = APIRouter(tags=["ops"])
router = APIRouter(tags=["ops"])  # the app adds the key check


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
def metrics(request: Request, metrics: MetricsDep, manager: ManagerDep) -> PlainTextResponse:
    """Requests by route and status, a latency histogram per route, texts classified and routed per model,
    routing outcomes and the texts waiting to be written."""
    return PlainTextResponse(metrics.render(models_loaded=len(manager.loaded), model_reloads=manager.reloads,
                                            routing_pending=request.app.state.routing.pending),
                             media_type="text/plain; version=0.0.4")

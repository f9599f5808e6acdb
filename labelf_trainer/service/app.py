"""The FastAPI application: the Labelf v2 API and ``/v1/classify`` over a project's model registry.

Usage::

    app = create_app("configs/telecom.yaml")                  # or an open Project
    uvicorn.run(app, host="127.0.0.1", port=8000)

``labelf serve`` runs :func:`app_from_env` (the config path and settings come from ``LABELF_CONFIG`` and
``LABELF_SERVE_*``), so ``--workers N`` can start N processes. Deployed models are loaded in the lifespan and kept
on ``app.state``; a poller thread follows ``labelf models deploy`` without a restart.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from ..loop.project import Project
from .classify import ClassifyService
from .deps import require_scope
from .errors import install_error_handlers
from .keys import ApiKeyStore
from .logs import configure_logging, escape_control
from .manager import ModelManager
from .metrics import ServiceMetrics
from . import ml_backend
from .routes import bad_ids, classify, inference, models, ops
from .settings import ServiceSettings
from .traffic import RoutingQueue

__all__ = ["create_app", "app_from_env", "MAX_BODY_BYTES"]

log = logging.getLogger("labelf.service")

MAX_BODY_BYTES = 1 << 20
"""Largest request body (8 texts of 10,000 characters need ~80 kB of JSON; 4-byte characters ~320 kB)."""
MAX_DOCUMENT_BODY_BYTES = 15_000_000
"""Largest body of ``POST /v1/classify``, whose ``file`` may carry a 10 MB document as base64."""
_RID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

DESCRIPTION = """Text classification over the models of a labelf-trainer project, in the shape of the Labelf v2 API
(`/v2/...`) and the single-call `/v1/classify` API.

Every endpoint except `/health` needs `Authorization: Bearer <key>` (create keys with `labelf keys create`).
Limits: at most 8 texts per request, each at most 10,000 characters. Errors are JSON `{detail, errors, request_id}`
with `detail` naming the field.
"""


class _BodyTooLarge(HTTPException):
    def __init__(self) -> None:
        super().__init__(413, f"request body over {MAX_BODY_BYTES:,} bytes")


class RequestContext:
    """Pure ASGI middleware: request ids (``X-Request-ID``), a body-size limit (413), metrics and an access log."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics, max_body: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        rid = given if _RID_RE.match(given) else uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = rid
        t0 = time.perf_counter()
        status = {"code": 500, "started": False}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["started"] = message["status"], True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        seen = 0
        limit = max(self.max_body, MAX_DOCUMENT_BODY_BYTES) if scope.get("path") == "/v1/classify" else self.max_body

        async def receive_wrapper() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _BodyTooLarge
            return message

        try:
            length = int(headers.get(b"content-length", b"0") or 0)
        except ValueError:
            length = 0
        try:
            if length > limit:
                raise _BodyTooLarge
            await self.app(scope, receive_wrapper, send_wrapper)
        except _BodyTooLarge:
            if not status["started"]:
                await self._reply(send_wrapper, 413, {"detail": f"request body over {limit:,} bytes",
                                                      "errors": [], "request_id": rid})
            else:  # pragma: no cover - the body is read before any response starts
                raise
        finally:
            route = _CONVERTOR.sub("}", getattr(scope.get("route"), "path", None) or "unmatched")
            seconds = time.perf_counter() - t0
            self.metrics.observe_request(scope.get("method", "-"), route, status["code"], seconds)
            log.info("request", extra={"request_id": rid, "method": scope.get("method"),
                                       "path": escape_control(scope.get("path") or "")[:2000],
                                       "status": status["code"], "ms": round(seconds * 1000, 1)})

    @staticmethod
    async def _reply(send: Send, code: int, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()
        await send({"type": "http.response.start", "status": code,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]})
        await send({"type": "http.response.body", "body": raw})


_CONVERTOR = re.compile(r":\w+}")  # "/v2/models/{model_id:int}" -> "/v2/models/{model_id}" in /metrics


def create_app(project: Project | str | Path | None = None, *, settings: ServiceSettings | None = None) -> FastAPI:
    """The service for a project (an open :class:`Project`, a config path, or None for config discovery).

    A project passed in open stays open after shutdown (the caller owns it); one opened here is closed.
    """
    settings = settings or ServiceSettings.from_env()
    metrics = ServiceMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = not isinstance(project, Project)
        proj = Project.open(project) if owned else project
        manager = ModelManager(proj, reload_interval_s=settings.reload_interval_s, runtime=settings.runtime)
        manager.load_all()
        manager.start()
        app.state.project = proj
        app.state.settings = settings
        app.state.keys = ApiKeyStore(proj.ws)
        app.state.manager = manager
        app.state.metrics = metrics
        app.state.executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="labelf-infer")
        app.state.classify = ClassifyService(proj, manager, cache_size=settings.classify_cache_size,
                                             zero_shot_cache_size=settings.zero_shot_cache_size,
                                             runtime=settings.runtime)
        app.state.routing = RoutingQueue(proj, metrics, quota_per_hour=settings.routing_quota_per_hour,
                                         max_pending=settings.routing_queue_size).start()
        if settings.auth and app.state.keys.count_active() == 0:
            log.warning("no active API keys: every request will be refused (401); create one with `labelf keys create`")
        log.info("serving %d model(s) of project %r (runtime %s)", len(manager.loaded), proj.config.project,
                 settings.runtime)
        try:
            yield
        finally:
            app.state.routing.stop()
            manager.stop()
            app.state.executor.shutdown(wait=False, cancel_futures=True)
            if owned:
                proj.close()

    app = FastAPI(title="labelf-trainer inference API", version=__version__, description=DESCRIPTION,
                  lifespan=lifespan)
    app.state.settings = settings
    app.state.metrics = metrics
    install_error_handlers(app)
    inference_scope = [Depends(require_scope("inference"))]
    app.include_router(ops.public)
    app.include_router(ops.router, dependencies=inference_scope)
    app.include_router(inference.router, dependencies=inference_scope)  # before models: OPTIONS /v2/models/inference
    app.include_router(models.router, dependencies=inference_scope)
    app.include_router(bad_ids.router, dependencies=inference_scope)  # after the {model_id:int} routes
    app.include_router(classify.router, dependencies=inference_scope)
    app.include_router(ml_backend.router, prefix="/ml-backend", tags=["label-studio"],
                       dependencies=[Depends(require_scope("labeling"))])
    app.add_middleware(RequestContext, metrics=metrics)
    return app


def app_from_env() -> FastAPI:
    """uvicorn factory for ``labelf serve``: the project from ``LABELF_CONFIG``, settings from ``LABELF_SERVE_*``;
    the log is JSON lines (``LABELF_LOG_FORMAT=text`` for escaped text) at ``LABELF_LOG_LEVEL``."""
    configure_logging(os.environ.get("LABELF_LOG_LEVEL", "info"), os.environ.get("LABELF_LOG_FORMAT", "json"))
    return create_app(None, settings=ServiceSettings.from_env())

"""Error responses of the service: every failure is JSON ``{detail, errors, request_id}`` with a fitting status.

Bad input is never a 500: validation errors are 422 naming the field (``texts[3]: ...``), unknown models 404,
missing or wrong API keys 401, oversized bodies 413. A model that exists but cannot be loaded is a 503 (the
server's problem, logged). Anything unexpected is a 500 whose body carries only the request id (details go to
the log, never to the client).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..exceptions import DataError, LabelfError, ModelNotFoundError
from .manager import ModelUnavailableError

__all__ = ["ApiError", "install_error_handlers", "format_loc", "error_body"]

log = logging.getLogger("labelf.service")


class ApiError(Exception):
    """An error with an HTTP status, raised by routes and dependencies."""

    def __init__(self, status_code: int, detail: str, *, headers: dict[str, str] | None = None,
                 errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.headers = headers
        self.errors = errors or []


def format_loc(loc: tuple | list) -> str:
    """``("body", "texts", 3)`` -> ``texts[3]``; ``("path", "model_id")`` -> ``model_id``."""
    parts = [p for p in loc if p not in ("body", "path", "query", "header")] if len(loc) > 1 else \
        [p for p in loc if p != "body"]
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _clean_msg(msg: str) -> str:
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def error_body(request: Request, detail: str, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"detail": detail, "errors": errors or [], "request_id": getattr(request.state, "request_id", None)}


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = []
    for e in exc.errors():
        loc, msg = format_loc(e.get("loc", ())), _clean_msg(str(e.get("msg", "invalid")))
        if e.get("type") == "missing":
            msg = "field required"
        elif e.get("type") == "extra_forbidden":
            msg = "unknown field"
        elif e.get("type") == "json_invalid":
            loc, msg = "body", f"invalid JSON: {e.get('ctx', {}).get('error', 'cannot parse')}"
        # a model-level check already names its field ("labels: ..."); a field check gets the location prefix
        errors.append({"loc": loc or "body", "msg": msg})
    first = errors[0] if errors else {"loc": "body", "msg": "invalid request"}
    detail = first["msg"] if first["loc"] == "body" and ":" in first["msg"] else f"{first['loc']}: {first['msg']}"
    if len(errors) > 1:
        detail += f" (and {len(errors) - 1} more)"
    return JSONResponse(error_body(request, detail, errors), status_code=422)


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    return JSONResponse(error_body(request, exc.detail, exc.errors), status_code=exc.status_code, headers=exc.headers)


def status_for(exc: LabelfError) -> int:
    if isinstance(exc, ModelNotFoundError):
        return 404
    if isinstance(exc, ModelUnavailableError):
        return 503
    if isinstance(exc, DataError):
        return 422
    return 400


async def _labelf_error(request: Request, exc: LabelfError) -> JSONResponse:
    status = status_for(exc)
    if status >= 500:
        log.error("request %s: %s", getattr(request.state, "request_id", "-"), exc)
    return JSONResponse(error_body(request, str(exc)), status_code=status)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return JSONResponse(error_body(request, detail), status_code=exc.status_code, headers=getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    rid = getattr(request.state, "request_id", None)
    log.error("request %s failed", rid, exc_info=exc)
    return JSONResponse(error_body(request, f"internal error (request id {rid}); see the server log"),
                        status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(LabelfError, _labelf_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)

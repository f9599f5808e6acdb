"""Error responses of the service: every failure is JSON ``{detail, errors, request_id}`` with a fitting status.

Bad input is never a 500: validation errors are 422 naming the field (``texts[3]: ...``), unknown models 404,
missing or wrong API keys 401, oversized bodies 413. A model that exists but cannot be loaded is a 503 (the
server's problem, logged). Anything unexpected is a 500 whose body carries only the request id (details go to
the log, never to the client).
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..exceptions import DataError, LabelfError, ModelNotFoundError
from .manager import ModelUnavailableError

__all__ = ["ApiError", "install_error_handlers", "format_loc", "error_body", "document_errors", "ERROR_CODES"]

#: Every error status the service can answer, with what it means; each has the one ErrorResponse body.
ERROR_CODES: dict[str, str] = {
    "400": "The body cannot be parsed (a body that is not UTF-8 JSON text is a 422 naming `body`).",
    "401": "Missing, malformed, unknown or revoked API key.",
    "403": "The API key's scope does not allow this endpoint.",
    "404": "Unknown model, version or path.",
    "405": "Method not allowed on this path.",
    "409": "The project has no model to answer with (ML backend).",
    "413": "Request body, or inline labels/examples, over the server's limit.",
    "422": "Invalid input, including a body that is not valid UTF-8 JSON; `detail` names the field.",
    "500": "Unexpected server error; the body carries only the request id.",
    "503": "A deployed model cannot be loaded, or the workspace is busy.",
}

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
    cause = exc.__cause__
    if exc.status_code == 400 and isinstance(cause, UnicodeDecodeError):  # FastAPI's "error parsing the body"
        msg = f"invalid JSON: the body is not UTF-8 text (byte {cause.start})"
        return JSONResponse(error_body(request, f"body: {msg}", [{"loc": "body", "msg": msg}]), status_code=422)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return JSONResponse(error_body(request, detail), status_code=exc.status_code, headers=getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    rid = getattr(request.state, "request_id", None)
    log.error("request %s failed", rid, exc_info=exc)
    return JSONResponse(error_body(request, f"internal error (request id {rid}); see the server log"),
                        status_code=500)


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with one error model: every operation documents its error statuses with
    ``ErrorResponse`` (FastAPI's default 422 ``HTTPValidationError``, which this service never sends, is removed)."""
    from .schemas import ErrorResponse

    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components["ErrorResponse"] = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    for path, ops in schema.get("paths", {}).items():
        for method, op in ops.items():
            responses = op.setdefault("responses", {})
            codes = ["404", "405", "500"] if path == "/health" else list(ERROR_CODES)
            if method == "get":
                codes = [c for c in codes if c not in ("400", "413")]
            for code in codes:
                given = responses.get(code, {})
                content = given.get("content")
                own = content and "HTTPValidationError" not in str(content)  # e.g. /ready's 503 body
                responses[code] = {"description": given.get("description") or ERROR_CODES[code],
                                   "content": content if own else ref}
    return schema


async def _busy(request: Request, exc: sqlite3.OperationalError) -> JSONResponse:
    """Another process holds the workspace's write lock longer than the busy timeout: 503, retry later."""
    if "locked" not in str(exc) and "busy" not in str(exc):
        return await _unexpected(request, exc)
    log.warning("request %s: workspace busy: %s", getattr(request.state, "request_id", "-"), exc)
    return JSONResponse(error_body(request, "the workspace is busy (another process is writing); retry shortly"),
                        status_code=503, headers={"Retry-After": "1"})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(LabelfError, _labelf_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(sqlite3.OperationalError, _busy)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        app.openapi_schema = document_errors(get_openapi(title=app.title, version=app.version,
                                                         description=app.description, routes=app.routes))
    return app.openapi_schema

"""Dependencies of the routes, as ``Annotated`` aliases: settings, the project, the model manager, the API key.

Everything lives on ``app.state`` (set in the lifespan), so tests can swap any of it with
``app.dependency_overrides[get_settings] = ...``.

Authentication: ``Authorization: Bearer <key>`` (keys from ``labelf keys create``). HTTP Basic with the key as
the password is accepted too, because Label Studio's ML backend settings only offer basic auth.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

from fastapi import Depends, Request

from ..loop.project import Project
from .classify import ClassifyService
from .errors import ApiError
from .keys import ApiKey, ApiKeyStore
from .manager import ModelManager
from .metrics import ServiceMetrics
from .settings import ServiceSettings

__all__ = ["get_settings", "get_project", "get_manager", "require_api_key", "require_scope", "SettingsDep", "ProjectDep",
           "ManagerDep", "ApiKeyDep", "ExecutorDep", "MetricsDep", "ClassifyDep", "request_id"]

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="labelf"'}


def get_settings(request: Request) -> ServiceSettings:
    return request.app.state.settings


def get_project(request: Request) -> Project:
    return request.app.state.project


def get_manager(request: Request) -> ModelManager:
    return request.app.state.manager


def get_executor(request: Request) -> ThreadPoolExecutor:
    return request.app.state.executor


def get_metrics(request: Request) -> ServiceMetrics:
    return request.app.state.metrics


def get_classify(request: Request) -> ClassifyService:
    return request.app.state.classify


def request_id(request: Request) -> str:
    return getattr(request.state, "request_id", None) or "-"


SettingsDep = Annotated[ServiceSettings, Depends(get_settings)]
ProjectDep = Annotated[Project, Depends(get_project)]
ManagerDep = Annotated[ModelManager, Depends(get_manager)]
ExecutorDep = Annotated[ThreadPoolExecutor, Depends(get_executor)]
MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]
ClassifyDep = Annotated[ClassifyService, Depends(get_classify)]


def _presented_key(header: str) -> str | None:
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return value or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        return decoded.partition(":")[2] or None
    return None


def require_api_key(request: Request, settings: SettingsDep) -> ApiKey | None:
    """The caller's active API key (any scope); 401 for a missing, malformed, unknown or revoked key."""
    if not settings.auth:
        return None
    header = request.headers.get("authorization")
    if not header:
        raise ApiError(401, "missing API key: send 'Authorization: Bearer <key>' (create one with `labelf keys create`)",
                       headers=_CHALLENGE)
    key = _presented_key(header)
    if key is None:
        raise ApiError(401, "malformed Authorization header: expected 'Bearer <key>'", headers=_CHALLENGE)
    store: ApiKeyStore = request.app.state.keys
    found = store.verify(key)
    if found is None:
        raise ApiError(401, "invalid or revoked API key", headers=_CHALLENGE)
    request.state.api_key_id = found.id
    return found


def require_scope(scope: str) -> Callable[..., ApiKey | None]:
    """A dependency: the caller's key must allow ``scope`` (403 naming the scope otherwise)."""

    def check(key: Annotated[ApiKey | None, Depends(require_api_key)]) -> ApiKey | None:
        if key is not None and not key.allows(scope):
            raise ApiError(403, f"API key {key.id} ({key.scopes}) may not use {scope} endpoints: create one with "
                                f"`labelf keys create NAME --scope {scope}`")
        return key

    return check


ApiKeyDep = Annotated[ApiKey | None, Depends(require_api_key)]

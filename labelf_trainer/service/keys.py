"""API keys of the service, stored hashed in the workspace database, each with a scope.

A key is ``lf_<id>_<secret>``; only its sha256 is stored. Checking a key looks up the row by id and compares
hashes with :func:`hmac.compare_digest`, so timing reveals nothing about the secret. Revoked keys stay listed.

Scopes (:data:`SCOPES`): ``inference`` (the v2 API, ``/v1/classify``, ``/ready``, ``/metrics``; the default),
``labeling`` (the Label Studio ML backend and its webhooks: they write annotations and start retraining) and
``admin`` (everything). Verified keys are remembered for :data:`CACHE_SECONDS`, so a check reads the database
about once a second per key, and a revocation takes effect within that time.

Usage::

    store = ApiKeyStore(project.ws)
    key_id, key = store.create("dashboard")     # show ``key`` once; it cannot be recovered
    store.verify(key)                           # -> ApiKey, or None for a missing, wrong or revoked key
    store.revoke(key_id)
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass

from ..exceptions import LabelfError
from ..store import Workspace

__all__ = ["ApiKey", "ApiKeyStore", "ApiKeyError", "KEY_PREFIX", "SCOPES", "CACHE_SECONDS"]

KEY_PREFIX = "lf_"
_KEY_RE = re.compile(r"^lf_(\d{1,18})_([A-Za-z0-9_-]{20,100})$")
SCOPES = ("inference", "labeling", "admin")
CACHE_SECONDS = 1.0

class ApiKeyError(LabelfError):
    """An API key cannot be created or revoked (unknown id, bad name)."""


@dataclass(frozen=True)
class ApiKey:
    id: int
    name: str
    created_at: str
    revoked_at: str | None
    scopes: str = "inference"

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def allows(self, scope: str) -> bool:
        """Whether this key may use endpoints of ``scope`` (``admin`` may use all)."""
        granted = set(self.scopes.split(","))
        return scope in granted or "admin" in granted


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class ApiKeyStore:
    """Creates, lists, revokes and verifies the API keys of one workspace (rows in :mod:`labelf_trainer.store.keys`)."""

    def __init__(self, ws: Workspace, *, cache_seconds: float = CACHE_SECONDS) -> None:
        self.ws = ws
        self.cache_seconds = cache_seconds
        self._verified: dict[str, tuple[float, ApiKey]] = {}
        self._lock = threading.Lock()

    def create(self, name: str = "default", scope: str = "inference") -> tuple[int, str]:
        """A new key with one scope (:data:`SCOPES`); returns (id, the full key). The key itself is never stored."""
        name = name.strip()
        if not name or len(name) > 100:
            raise ApiKeyError("key name must be 1-100 characters")
        if scope not in SCOPES:
            raise ApiKeyError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
        secret = secrets.token_urlsafe(32)

        def make(key_id: int) -> tuple[str, str]:
            key = f"{KEY_PREFIX}{key_id}_{secret}"
            return _hash(key), key

        return self.ws.keys.create(name, scope, make)

    def revoke(self, key_id: int) -> ApiKey:
        if not self.ws.keys.revoke(key_id):
            raise ApiKeyError(f"no API key with id {key_id} (see `labelf keys list`)")
        return self.get(key_id)

    def get(self, key_id: int) -> ApiKey:
        row = self.ws.keys.get(key_id)
        if row is None:
            raise ApiKeyError(f"no API key with id {key_id} (see `labelf keys list`)")
        return ApiKey(**row)

    def list(self) -> list[ApiKey]:
        return [ApiKey(**r) for r in self.ws.keys.list()]

    def count_active(self) -> int:
        return self.ws.keys.count_active()

    def verify(self, key: str | None) -> ApiKey | None:
        """The active key matching ``key``, else None (malformed, unknown, wrong secret or revoked).

        A key verified less than ``cache_seconds`` ago is not read again (reads never wait for a writer anyway)."""
        m = _KEY_RE.match(key or "")
        if m is None:
            return None
        digest = _hash(key or "")
        now = time.monotonic()
        with self._lock:
            hit = self._verified.get(digest)
        if hit is not None and now - hit[0] < self.cache_seconds:
            return hit[1]
        row = self.ws.keys.get(int(m.group(1)), with_hash=True)
        stored = row["hash"] if row else _hash("")  # compare anyway: same work for unknown ids
        if not hmac.compare_digest(stored, digest) or row is None or row["revoked_at"] is not None:
            with self._lock:
                self._verified.pop(digest, None)
            return None
        found = ApiKey(id=row["id"], name=row["name"], created_at=row["created_at"], revoked_at=None,
                       scopes=row["scopes"])
        with self._lock:
            if len(self._verified) > 10_000:
                self._verified.clear()
            self._verified[digest] = (now, found)
        return found

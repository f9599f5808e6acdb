"""API keys of the inference service, stored hashed in the workspace database.

A key is ``lf_<id>_<secret>``; only its sha256 is stored. Checking a key looks up the row by id and compares
hashes with :func:`hmac.compare_digest`, so timing reveals nothing about the secret. Revoked keys stay listed.

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
from dataclasses import dataclass

from ..exceptions import LabelfError
from ..store import Workspace

__all__ = ["ApiKey", "ApiKeyStore", "ApiKeyError", "KEY_PREFIX"]

KEY_PREFIX = "lf_"
_KEY_RE = re.compile(r"^lf_(\d{1,18})_([A-Za-z0-9_-]{20,100})$")

class ApiKeyError(LabelfError):
    """An API key cannot be created or revoked (unknown id, bad name)."""


@dataclass(frozen=True)
class ApiKey:
    id: int
    name: str
    created_at: str
    revoked_at: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class ApiKeyStore:
    """Creates, lists, revokes and verifies the API keys of one workspace (rows in :mod:`labelf_trainer.store.keys`)."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def create(self, name: str = "default") -> tuple[int, str]:
        """A new key; returns (id, the full key). The key itself is never stored."""
        name = name.strip()
        if not name or len(name) > 100:
            raise ApiKeyError("key name must be 1-100 characters")
        secret = secrets.token_urlsafe(32)

        def make(key_id: int) -> tuple[str, str]:
            key = f"{KEY_PREFIX}{key_id}_{secret}"
            return _hash(key), key

        return self.ws.keys.create(name, make)

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
        """The active key matching ``key``, else None (malformed, unknown, wrong secret or revoked)."""
        m = _KEY_RE.match(key or "")
        if m is None:
            return None
        row = self.ws.keys.get(int(m.group(1)), with_hash=True)
        stored = row["hash"] if row else _hash("")  # compare anyway: same work for unknown ids
        if not hmac.compare_digest(stored, _hash(key or "")) or row is None or row["revoked_at"] is not None:
            return None
        return ApiKey(id=row["id"], name=row["name"], created_at=row["created_at"], revoked_at=row["revoked_at"])

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
from ..store import Workspace, utcnow

__all__ = ["ApiKey", "ApiKeyStore", "ApiKeyError", "KEY_PREFIX"]

KEY_PREFIX = "lf_"
_KEY_RE = re.compile(r"^lf_(\d{1,18})_([A-Za-z0-9_-]{20,100})$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
"""


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
    """Creates, lists, revokes and verifies the API keys of one workspace."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        with ws.transaction() as c:
            c.execute(_SCHEMA)

    def create(self, name: str = "default") -> tuple[int, str]:
        """A new key; returns (id, the full key). The key itself is never stored."""
        name = name.strip()
        if not name or len(name) > 100:
            raise ApiKeyError("key name must be 1-100 characters")
        secret = secrets.token_urlsafe(32)
        with self.ws.transaction() as c:
            cur = c.execute("INSERT INTO api_keys(name, hash, created_at) VALUES (?, '', ?)", (name, utcnow()))
            key_id = int(cur.lastrowid)
            key = f"{KEY_PREFIX}{key_id}_{secret}"
            c.execute("UPDATE api_keys SET hash = ? WHERE id = ?", (_hash(key), key_id))
        return key_id, key

    def revoke(self, key_id: int) -> ApiKey:
        with self.ws.transaction() as c:
            row = c.execute("SELECT * FROM api_keys WHERE id = ?", (int(key_id),)).fetchone()
            if row is None:
                raise ApiKeyError(f"no API key with id {key_id} (see `labelf keys list`)")
            if row["revoked_at"] is None:
                c.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ?", (utcnow(), int(key_id)))
        return self.get(key_id)

    def get(self, key_id: int) -> ApiKey:
        rows = self.ws.query("SELECT id, name, created_at, revoked_at FROM api_keys WHERE id = ?", (int(key_id),))
        if not rows:
            raise ApiKeyError(f"no API key with id {key_id} (see `labelf keys list`)")
        return ApiKey(**dict(rows[0]))

    def list(self) -> list[ApiKey]:
        rows = self.ws.query("SELECT id, name, created_at, revoked_at FROM api_keys ORDER BY id")
        return [ApiKey(**dict(r)) for r in rows]

    def count_active(self) -> int:
        return self.ws.query("SELECT COUNT(*) AS n FROM api_keys WHERE revoked_at IS NULL")[0]["n"]

    def verify(self, key: str | None) -> ApiKey | None:
        """The active key matching ``key``, else None (malformed, unknown, wrong secret or revoked)."""
        m = _KEY_RE.match(key or "")
        if m is None:
            return None
        rows = self.ws.query("SELECT * FROM api_keys WHERE id = ?", (int(m.group(1)),))
        stored = rows[0]["hash"] if rows else _hash("")  # compare anyway: same work for unknown ids
        if not hmac.compare_digest(stored, _hash(key or "")) or not rows or rows[0]["revoked_at"] is not None:
            return None
        r = rows[0]
        return ApiKey(id=r["id"], name=r["name"], created_at=r["created_at"], revoked_at=r["revoked_at"])

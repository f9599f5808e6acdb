"""Rows of the service's API keys (``api_keys``): only hashes are stored, never a key."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .db import utcnow

if TYPE_CHECKING:
    from .db import Workspace

__all__ = ["KeyStore"]

_PUBLIC = "id, name, scopes, created_at, revoked_at"


class KeyStore:
    """``ws.keys``: create, revoke, read key rows (the rules live in :mod:`labelf_trainer.service.keys`)."""

    def __init__(self, ws: "Workspace") -> None:
        self.ws = ws

    def create(self, name: str, scopes: str, make_hash: Any) -> tuple[int, Any]:
        """Insert a key row; ``make_hash(key_id)`` returns ``(hash, value)`` for the new id. Returns (id, value)."""
        with self.ws.transaction() as c:
            key_id = int(c.execute("INSERT INTO api_keys(name, hash, scopes, created_at) VALUES (?, '', ?, ?)",
                                   (name, scopes, utcnow())).lastrowid or 0)
            digest, value = make_hash(key_id)
            c.execute("UPDATE api_keys SET hash = ? WHERE id = ?", (digest, key_id))
        return key_id, value

    def revoke(self, key_id: int) -> bool:
        """Mark a key revoked (a revoked key stays revoked); False if there is no such key."""
        with self.ws.transaction() as c:
            row = c.execute("SELECT revoked_at FROM api_keys WHERE id = ?", (int(key_id),)).fetchone()
            if row is None:
                return False
            if row["revoked_at"] is None:
                c.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ?", (utcnow(), int(key_id)))
        return True

    def get(self, key_id: int, *, with_hash: bool = False) -> dict[str, Any] | None:
        cols = "*" if with_hash else _PUBLIC
        rows = self.ws.query(f"SELECT {cols} FROM api_keys WHERE id = ?", (int(key_id),))
        return dict(rows[0]) if rows else None

    def list(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.ws.query(f"SELECT {_PUBLIC} FROM api_keys ORDER BY id")]

    def count_active(self) -> int:
        return self.ws.query("SELECT COUNT(*) AS n FROM api_keys WHERE revoked_at IS NULL")[0]["n"]

"""Small key/value state of a workspace (JSON values): the active model, pull cursors, counters."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .db import Workspace

__all__ = ["KVStore"]


class KVStore:
    """``ws.kv``: ``get(key, default)`` and ``set(key, value)`` (joins the current transaction)."""

    def __init__(self, ws: "Workspace") -> None:
        self.ws = ws

    def get(self, key: str, default: Any = None) -> Any:
        rows = self.ws.query("SELECT value FROM kv WHERE key = ?", (key,))
        return json.loads(rows[0]["value"]) if rows else default

    def set(self, key: str, value: Any) -> None:
        self.ws.execute("INSERT INTO kv(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                        (key, json.dumps(value)))

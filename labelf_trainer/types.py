"""Plain records passed between the store, the strategies, the connectors and the CLI."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Item", "Annotation", "text_hash", "stable_id"]


def text_hash(text: str) -> str:
    """Content hash of a text (sha256 hex); the embedding cache key and the default stable id."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stable_id(text: str) -> str:
    """Stable id for a text that came without one: derived from its content."""
    return "t" + text_hash(text)[:20]


@dataclass(frozen=True)
class Item:
    """One text in the pool."""

    id: str
    text: str
    source: str = ""
    gold: tuple[str, ...] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def hash(self) -> str:
        return text_hash(self.text)


@dataclass(frozen=True)
class Annotation:
    """Label(s) given to an item by an annotator."""

    item_id: str
    labels: tuple[str, ...]
    annotator: str = "unknown"
    source: str = "file"
    external_id: str | None = None

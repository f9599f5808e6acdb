"""Embedding layer: one encoder interface, several backends, an on-disk cache."""

from .base import Encoder, normalize
from .cache import EmbeddingCache
from .embedder import Embedder
from .resolve import ALIASES, FROZEN_ONLY, clear_encoders, load_encoder, resolve_encoder_name

__all__ = ["Encoder", "normalize", "EmbeddingCache", "Embedder", "ALIASES", "FROZEN_ONLY", "load_encoder",
           "resolve_encoder_name", "clear_encoders"]

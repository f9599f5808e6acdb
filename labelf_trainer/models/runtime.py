"""Encoder runtimes for loaded models: torch (exact), ONNX Runtime fp32 (torch's answers, faster), int8 (fastest).

Usage::

    model = registry.load(model_id, cache=False)
    accelerate(model, "onnx-int8", ws.cache_dir)      # False if the model keeps torch (unsupported encoder)
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from ..embeddings.backends.sentence_transformers import SentenceTransformerEncoder
from ..embeddings.embedder import Embedder
from ..exceptions import EncoderError
from .base import FrozenEncoderClassifier, TextClassifier

__all__ = ["Runtime", "RUNTIMES", "accelerate"]

log = logging.getLogger("labelf.models")

Runtime = Literal["torch", "onnx", "onnx-int8"]
RUNTIMES = ("torch", "onnx", "onnx-int8")


def accelerate(model: TextClassifier, runtime: str, cache_dir: Path) -> bool:
    """Make ``model`` embed with ``runtime``; True if it now does, False if it keeps torch (unsupported encoder)."""
    if runtime == "torch" or not isinstance(model, FrozenEncoderClassifier):
        return False
    base = model.encoder_
    if not isinstance(base, SentenceTransformerEncoder):
        return False
    from ..embeddings.onnx import onnx_encoder

    try:
        enc = onnx_encoder(base, cache_dir, quantize=runtime == "onnx-int8")
    except EncoderError as e:
        log.warning("%s; using torch", e)
        return False
    model._embedder = Embedder(enc, None)
    return True

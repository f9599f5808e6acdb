"""The packaged static embedding model (``tokenlearn-static-model``): very fast, weak; for plumbing tests."""

from __future__ import annotations

import hashlib
from functools import cached_property
from pathlib import Path

import numpy as np

from ...exceptions import EncoderError
from ..base import Encoder
from ..windows import HFTokens
from .files import hash_model_dir

__all__ = ["StaticEncoder"]

MAX_TOKENS = 512


class StaticEncoder(Encoder):
    """The 20 MB packaged static embedding model (``tokenlearn-static-model``): very fast, weak; for plumbing."""

    backend = "static"
    batch_size = 1024

    def __init__(self, name: str = "static", *, prefix: str = "") -> None:
        super().__init__(name)

    @cached_property
    def _model_dir(self) -> str:
        try:
            import static_model
        except ImportError:
            raise EncoderError(
                "encoder 'static' needs the tokenlearn-static-model package: pip install 'labelf-trainer[offline]'"
            ) from None
        return static_model._model_dir()

    @cached_property
    def fingerprint(self) -> str:
        return hashlib.sha256(f"static|{hash_model_dir(Path(self._model_dir))}".encode()).hexdigest()[:32]

    @cached_property
    def dim(self) -> int:
        return int(self._encode(["x"]).shape[1])

    def _encode(self, texts: list[str]) -> np.ndarray:
        from static_model import encode_batch

        return np.asarray(encode_batch(self._model_dir, texts, MAX_TOKENS), dtype=np.float32)

    @cached_property
    def _tokens(self) -> HFTokens:
        from tokenizers import Tokenizer

        return HFTokens(Tokenizer.from_file(str(Path(self._model_dir) / "tokenizer.json")), MAX_TOKENS)

    def text_tokens(self) -> HFTokens:
        return self._tokens

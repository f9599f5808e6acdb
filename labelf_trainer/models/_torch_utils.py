"""Small helpers shared by the trainable (torch) model types."""

from __future__ import annotations

import contextlib
import hashlib
import sys
import warnings
from collections.abc import Iterator

from ..embeddings.backends import FROZEN_ONLY
from ..embeddings.quiet import quiet_hf
from ..embeddings.resolve import resolve_encoder_name
from ..exceptions import EncoderError
from .specs import model_types

__all__ = ["state_fingerprint", "trainable_base", "quiet_hf", "torch_runtime", "training_progress", "pick_device"]


def state_fingerprint(module) -> str:  # noqa: ANN001 - torch.nn.Module
    """Content hash of a module's weights: equal fingerprints mean equal weights."""
    import torch

    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().view(-1).view(dtype=torch.uint8).numpy().tobytes())
    return h.hexdigest()[:32]


def trainable_base(base: str, model_type: str) -> tuple[str, str]:
    """(model id or folder, text prefix) of a transformers/sentence-transformers base; frozen-only is refused."""
    backend, target, prefix = resolve_encoder_name(base)
    if backend in FROZEN_ONLY:
        raise EncoderError(
            f"encoder {base!r} ({backend}) is frozen-only: it supports model types "
            f"{' and '.join(model_types(frozen_encoder=True))}, "
            f"not {model_type}; pass a sentence-transformers / transformers model with --base (e.g. minilm, "
            "multilingual-minilm or a Hugging Face id)")
    return target, prefix


def pick_device(device: str | None) -> str:
    """``device`` if given, else cuda when available, else cpu."""
    if device:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@contextlib.contextmanager
def torch_runtime(num_threads: int | None) -> Iterator[None]:
    """Run torch work with ``num_threads`` intra-op threads (restored after) and stdout sent to stderr.

    Libraries print training logs on stdout; the CLI keeps stdout for results. On a shared, busy CPU one thread
    is often several times faster than two (no spin-waiting), hence the knob.
    """
    import torch

    before = torch.get_num_threads()
    if num_threads:
        torch.set_num_threads(int(num_threads))
    try:
        with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*pin_memory.*")
            yield
    finally:
        if num_threads:
            torch.set_num_threads(before)


@contextlib.contextmanager
def training_progress(enabled: bool) -> Iterator[None]:
    """Let transformers show its training progress bar (on stderr) inside this block; quiet again after."""
    from transformers.utils import logging as hf_logging

    if enabled:
        hf_logging.enable_progress_bar()
        hf_logging.set_verbosity_warning()  # at error level the Trainer swaps its bar for printed log dicts
    try:
        yield
    finally:
        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()

"""Keep Hugging Face libraries quiet: no info logs, weight-loading bars, tracker integrations or fork warnings."""

from __future__ import annotations

import logging
import os

__all__ = ["quiet_hf"]


def quiet_hf() -> None:
    """Silence transformers / sentence-transformers / setfit below ERROR and disable their progress bars."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("WANDB_DISABLED", "true")
    for name in ("setfit", "sentence_transformers", "transformers"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover - a core dependency
        pass

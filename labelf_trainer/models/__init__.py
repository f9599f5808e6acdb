"""Model types behind one interface, and loading any saved model by its type."""

from __future__ import annotations

import importlib
from pathlib import Path

from ..exceptions import ModelError, ModelMismatchError
from .base import META_FILE, FrozenEncoderClassifier, TextClassifier, read_meta
from .zero_shot import ZeroShotClassifier

__all__ = ["TextClassifier", "FrozenEncoderClassifier", "ZeroShotClassifier", "MODEL_TYPES", "load_classifier",
           "META_FILE", "read_meta"]

#: model type -> "module:Class", imported only when a model of that type is loaded.
MODEL_TYPES: dict[str, str] = {
    "zero-shot": "labelf_trainer.models.zero_shot:ZeroShotClassifier",
    "embedding-head": "labelf_trainer.models.embedding_head:EmbeddingHeadClassifier",
    "setfit": "labelf_trainer.models.setfit_model:SetFitClassifier",
    "fine-tuned": "labelf_trainer.models.fine_tuned:FineTunedClassifier",
}


def model_class(model_type: str) -> type[TextClassifier]:
    try:
        module, name = MODEL_TYPES[model_type].split(":")
    except KeyError:
        raise ModelError(f"unknown model type {model_type!r}; known: {', '.join(MODEL_TYPES)}") from None
    return getattr(importlib.import_module(module), name)


def load_classifier(path: str | Path, expected_labels: list[str] | None = None) -> TextClassifier:
    """Load a saved model of any type; refuse it if its labels differ from ``expected_labels``."""
    path = Path(path)
    meta = read_meta(path)
    if expected_labels is not None and list(meta["classes"]) != list(expected_labels):
        raise ModelMismatchError(
            f"{path}: model labels {meta['classes']} do not match the expected labels {list(expected_labels)}")
    return model_class(meta["type"])._load(path, meta)

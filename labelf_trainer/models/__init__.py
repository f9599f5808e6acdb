"""Model types behind one interface (:class:`~.base.TextClassifier`), the model-type table (:mod:`.specs`), and
loading any saved model by its type.

- :mod:`.specs`: THE table of model types (name, class, trainable, frozen encoder, args dataclass)
- :mod:`.args`: each trainable type's hyperparameters, validated, with their CLI flags
- :mod:`.base`: the interface, the frozen-encoder base, softmax/sigmoid, artefact metadata
- :mod:`.zero_shot`, :mod:`.embedding_head`, :mod:`.setfit_model`, :mod:`.fine_tuned`: the types
- :mod:`.transformer`: what SetFit and fine-tuned share (a trainable transformers body)

Names are imported on first use (``labelf --help`` must not import numpy or torch).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .specs import MODEL_SPECS, model_class, model_spec, model_types

if TYPE_CHECKING:
    from .base import TextClassifier

__all__ = ["TextClassifier", "FrozenEncoderClassifier", "ZeroShotClassifier", "MODEL_SPECS", "model_spec",
           "model_types", "model_class", "load_classifier", "META_FILE", "read_meta"]

_WHERE = {"TextClassifier": ".base", "FrozenEncoderClassifier": ".base", "META_FILE": ".base", "read_meta": ".base",
          "ZeroShotClassifier": ".zero_shot"}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name], __name__), name)


def load_classifier(path: str | Path, expected_labels: list[str] | None = None) -> "TextClassifier":
    """Load a saved model of any type; refuse it if its labels differ from ``expected_labels``."""
    from ..exceptions import ModelMismatchError
    from .base import read_meta

    path = Path(path)
    meta = read_meta(path)
    if expected_labels is not None and list(meta["classes"]) != list(expected_labels):
        raise ModelMismatchError(
            f"{path}: model labels {meta['classes']} do not match the expected labels {list(expected_labels)}")
    return model_class(meta["type"]).load(path, meta)

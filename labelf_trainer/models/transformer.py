"""What the model types that train a transformers body share (SetFit, fine-tuned): the constructor and its
params (the long-text policy among them), checking the labels before training, the weights' fingerprint, and
rebuilding from saved metadata."""

from __future__ import annotations

import dataclasses
from abc import abstractmethod
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..embeddings.windows import LongTextPolicy, policy_from_json
from ..exceptions import ModelError, ModelMismatchError
from ._torch_utils import state_fingerprint, trainable_base
from .args import ModelArgs
from .base import TextClassifier, check_fitted, make_args
from .embedding_head import encode_targets, resolve_classes

__all__ = ["TransformerClassifier"]


class TransformerClassifier(TextClassifier):
    """A classifier whose encoder weights are trained: ``base`` is a sentence-transformers / transformers model
    (alias, Hugging Face id or folder); hyperparameters are ``args`` (an instance of :attr:`Args`) or keywords."""

    Args: ClassVar[type[ModelArgs]]

    def __init__(self, *, base: str = "minilm", labels: Sequence[str] | None = None, multi_label: bool = False,
                 threshold: float = 0.5, args: ModelArgs | None = None, random_state: int = 42,
                 device: str | None = None, show_progress: bool = True,
                 long_texts: LongTextPolicy | dict[str, Any] | None = None, **hyper: Any) -> None:
        super().__init__(multi_label=multi_label, threshold=threshold)
        self.long_texts = LongTextPolicy.of(long_texts)
        self.base = base
        self.labels = labels
        self.args = make_args(self.Args, args, hyper, self.model_type)
        self.random_state = random_state
        self.device = device
        self.show_progress = show_progress
        self.prefix_ = ""

    @classmethod
    def for_training(cls, *, encoder: str, labels: Sequence[str], multi_label: bool, args: ModelArgs | None,
                     seed: int, progress: bool = True, cache_dir: Path | None = None) -> "TransformerClassifier":
        """An unfitted model as ``labelf train`` builds it; a frozen-only ``encoder`` is refused here, at once."""
        trainable_base(encoder, cls.model_type)
        return cls(base=encoder, labels=labels, multi_label=multi_label, args=args, random_state=seed,
                   show_progress=progress)

    def _own_params(self) -> dict[str, Any]:
        return {"base": self.base, "random_state": self.random_state, "long_texts": self.long_texts.to_json()}

    @property
    def num_threads(self) -> int | None:
        return getattr(self.args, "num_threads", None)

    def _prepare(self, texts: Sequence[str], y: Sequence[Any]) -> tuple[str, str, list[str], np.ndarray]:
        """Check the data and the base before any work: (model id or folder, text prefix, classes, targets)."""
        if len(texts) != len(y):
            raise ModelError(f"{len(texts)} texts but {len(y)} labels")
        target, prefix = trainable_base(self.base, self.model_type)
        classes = resolve_classes(y, self.labels, self.multi_label)
        return target, prefix, classes, encode_targets(y, classes, self.multi_label)

    @abstractmethod
    def _weights(self) -> Any:
        """The trained torch module whose weights define the encoder fingerprint."""

    @cached_property
    def encoder_fingerprint(self) -> str:
        check_fitted(self)
        return state_fingerprint(self._weights())

    def _meta(self) -> dict[str, Any]:
        return {"base": self.base, "prefix": self.prefix_, "params": self.get_params(),
                "long_texts": self.long_texts.to_json()}

    @classmethod
    def _from_meta(cls, meta: dict[str, Any]) -> "TransformerClassifier":
        """An unfitted instance with the saved constructor arguments (unknown old params are ignored)."""
        p = dict(meta.get("params", {}))
        known = {f.name for f in dataclasses.fields(cls.Args)}
        args = cls.Args.from_dict({k: v for k, v in p.items() if k in known})
        return cls(base=p.get("base", meta.get("base", "minilm")), labels=meta["classes"],
                   multi_label=meta["multi_label"], threshold=meta.get("threshold", 0.5), args=args,
                   random_state=p.get("random_state", 42), long_texts=policy_from_json(meta.get("long_texts")))

    def _check_fingerprint(self, meta: dict[str, Any], path: Path) -> None:
        expected = meta.get("encoder_fingerprint")
        if expected and expected != self.encoder_fingerprint:
            raise ModelMismatchError(f"{path}: weights do not match the saved fingerprint {expected[:12]} "
                                     "(modified or corrupt artefact)")

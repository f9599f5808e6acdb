"""The classifier interface every model type implements (scikit-learn conventions).

``fit`` returns ``self``; learned state ends in ``_``; ``predict_proba`` returns one column per class in ``classes_``
order (rows sum to 1 for single-label, independent scores in [0, 1] for multi-label); ``predict`` returns labels
from ``classes_``. ``save(dir)`` writes ``labelf_model.json`` plus safetensors weights (never pickle) and
:func:`labelf_trainer.models.load_classifier` reads any type back.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..embeddings.base import Encoder
from ..embeddings.embedder import Embedder
from ..embeddings.resolve import load_encoder
from ..exceptions import ModelError, ModelMismatchError
from .args import ModelArgs

__all__ = ["TextClassifier", "FrozenEncoderClassifier", "META_FILE", "read_meta", "check_fitted", "softmax",
           "sigmoid", "make_args"]

META_FILE = "labelf_model.json"
FORMAT_VERSION = 1


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax (numerically stable)."""
    z = np.asarray(z, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Element-wise logistic function (overflow-free)."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64)))


def make_args(cls: type[ModelArgs], args: ModelArgs | None, hyper: dict[str, Any], model_type: str) -> ModelArgs:
    """A model's hyperparameters: ``args`` (or the defaults) updated with keyword ``hyper``, validated."""
    base = args.to_dict() if args is not None else {}
    return cls.from_dict({**base, **hyper}, model_type=model_type)


def check_fitted(model: "TextClassifier") -> None:
    if getattr(model, "classes_", None) is None:
        raise ModelError(f"{type(model).__name__} is not fitted yet: call fit() first")


def read_meta(path: Path) -> dict[str, Any]:
    f = Path(path) / META_FILE
    if not f.is_file():
        raise ModelError(f"{path}: not a saved model (no {META_FILE})")
    try:
        meta = json.loads(f.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelError(f"{f}: corrupt model metadata ({e})") from None
    if meta.get("format") != FORMAT_VERSION:
        raise ModelError(f"{f}: unsupported model format {meta.get('format')!r}")
    return meta


class TextClassifier(ABC):
    """A text classifier: single-label or multi-label, with scores per class."""

    model_type: ClassVar[str] = "base"
    classes_: list[str] | None = None
    args: ModelArgs | None = None

    def __init__(self, *, multi_label: bool = False, threshold: float = 0.5) -> None:
        self.multi_label = multi_label
        self.threshold = threshold

    @classmethod
    def for_training(cls, *, encoder: str, labels: Sequence[str], multi_label: bool, args: ModelArgs | None,
                     seed: int, progress: bool = True, cache_dir: Path | None = None) -> "TextClassifier":
        """An unfitted model as ``labelf train`` builds it (trainable types override this)."""
        raise ModelError(f"{cls.model_type} models are not trained with `labelf train`")

    def get_params(self) -> dict[str, Any]:
        """Everything needed to build the same unfitted model again (stored with each version)."""
        return {**self._own_params(), **(self.args.to_dict() if self.args is not None else {}),
                "multi_label": self.multi_label, "threshold": self.threshold}

    def _own_params(self) -> dict[str, Any]:
        """The type's constructor arguments besides its args dataclass (encoder or base, seed...)."""
        return {}

    @abstractmethod
    def fit(self, texts: Sequence[str], y: Sequence[Any]) -> "TextClassifier":
        """Train on texts and labels (a label per text, or a sequence of labels per text for multi-label)."""

    @abstractmethod
    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Scores of shape (n_texts, n_classes), columns in ``classes_`` order."""

    def predict(self, texts: Sequence[str]) -> list[Any]:
        """Top label per text, or for multi-label the tuple of labels scoring at least ``threshold``."""
        check_fitted(self)
        proba = self.predict_proba(texts)
        assert self.classes_ is not None
        if self.multi_label:
            return [tuple(c for c, p in zip(self.classes_, row) if p >= self.threshold) for row in proba]
        return [self.classes_[i] for i in proba.argmax(axis=1)]

    @property
    @abstractmethod
    def encoder_fingerprint(self) -> str:
        """Fingerprint of the text encoder this model embeds with."""

    # -- persistence ---------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the model into ``path`` (created if missing): metadata JSON plus weights, no pickle."""
        check_fitted(self)
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        extra = self._save(path)
        meta = {
            "format": FORMAT_VERSION,
            "type": self.model_type,
            "classes": list(self.classes_ or []),
            "multi_label": self.multi_label,
            "threshold": self.threshold,
            "encoder_fingerprint": self.encoder_fingerprint,
            **extra,
        }
        (path / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")

    @abstractmethod
    def _save(self, path: Path) -> dict[str, Any]:
        """Write weights into ``path``; return extra metadata for ``labelf_model.json``."""

    @classmethod
    @abstractmethod
    def _load(cls, path: Path, meta: dict[str, Any]) -> "TextClassifier":
        """Rebuild the model from ``path`` and its metadata."""


class FrozenEncoderClassifier(TextClassifier):
    """A model over a frozen, shared encoder: texts are embedded (through the cache when attached), then scored.

    Models that share an encoder fingerprint can share one embedding pass: call
    :meth:`predict_proba_embeddings` with vectors from :meth:`embed` of any of them.
    """

    def __init__(self, *, encoder: str = "minilm", multi_label: bool = False, threshold: float = 0.5) -> None:
        super().__init__(multi_label=multi_label, threshold=threshold)
        self.encoder = encoder
        self._embedder: Embedder | None = None

    @property
    def encoder_(self) -> Encoder:
        return load_encoder(self.encoder)

    @property
    def encoder_fingerprint(self) -> str:
        return self.encoder_.fingerprint

    @classmethod
    def for_training(cls, *, encoder: str, labels: Sequence[str], multi_label: bool, args: ModelArgs | None,
                     seed: int, progress: bool = True, cache_dir: Path | None = None) -> "FrozenEncoderClassifier":
        """An unfitted model as ``labelf train`` builds it: on ``encoder``, embedding through ``cache_dir``."""
        model = cls(encoder=encoder, labels=labels, multi_label=multi_label, args=args,  # type: ignore[call-arg]
                    random_state=seed)
        return model.use_cache(cache_dir, progress=progress)

    def use_cache(self, cache_root: Path | None, progress: bool = True) -> "FrozenEncoderClassifier":
        """Embed through the on-disk cache at ``cache_root`` (a workspace's ``cache/``)."""
        self._embedder = Embedder(self.encoder_, cache_root, progress=progress)
        return self

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = Embedder(self.encoder_, None)
        return self._embedder

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.embedder.embed(texts)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        check_fitted(self)
        return self.predict_proba_embeddings(self.embed(texts))

    @abstractmethod
    def predict_proba_embeddings(self, X: np.ndarray) -> np.ndarray:
        """Scores from precomputed embeddings of this model's encoder."""

    def _check_encoder(self, meta: dict[str, Any], path: Path) -> None:
        expected = meta.get("encoder_fingerprint")
        actual = self.encoder_fingerprint
        if expected and expected != actual:
            raise ModelMismatchError(
                f"{path}: model was trained with encoder fingerprint {expected[:12]}, but encoder "
                f"{self.encoder!r} now has {actual[:12]}; retrain the model or point it at the original encoder")

"""The classifier interface every model type implements (scikit-learn conventions).

``fit`` returns ``self``; learned state ends in ``_``; ``predict_proba`` returns one column per class in ``classes_``
order (rows sum to 1 for single-label, independent scores in [0, 1] for multi-label); ``predict`` returns labels
from ``classes_``. ``save(dir)`` writes ``labelf_model.json`` plus safetensors weights (never pickle) and
:func:`labelf_trainer.models.load_classifier` reads any type back.

Every type's scores go through the same two steps after the type's own scoring (``_scores``): the version's
calibration (:mod:`.calibration`) and, when the project has an out-of-scope label, the out-of-scope detector
(:mod:`.out_of_scope`), which adds that label as the last class. Training attaches both (``loop/trainer.py``).
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
from .calibration import Calibrator, IdentityCalibrator, calibrator_from_json
from .out_of_scope import OutOfScope

__all__ = ["TextClassifier", "FrozenEncoderClassifier", "META_FILE", "read_meta", "check_fitted", "softmax",
           "sigmoid", "make_args", "labels_of"]

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
        self.calibration_: Calibrator = IdentityCalibrator()
        self.out_of_scope_: OutOfScope | None = None
        self._oos_embedder: Embedder | None = None

    @property
    def scored_classes(self) -> list[str]:
        """The labels the type's own scores cover (``classes_`` without the out-of-scope label)."""
        classes = list(self.classes_ or [])
        return classes[:-1] if self.out_of_scope_ is not None else classes

    def _fitted(self, classes: Sequence[str]) -> None:
        """Record a fit: its classes, with no calibration or out-of-scope detector yet (training attaches them)."""
        self.classes_ = list(classes)
        self.calibration_ = IdentityCalibrator()
        self.out_of_scope_ = None

    def attach(self, calibration: Calibrator | None = None, out_of_scope: OutOfScope | None = None) -> None:
        """Use ``calibration`` on the scores and ``out_of_scope`` (its label becomes the last class)."""
        check_fitted(self)
        scored = self.scored_classes
        self.calibration_ = calibration or IdentityCalibrator()
        self.out_of_scope_ = out_of_scope
        self.classes_ = scored + ([out_of_scope.label] if out_of_scope is not None else [])

    def _postprocess(self, raw: np.ndarray, X: np.ndarray | None, texts: Sequence[str] | None) -> np.ndarray:
        """Calibrated scores, with the out-of-scope column when there is a detector (``X``: the texts' frozen
        embeddings if the caller has them, else ``texts`` are embedded with the detector's encoder)."""
        proba = self.calibration_.transform(raw) if len(raw) else np.asarray(raw, dtype=np.float64)
        if self.out_of_scope_ is None:
            return proba
        if X is None:
            X = self._oos_embed(list(texts or []))
        return self.out_of_scope_.augment(X, proba) if len(proba) else np.zeros((0, len(self.classes_ or [])))

    def _oos_embed(self, texts: list[str]) -> np.ndarray:
        assert self.out_of_scope_ is not None
        if self._oos_embedder is None:
            enc = load_encoder(self.out_of_scope_.encoder)
            if self.out_of_scope_.encoder_fingerprint and enc.fingerprint != self.out_of_scope_.encoder_fingerprint:
                raise ModelMismatchError(f"the out-of-scope detector was fitted on encoder fingerprint "
                                         f"{self.out_of_scope_.encoder_fingerprint[:12]}, but "
                                         f"{self.out_of_scope_.encoder!r} now has {enc.fingerprint[:12]}")
            self._oos_embedder = Embedder(enc, None)
        return self._oos_embedder.embed(texts)

    def use_cache(self, cache_root: Path | None, progress: bool = True) -> "TextClassifier":
        """Embed the out-of-scope detector's texts through the on-disk cache at ``cache_root``."""
        if self.out_of_scope_ is not None:
            self._oos_embedder = Embedder(load_encoder(self.out_of_scope_.encoder), cache_root, progress=progress)
        return self

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

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated scores of shape (n_texts, n_classes), columns in ``classes_`` order."""
        check_fitted(self)
        return self._postprocess(self._scores(texts), None, texts)

    @abstractmethod
    def _scores(self, texts: Sequence[str]) -> np.ndarray:
        """The type's own scores over :attr:`scored_classes` (before calibration and out of scope)."""

    def predict(self, texts: Sequence[str]) -> list[Any]:
        """Top label per text, or for multi-label the tuple of labels scoring at least ``threshold`` (the
        out-of-scope label alone when its score is at least 0.5: no label applies)."""
        check_fitted(self)
        return labels_of(self.predict_proba(texts), list(self.classes_ or []), multi_label=self.multi_label,
                         threshold=self.threshold, other=self.out_of_scope_.label if self.out_of_scope_ else None)

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
            "calibration": self.calibration_.to_json(),
            **extra,
        }
        if self.out_of_scope_ is not None:
            meta["out_of_scope"] = self.out_of_scope_.to_json()
            self.out_of_scope_.save_arrays(path)
        (path / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")

    @abstractmethod
    def _save(self, path: Path) -> dict[str, Any]:
        """Write weights into ``path``; return extra metadata for ``labelf_model.json``."""

    @classmethod
    @abstractmethod
    def _load(cls, path: Path, meta: dict[str, Any]) -> "TextClassifier":
        """Rebuild the model from ``path`` and its metadata (``meta["classes"]``: the scored classes)."""

    @classmethod
    def load(cls, path: Path, meta: dict[str, Any]) -> "TextClassifier":
        """The saved model with its calibration and out-of-scope detector."""
        oos = meta.get("out_of_scope")
        scored = list(meta["classes"])[:-1] if oos else list(meta["classes"])
        model = cls._load(path, {**meta, "classes": scored})
        model.attach(calibrator_from_json(meta.get("calibration")),
                     OutOfScope.load(path, oos) if oos else None)
        return model


def labels_of(proba: np.ndarray, classes: Sequence[str], *, multi_label: bool, threshold: float = 0.5,
              other: str | None = None) -> list[Any]:
    """Predicted labels from scores: the top label (single-label), or the tuple of labels at or above
    ``threshold`` (multi-label), where an out-of-scope label ``other`` at or above 0.5 stands alone."""
    classes = list(classes)
    if not multi_label:
        return [classes[i] for i in np.asarray(proba).argmax(axis=1)]
    out = []
    for row in np.asarray(proba):
        if other is not None and row[classes.index(other)] >= 0.5:
            out.append((other,))
        else:
            out.append(tuple(c for c, p in zip(classes, row) if p >= threshold and c != other))
    return out


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
        super().use_cache(cache_root, progress)
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

    def predict_proba_embeddings(self, X: np.ndarray) -> np.ndarray:
        """Calibrated scores (with the out-of-scope column) from precomputed embeddings of this model's encoder;
        the out-of-scope detector reuses them when it was fitted on the same encoder."""
        check_fitted(self)
        own = self.out_of_scope_ is not None and self.out_of_scope_.encoder_fingerprint in ("", self.encoder_fingerprint)
        return self._postprocess(self._scores_embeddings(X), X if own else None, None)

    def _scores(self, texts: Sequence[str]) -> np.ndarray:
        return self._scores_embeddings(self.embed(texts))

    @abstractmethod
    def _scores_embeddings(self, X: np.ndarray) -> np.ndarray:
        """The type's own scores from precomputed embeddings (before calibration and out of scope)."""

    def _check_encoder(self, meta: dict[str, Any], path: Path) -> None:
        expected = meta.get("encoder_fingerprint")
        actual = self.encoder_fingerprint
        if expected and expected != actual:
            raise ModelMismatchError(
                f"{path}: model was trained with encoder fingerprint {expected[:12]}, but encoder "
                f"{self.encoder!r} now has {actual[:12]}; retrain the model or point it at the original encoder")

"""Zero-shot "describe and classify": score texts by similarity to embedded label descriptions and examples."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file, save_file

from ..config import LabelSpec
from ..embeddings import normalize
from ..embeddings.vectors import Evidence, max_over_units
from ..embeddings.windows import LongTextPolicy, policy_from_json
from ..exceptions import ModelError
from .base import FrozenEncoderClassifier, check_fitted, sigmoid, softmax
from .embedding_head import LongTextsFrozen

__all__ = ["ZeroShotClassifier", "softmax", "sigmoid", "DEFAULT_TEMPERATURE", "DEFAULT_MULTI_BIAS", "UNIT_BIAS"]

#: Softmax temperature over cosine similarities. benchmarks/zero_shot.py fits it (minimum log-loss, 1,000 labeled
#: texts) with all-MiniLM-L6-v2 and label descriptions: 0.0435 on Banking77, 0.0369 on Bitext; 0.04 sits between.
#: A project's own labels re-fit it through the calibration layer (``models/calibration.py: refit_temperature``).
DEFAULT_TEMPERATURE = 0.04
#: Multi-label: similarity at which a label's independent score is 0.5.
DEFAULT_MULTI_BIAS = 0.35
#: Multi-label on long texts: a window or turn must be this much more similar than the whole text to count (a maximum
#: over many units is inflated). Measured on SGD dialogues (issue 13): the bias fitted for units is the text's + 0.05.
UNIT_BIAS = 0.05


class ZeroShotClassifier(LongTextsFrozen, FrozenEncoderClassifier):
    """Classifies with no labeled data: each label is the normalized mean of its embedded description and examples.

    Single-label scores are ``softmax(cos / temperature)``; multi-label scores are independent
    ``sigmoid((cos - bias) / temperature)``, where a long text's cosine is the best of the whole text's and (minus
    :data:`UNIT_BIAS`) of its windows' and turns'.

    Usage::

        zs = ZeroShotClassifier(labels=cfg.labels, encoder="minilm").fit()
        zs.predict(["my bill is wrong"])
    """

    model_type = "zero-shot"

    def __init__(self, labels: Sequence[LabelSpec] = (), *, encoder: str = "minilm", multi_label: bool = False,
                 temperature: float = DEFAULT_TEMPERATURE, bias: float = DEFAULT_MULTI_BIAS,
                 threshold: float = 0.5, long_texts: LongTextPolicy | dict[str, Any] | None = None) -> None:
        super().__init__(encoder=encoder, multi_label=multi_label, threshold=threshold)
        self._init_long_texts(long_texts)
        self.labels = list(labels)
        self.temperature = temperature
        self.bias = bias

    def _own_params(self) -> dict[str, Any]:
        return {"encoder": self.encoder, "temperature": self.temperature, "bias": self.bias,
                "long_texts": self.long_texts.to_json()}

    def fit(self, texts: Sequence[str] | None = None, y: Sequence[Any] | None = None) -> "ZeroShotClassifier":
        """Embed the label descriptions and examples (the model needs no labeled texts; ``texts``/``y`` are
        accepted for the common interface and ignored: training calibrates it, see ``loop/trainer.py``)."""
        if len(self.labels) < 2:
            raise ModelError("a zero-shot model needs at least two labels")
        prompts = [lab.prompt for lab in self.labels]
        examples = [ex for lab in self.labels for ex in lab.examples]
        vecs = self.embed(prompts + examples)
        protos, off = [], len(prompts)
        for i, lab in enumerate(self.labels):
            v = vecs[i]
            if lab.examples:
                v = v + vecs[off:off + len(lab.examples)].mean(axis=0)
                off += len(lab.examples)
            protos.append(v)
        self.prototypes_ = normalize(np.stack(protos))
        self._fitted([lab.name for lab in self.labels])
        return self

    def similarities(self, X: np.ndarray) -> np.ndarray:
        check_fitted(self)
        return np.asarray(X, dtype=np.float32) @ self.prototypes_.T

    def _logits(self, X: np.ndarray, bias: float = 0.0) -> np.ndarray:
        return (self.similarities(X).astype(np.float64) - bias) / self.temperature

    def _scores_embeddings(self, X: np.ndarray) -> np.ndarray:
        X = self._own_vectors(X)
        if self.multi_label:
            return sigmoid(self.evidence_embeddings(X).z)
        return softmax(self._logits(X))

    def evidence_embeddings(self, X: np.ndarray) -> Evidence:
        """Each label's best window or turn (multi-label: the scores' own rule; single-label: by similarity)."""
        X = self._own_vectors(X)
        bias = self.bias if self.multi_label else 0.0
        return max_over_units(self._logits(X, bias), X, lambda V: self._logits(V, bias), offset=UNIT_BIAS /
                              self.temperature if self.multi_label else 0.0)

    def _save(self, path: Path) -> dict[str, Any]:
        save_file({"prototypes": self.prototypes_.astype(np.float32)}, str(path / "weights.safetensors"))
        return {
            "encoder": self.encoder,
            "temperature": self.temperature,
            "bias": self.bias,
            "labels": [lab.model_dump() for lab in self.labels],
            "long_texts": self.long_texts.to_json(),
        }

    @classmethod
    def _load(cls, path: Path, meta: dict[str, Any]) -> "ZeroShotClassifier":
        model = cls([LabelSpec(**lab) for lab in meta["labels"]], encoder=meta["encoder"],
                    multi_label=meta["multi_label"], temperature=meta["temperature"], bias=meta["bias"],
                    threshold=meta.get("threshold", 0.5), long_texts=policy_from_json(meta.get("long_texts")))
        model._check_encoder(meta, path)
        model.prototypes_ = load_file(str(path / "weights.safetensors"))["prototypes"]
        model.classes_ = list(meta["classes"])
        if model.prototypes_.shape[0] != len(model.classes_):
            raise ModelError(f"{path}: weights have {model.prototypes_.shape[0]} rows for {len(model.classes_)} labels")
        return model

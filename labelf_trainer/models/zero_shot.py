"""Zero-shot "describe and classify": score texts by similarity to embedded label descriptions and examples."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file, save_file

from ..config import LabelSpec
from ..embeddings import normalize
from ..exceptions import ModelError
from .base import FrozenEncoderClassifier, check_fitted, sigmoid, softmax

__all__ = ["ZeroShotClassifier", "softmax", "sigmoid", "DEFAULT_TEMPERATURE", "DEFAULT_MULTI_BIAS"]

#: Softmax temperature over cosine similarities. benchmarks/zero_shot.py fits it (minimum log-loss, 1,000 labeled
#: texts) with all-MiniLM-L6-v2 and label descriptions: 0.0435 on Banking77, 0.0369 on Bitext; 0.04 sits between.
#: A project's own labels re-fit it through the calibration layer (``models/calibration.py: refit_temperature``).
DEFAULT_TEMPERATURE = 0.04
#: Multi-label: similarity at which a label's independent score is 0.5.
DEFAULT_MULTI_BIAS = 0.35


class ZeroShotClassifier(FrozenEncoderClassifier):
    """Classifies with no labeled data: each label is the normalized mean of its embedded description and examples.

    Single-label scores are ``softmax(cos / temperature)``; multi-label scores are independent
    ``sigmoid((cos - bias) / temperature)``.

    Usage::

        zs = ZeroShotClassifier(labels=cfg.labels, encoder="minilm").fit()
        zs.predict(["my bill is wrong"])
    """

    model_type = "zero-shot"

    def __init__(self, labels: Sequence[LabelSpec] = (), *, encoder: str = "minilm", multi_label: bool = False,
                 temperature: float = DEFAULT_TEMPERATURE, bias: float = DEFAULT_MULTI_BIAS,
                 threshold: float = 0.5) -> None:
        super().__init__(encoder=encoder, multi_label=multi_label, threshold=threshold)
        self.labels = list(labels)
        self.temperature = temperature
        self.bias = bias

    def _own_params(self) -> dict[str, Any]:
        return {"encoder": self.encoder, "temperature": self.temperature, "bias": self.bias}

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

    def _scores_embeddings(self, X: np.ndarray) -> np.ndarray:
        sims = self.similarities(X).astype(np.float64)
        if self.multi_label:
            return sigmoid((sims - self.bias) / self.temperature)
        return softmax(sims / self.temperature)

    def _save(self, path: Path) -> dict[str, Any]:
        save_file({"prototypes": self.prototypes_.astype(np.float32)}, str(path / "weights.safetensors"))
        return {
            "encoder": self.encoder,
            "temperature": self.temperature,
            "bias": self.bias,
            "labels": [lab.model_dump() for lab in self.labels],
        }

    @classmethod
    def _load(cls, path: Path, meta: dict[str, Any]) -> "ZeroShotClassifier":
        model = cls([LabelSpec(**lab) for lab in meta["labels"]], encoder=meta["encoder"],
                    multi_label=meta["multi_label"], temperature=meta["temperature"], bias=meta["bias"],
                    threshold=meta.get("threshold", 0.5))
        model._check_encoder(meta, path)
        model.prototypes_ = load_file(str(path / "weights.safetensors"))["prototypes"]
        model.classes_ = list(meta["classes"])
        if model.prototypes_.shape[0] != len(model.classes_):
            raise ModelError(f"{path}: weights have {model.prototypes_.shape[0]} rows for {len(model.classes_)} labels")
        return model

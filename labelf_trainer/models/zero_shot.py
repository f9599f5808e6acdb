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
#: `calibrate()` refits it on a project's own labeled data.
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
        """Embed the label descriptions and examples; ``texts``/``y``, if given, calibrate the temperature."""
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
        self.classes_ = [lab.name for lab in self.labels]
        if texts is not None and y is not None:
            self.calibrate(self.embed(texts), y)
        return self

    def similarities(self, X: np.ndarray) -> np.ndarray:
        check_fitted(self)
        return np.asarray(X, dtype=np.float32) @ self.prototypes_.T

    def predict_proba_embeddings(self, X: np.ndarray) -> np.ndarray:
        sims = self.similarities(X).astype(np.float64)
        if self.multi_label:
            return sigmoid((sims - self.bias) / self.temperature)
        return softmax(sims / self.temperature)

    def calibrate(self, X: np.ndarray, y: Sequence[Any]) -> float:
        """Fit the temperature (single-label) by minimum log-loss on labeled embeddings; returns it."""
        from scipy.optimize import minimize_scalar

        check_fitted(self)
        assert self.classes_ is not None
        index = {c: i for i, c in enumerate(self.classes_)}
        keep = [i for i, lab in enumerate(y) if lab in index]
        if self.multi_label or not keep:
            return self.temperature
        sims = self.similarities(X[keep]).astype(np.float64)
        target = np.array([index[y[i]] for i in keep])

        def nll(log_t: float) -> float:
            p = softmax(sims / np.exp(log_t))
            return float(-np.log(p[np.arange(len(target)), target] + 1e-12).mean())

        res = minimize_scalar(nll, bounds=(np.log(1e-3), np.log(1.0)), method="bounded")
        self.temperature = float(np.exp(res.x))
        return self.temperature

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

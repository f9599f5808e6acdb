"""SetFit model: contrastive fine-tuning of a sentence-transformers body (setfit's Trainer), then a logistic head.

Phase one is exactly ``setfit.Trainer.train_embeddings`` (pairs of same-label / different-label texts, cosine
similarity loss). Phase two fits the same :class:`~labelf_trainer.models.embedding_head.LogisticHead` as the
embedding-head model on the tuned body's embeddings, instead of SetFit's pickled scikit-learn head. Saved as
``body/`` (``save_pretrained``, safetensors) plus ``head.safetensors``; the body's weight hash is the encoder
fingerprint, checked on load.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import ModelError, ModelMismatchError
from .base import TextClassifier, check_fitted
from .embedding_head import DEFAULT_C, HEAD_FILE, LogisticHead, encode_targets, resolve_classes
from ._torch_utils import pick_device, quiet_hf, state_fingerprint, torch_runtime, trainable_base, training_progress

__all__ = ["SetFitClassifier", "SETFIT_DEFAULTS"]

#: Defaults sized for a few CPU minutes per run: 20 pair iterations per text (SetFit's default), one epoch, capped
#: at 500 optimizer steps, with a body learning rate of 1e-4 so the capped run still moves the body. Against
#: 2e-5 / 5 iterations (all-MiniLM-L6-v2, benchmarks/train.py): SST-5 64/class 41.1 vs 35.6, TREC 10/class
#: 86.0 vs 72.4, Banking77 10/class 81.6 vs 84.1 over 3 seeds (there the frozen embedding-head is better still: 85.0).
SETFIT_DEFAULTS: dict[str, Any] = {"num_iterations": 20, "num_epochs": 1, "batch_size": 16,
                                   "body_learning_rate": 1e-4, "max_steps": 500, "max_length": 128}


class SetFitClassifier(TextClassifier):
    """Usage::

        clf = SetFitClassifier(base="minilm", labels=cfg.label_names).fit(texts, labels)
        clf.save(folder); load_classifier(folder).predict_proba(texts)   # identical scores
    """

    model_type = "setfit"

    def __init__(self, *, base: str = "minilm", labels: Sequence[str] | None = None, multi_label: bool = False,
                 threshold: float = 0.5, num_iterations: int = SETFIT_DEFAULTS["num_iterations"],
                 num_epochs: int = SETFIT_DEFAULTS["num_epochs"], batch_size: int = SETFIT_DEFAULTS["batch_size"],
                 body_learning_rate: float = SETFIT_DEFAULTS["body_learning_rate"],
                 max_steps: int | None = SETFIT_DEFAULTS["max_steps"],
                 max_length: int | None = SETFIT_DEFAULTS["max_length"], C: float = DEFAULT_C,
                 random_state: int = 42, num_threads: int | None = None, device: str | None = None,
                 show_progress: bool = True) -> None:
        super().__init__(multi_label=multi_label, threshold=threshold)
        self.base = base
        self.labels = labels
        self.num_iterations = num_iterations
        self.num_epochs = num_epochs
        self.batch_size = batch_size
        self.body_learning_rate = body_learning_rate
        self.max_steps = max_steps
        self.max_length = max_length
        self.C = C
        self.random_state = random_state
        self.num_threads = num_threads
        self.device = device
        self.show_progress = show_progress
        self.prefix_ = ""

    def get_params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("base", "num_iterations", "num_epochs", "batch_size",
                                              "body_learning_rate", "max_steps", "max_length", "C",
                                              "random_state", "multi_label", "threshold")}

    # -- training -------------------------------------------------------------------------------------------
    def fit(self, texts: Sequence[str], y: Sequence[Any]) -> "SetFitClassifier":
        if len(texts) != len(y):
            raise ModelError(f"{len(texts)} texts but {len(y)} labels")
        target, prefix = trainable_base(self.base, self.model_type)
        classes = resolve_classes(y, self.labels, self.multi_label)
        targets = encode_targets(y, classes, self.multi_label)
        quiet_hf()
        from sentence_transformers import SentenceTransformer
        from setfit import SetFitModel, Trainer, TrainingArguments
        from setfit import logging as setfit_logging

        setfit_logging.set_verbosity_error()  # setfit.data switches it to info on import

        try:
            body = SentenceTransformer(target, device=pick_device(self.device))
        except Exception as e:  # noqa: BLE001 - hub/IO errors come in many types
            raise ModelError(f"cannot load {self.base!r} as a sentence-transformers body: "
                             f"{str(e).splitlines()[0][:200]}") from None
        if self.max_length:
            body.max_seq_length = min(body.max_seq_length or self.max_length, self.max_length)
        texts = [prefix + t for t in texts]
        model = SetFitModel(model_body=body, model_head=None,
                            multi_target_strategy="one-vs-rest" if self.multi_label else None)
        labels_for_pairs = targets.tolist()
        with torch_runtime(self.num_threads), tempfile.TemporaryDirectory(prefix="labelf-setfit-") as out_dir:
            args = TrainingArguments(
                output_dir=out_dir, batch_size=self.batch_size, num_epochs=self.num_epochs,
                num_iterations=self.num_iterations, body_learning_rate=self.body_learning_rate,
                max_steps=self._steps(len(texts)), seed=self.random_state, report_to="none",
                save_strategy="no", logging_strategy="no", show_progress_bar=self.show_progress,
                max_length=self.max_length)
            with training_progress(self.show_progress):  # transformers picks its progress callback at init
                trainer = Trainer(model=model, args=args)
                trainer.train_embeddings(list(texts), labels_for_pairs, args=args)
            self.body_ = body.eval()
            self.prefix_ = prefix
            X = self._encode(texts, prefixed=True)
        self.head_ = LogisticHead.fit(X, targets, len(classes), multi_label=self.multi_label, C=self.C,
                                      random_state=self.random_state)
        self.classes_ = classes
        self.__dict__.pop("encoder_fingerprint", None)
        return self

    def _steps(self, n_texts: int) -> int:
        """Optimizer steps: the epochs over ``2 * num_iterations * n_texts`` pairs, capped by ``max_steps``.

        (transformers treats a positive ``max_steps`` as the exact number of steps, cycling over the data, so the
        cap is applied here; -1 means "run the epochs".)
        """
        natural = math.ceil(2 * self.num_iterations * n_texts / self.batch_size) * self.num_epochs
        return int(self.max_steps) if self.max_steps and self.max_steps < natural else -1

    # -- inference ------------------------------------------------------------------------------------------
    def _encode(self, texts: Sequence[str], *, prefixed: bool = False) -> np.ndarray:
        import torch

        texts = list(texts) if prefixed else [self.prefix_ + t for t in texts]
        with torch_runtime(self.num_threads), torch.inference_mode():
            X = self.body_.encode(texts, batch_size=64, convert_to_numpy=True, normalize_embeddings=True,
                                  show_progress_bar=False)
        return np.asarray(X, dtype=np.float32)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of the tuned body (L2-normalized float32)."""
        check_fitted(self)
        return self._encode(texts)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        check_fitted(self)
        return self.head_.predict_proba(self._encode(texts))

    @cached_property
    def encoder_fingerprint(self) -> str:
        check_fitted(self)
        return state_fingerprint(self.body_)

    # -- persistence ----------------------------------------------------------------------------------------
    def _save(self, path: Path) -> dict[str, Any]:
        self.body_.save_pretrained(str(path / "body"), safe_serialization=True)
        self.head_.save(path / HEAD_FILE)
        return {"base": self.base, "prefix": self.prefix_, "params": self.get_params()}

    @classmethod
    def _load(cls, path: Path, meta: dict[str, Any]) -> "SetFitClassifier":
        quiet_hf()
        from sentence_transformers import SentenceTransformer

        p = dict(meta.get("params", {}))
        p.pop("multi_label", None), p.pop("threshold", None)
        model = cls(labels=meta["classes"], multi_label=meta["multi_label"], threshold=meta.get("threshold", 0.5),
                    **p)
        if not (path / "body").is_dir():
            raise ModelError(f"{path}: the SetFit body folder is missing; the artefact is incomplete")
        model.body_ = SentenceTransformer(str(path / "body"), device=pick_device(None)).eval()
        model.prefix_ = meta.get("prefix", "")
        model.head_ = LogisticHead.load(path / HEAD_FILE, len(meta["classes"]), meta["multi_label"])
        model.classes_ = list(meta["classes"])
        expected = meta.get("encoder_fingerprint")
        if expected and expected != model.encoder_fingerprint:
            raise ModelMismatchError(f"{path}: body weights do not match the saved fingerprint {expected[:12]} "
                                     "(modified or corrupt artefact)")
        return model

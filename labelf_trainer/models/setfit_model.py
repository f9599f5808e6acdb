"""SetFit model: contrastive fine-tuning of a sentence-transformers body (setfit's Trainer), then a logistic head.

Phase one is exactly ``setfit.Trainer.train_embeddings`` (pairs of same-label / different-label texts, cosine
similarity loss). Phase two fits the same :class:`~labelf_trainer.models.embedding_head.LogisticHead` as the
embedding-head model on the tuned body's embeddings, instead of SetFit's pickled scikit-learn head. Saved as
``body/`` (``save_pretrained``, safetensors) plus ``head.safetensors``; the body's weight hash is the encoder
fingerprint, checked on load.

Long texts: the contrastive phase sees each text's first window (as the body truncates it); the head is trained on
the tuned body's pooled window vectors, and a multi-label head also scores every window and turn and keeps each
label's best (the embedding head's rule, :func:`~labelf_trainer.models.embedding_head.head_scores`).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..embeddings.backends.sentence_transformers import SentenceTransformerEncoder
from ..embeddings.embedder import Embedder
from ..embeddings.long_texts import LongTextEmbedder
from ..embeddings.vectors import Evidence, TextVectors
from ..exceptions import ModelError
from ._torch_utils import pick_device, quiet_hf, torch_runtime, training_progress
from .args import SetFitArgs
from .base import check_fitted
from .embedding_head import HEAD_FILE, LogisticHead, head_evidence, head_scores
from .transformer import TransformerClassifier

__all__ = ["SetFitClassifier"]


class SetFitClassifier(TransformerClassifier):
    """Usage::

        clf = SetFitClassifier(base="minilm", labels=cfg.label_names, num_iterations=5).fit(texts, labels)
        clf.save(folder); load_classifier(folder).predict_proba(texts)   # identical scores
    """

    model_type = "setfit"
    Args = SetFitArgs
    args: SetFitArgs

    # -- training -------------------------------------------------------------------------------------------
    def fit(self, texts: Sequence[str], y: Sequence[Any]) -> "SetFitClassifier":
        target, prefix, classes, targets = self._prepare(texts, y)
        a = self.args
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
        if a.max_length:
            body.max_seq_length = min(body.max_seq_length or a.max_length, a.max_length)
        raw = list(texts)
        texts = [prefix + t for t in texts]
        model = SetFitModel(model_body=body, model_head=None,
                            multi_target_strategy="one-vs-rest" if self.multi_label else None)
        labels_for_pairs = targets.tolist()
        with torch_runtime(self.num_threads), tempfile.TemporaryDirectory(prefix="labelf-setfit-") as out_dir:
            args = TrainingArguments(
                output_dir=out_dir, batch_size=a.batch_size, num_epochs=a.num_epochs,
                num_iterations=a.num_iterations, body_learning_rate=a.body_learning_rate,
                max_steps=self._steps(len(texts)), seed=self.random_state, report_to="none",
                save_strategy="no", logging_strategy="no", show_progress_bar=self.show_progress,
                max_length=a.max_length)
            with training_progress(self.show_progress):  # transformers picks its progress callback at init
                trainer = Trainer(model=model, args=args)
                trainer.train_embeddings(list(texts), labels_for_pairs, args=args)
            self.body_ = body.eval()
            self.prefix_ = prefix
        X = self._vectors(raw)
        self.head_ = LogisticHead.fit(X, targets, len(classes), multi_label=self.multi_label, C=a.C,
                                      random_state=self.random_state)
        self._fitted(classes)
        self.__dict__.pop("encoder_fingerprint", None)
        return self

    def _steps(self, n_texts: int) -> int:
        """Optimizer steps: the epochs over ``2 * num_iterations * n_texts`` pairs, capped by ``max_steps``.

        (transformers treats a positive ``max_steps`` as the exact number of steps, cycling over the data, so the
        cap is applied here; -1 means "run the epochs".)
        """
        a = self.args
        natural = math.ceil(2 * a.num_iterations * n_texts / a.batch_size) * a.num_epochs
        return int(a.max_steps) if a.max_steps and a.max_steps < natural else -1

    # -- inference ------------------------------------------------------------------------------------------
    def _vectors(self, texts: Sequence[str]) -> TextVectors:
        """The tuned body's text vectors under the model's long-text policy (with units for a multi-label head)."""
        import torch

        emb = getattr(self, "_long", None)
        if emb is None or emb.encoder.model is not self.body_:
            enc = SentenceTransformerEncoder.from_model(self.body_, f"setfit:{self.base}", prefix=self.prefix_,
                                                        fingerprint="setfit-body")
            emb = self._long = LongTextEmbedder(Embedder(enc, None, progress=False), self.long_texts,
                                                turns=self.multi_label)
        with torch_runtime(self.num_threads), torch.inference_mode():
            return emb.embed(list(texts))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of the tuned body (L2-normalized float32; long texts: pooled windows)."""
        check_fitted(self)
        return self._vectors(texts)

    def _scores(self, texts: Sequence[str]) -> np.ndarray:
        return head_scores(self.head_, self._vectors(texts), self.multi_label)

    def evidence(self, texts: Sequence[str]) -> Evidence:
        """Where in each text each label's score comes from (:mod:`labelf_trainer.explain`)."""
        check_fitted(self)
        return head_evidence(self.head_, self._vectors(texts), self.multi_label)

    def _weights(self) -> Any:
        return self.body_

    # -- persistence ----------------------------------------------------------------------------------------
    def _save(self, path: Path) -> dict[str, Any]:
        self.body_.save_pretrained(str(path / "body"), safe_serialization=True)
        self.head_.save(path / HEAD_FILE)
        return self._meta()

    @classmethod
    def _load(cls, path: Path, meta: dict[str, Any]) -> "SetFitClassifier":
        quiet_hf()
        from sentence_transformers import SentenceTransformer

        model = cls._from_meta(meta)
        if not (path / "body").is_dir():
            raise ModelError(f"{path}: the SetFit body folder is missing; the artefact is incomplete")
        model.body_ = SentenceTransformer(str(path / "body"), device=pick_device(None)).eval()
        model.prefix_ = meta.get("prefix", "")
        model.head_ = LogisticHead.load(path / HEAD_FILE, len(meta["classes"]), meta["multi_label"])
        model.classes_ = list(meta["classes"])
        model._check_fingerprint(meta, path)
        return model  # type: ignore[return-value]

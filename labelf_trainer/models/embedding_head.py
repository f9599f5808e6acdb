"""Embedding-head model: a logistic-regression head on frozen, cached sentence embeddings (Labelf "Active Learning").

Single-label: one multinomial logistic regression (softmax over the labels). Multi-label: one-vs-rest, an
independent binary logistic regression per label (sigmoid scores that need not sum to 1). The head is stored as
``head.safetensors`` (``coef``, ``intercept`` in float64) plus JSON metadata and reloads bit for bit.

Long texts (``long_texts:``, :mod:`labelf_trainer.embeddings.long_texts`): the head is trained and applied on the
pooled text vector; a multi-label head also scores every window and speaker turn and keeps each label's maximum
(:func:`head_scores`). The policy is saved with the model, which always runs with its own.

:class:`LogisticHead` is shared with the SetFit model, whose head is the same thing on the fine-tuned body.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file, save_file

from ..embeddings.long_texts import ModelLongTexts
from ..embeddings.vectors import Evidence, TextVectors, max_over_units
from ..embeddings.windows import LongTextPolicy, policy_from_json
from ..exceptions import ModelError
from .args import DEFAULT_C, HeadArgs
from .base import FrozenEncoderClassifier, check_fitted, make_args, sigmoid, softmax

__all__ = ["EmbeddingHeadClassifier", "LogisticHead", "resolve_classes", "encode_targets", "DEFAULT_C",
           "head_scores", "head_evidence", "LongTextsFrozen"]

#: Logit given to a label that had no training examples: far below every trained label (score ~1e-9).
ABSENT_MARGIN = 20.0
HEAD_FILE = "head.safetensors"


def resolve_classes(y: Sequence[Any], labels: Sequence[str] | None, multi_label: bool) -> list[str]:
    """The label order: ``labels`` if given (all labels of the project), else the sorted labels seen in ``y``."""
    if labels is not None:
        classes = list(labels)
        if len(set(classes)) != len(classes):
            raise ModelError(f"duplicate labels in {classes}")
    else:
        seen = {lab for v in y for lab in _as_tuple(v)} if multi_label else {_as_single(v) for v in y}
        classes = sorted(seen)
    if len(classes) < 2:
        raise ModelError(f"a classifier needs at least two labels, got {classes}")
    return classes


def _as_tuple(v: Any) -> tuple[str, ...]:
    return (v,) if isinstance(v, str) else tuple(v)


def _as_single(v: Any) -> str:
    if isinstance(v, str):
        return v
    v = tuple(v)
    if len(v) != 1:
        raise ModelError(f"single-label training needs exactly one label per text, got {list(v)}")
    return v[0]


def encode_targets(y: Sequence[Any], classes: Sequence[str], multi_label: bool) -> np.ndarray:
    """Class indices (single-label) or a multi-hot matrix (multi-label); unknown labels are an error."""
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({lab for v in y for lab in _as_tuple(v)} - set(index))
    if unknown:
        raise ModelError(f"training labels {unknown} are not among the model's labels {list(classes)}")
    if multi_label:
        Y = np.zeros((len(y), len(classes)), dtype=np.int64)
        for r, v in enumerate(y):
            for lab in _as_tuple(v):
                Y[r, index[lab]] = 1
        return Y
    return np.array([index[_as_single(v)] for v in y], dtype=np.int64)


@dataclass
class LogisticHead:
    """Linear scores ``X @ coef.T + intercept``: softmax (single-label) or independent sigmoids (multi-label)."""

    coef: np.ndarray        # (n_classes, dim) float64
    intercept: np.ndarray   # (n_classes,) float64
    multi_label: bool

    @classmethod
    def fit(cls, X: np.ndarray, targets: np.ndarray, n_classes: int, *, multi_label: bool, C: float = DEFAULT_C,
            max_iter: int = 2000, random_state: int | None = 42,
            sample_weight: np.ndarray | None = None) -> "LogisticHead":
        """Fit on embeddings (``sample_weight``: one weight per row, e.g. pseudo-labels below 1); labels without
        examples get a score of ~0 (single-label) or their smoothed prior."""
        from sklearn.linear_model import LogisticRegression

        X = np.asarray(X, dtype=np.float64)
        coef = np.zeros((n_classes, X.shape[1]))
        intercept = np.zeros(n_classes)

        def lr() -> LogisticRegression:
            return LogisticRegression(C=C, max_iter=max_iter, random_state=random_state)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)
            warnings.simplefilter("ignore", category=FutureWarning)
            if multi_label:
                for j in range(n_classes):
                    y = targets[:, j]
                    if y.min() == y.max():  # never (or always) present: a constant, smoothed score
                        prior = (y.sum() + 0.5) / (len(y) + 1.0)
                        intercept[j] = np.log(prior / (1 - prior))
                    else:
                        m = lr().fit(X, y, sample_weight=sample_weight)
                        coef[j], intercept[j] = m.coef_[0], m.intercept_[0]
            else:
                present = np.unique(targets)
                if len(present) < 2:
                    raise ModelError("training data has only one label; at least two different labels are needed")
                m = lr().fit(X, targets, sample_weight=sample_weight)
                if len(present) == 2:  # binary sklearn model: one weight vector for the second class
                    coef[present[1]], intercept[present[1]] = m.coef_[0], m.intercept_[0]
                else:
                    coef[present], intercept[present] = m.coef_, m.intercept_
                absent = np.setdiff1d(np.arange(n_classes), present)
                intercept[absent] = intercept[present].min() - ABSENT_MARGIN
        return cls(coef, intercept, multi_label)

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, dtype=np.float64) @ self.coef.T + self.intercept

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        z = self.decision_function(X)
        return sigmoid(z) if self.multi_label else softmax(z)

    def save(self, file: Path) -> None:
        save_file({"coef": np.ascontiguousarray(self.coef), "intercept": np.ascontiguousarray(self.intercept)},
                  str(file))

    @classmethod
    def load(cls, file: Path, n_classes: int, multi_label: bool) -> "LogisticHead":
        if not file.is_file():
            raise ModelError(f"{file.parent}: the model head {file.name} is missing; the artefact is incomplete")
        t = load_file(str(file))
        if t["coef"].shape[0] != n_classes or t["intercept"].shape != (n_classes,):
            raise ModelError(f"{file}: head has {t['coef'].shape[0]} rows for {n_classes} labels")
        return cls(t["coef"], t["intercept"], multi_label)


def head_scores(head: LogisticHead, X: np.ndarray, multi_label: bool) -> np.ndarray:
    """Softmax of the text vector's logits; multi-label: sigmoid of each label's best logit over the text, its
    windows and its turns (the units ``X`` carries)."""
    z = head.decision_function(X)
    if not multi_label:
        return softmax(z)
    return sigmoid(max_over_units(z, X, head.decision_function).z)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def head_evidence(head: LogisticHead, X: np.ndarray, multi_label: bool) -> Evidence:
    """Each label's best window or turn: by logit (multi-label) or by log-probability (single-label)."""
    if multi_label:
        return max_over_units(head.decision_function(X), X, head.decision_function)
    return max_over_units(_log_softmax(head.decision_function(X)), X,
                          lambda V: _log_softmax(head.decision_function(V)))


class LongTextsFrozen:
    """The long-text policy of a frozen-encoder model (a mixin before :class:`FrozenEncoderClassifier`): texts are
    embedded under the model's own policy, and vectors made under another one are embedded again."""

    long_: ModelLongTexts
    multi_label: bool

    def _init_long_texts(self, long_texts: LongTextPolicy | dict[str, Any] | None) -> None:
        self.long_ = ModelLongTexts(LongTextPolicy.of(long_texts))

    @property
    def long_texts(self) -> LongTextPolicy:
        return self.long_.policy

    def embed(self, texts: Sequence[str]) -> TextVectors:
        """Text vectors under the model's policy (multi-label: with window and turn units for scoring)."""
        return self.long_.embed(self.embedder, texts, turns=self.multi_label)  # type: ignore[attr-defined]

    def _own_vectors(self, X: np.ndarray) -> np.ndarray:
        return self.long_.own(self.embedder, X, turns=self.multi_label)  # type: ignore[attr-defined]

    def evidence(self, texts: Sequence[str]) -> Evidence:
        """Where in each text each label's score comes from (:mod:`labelf_trainer.explain`)."""
        return self.evidence_embeddings(self.embed(texts))

    def evidence_embeddings(self, X: np.ndarray) -> Evidence:
        raise NotImplementedError


class EmbeddingHeadClassifier(LongTextsFrozen, FrozenEncoderClassifier):
    """Logistic regression on frozen embeddings of ``encoder`` (through the workspace cache when attached).

    Usage::

        clf = EmbeddingHeadClassifier(encoder="minilm", labels=cfg.label_names).use_cache(ws.cache_dir)
        clf.fit(texts, labels).predict_proba(["my bill is wrong"])
    """

    model_type = "embedding-head"

    def __init__(self, *, encoder: str = "minilm", labels: Sequence[str] | None = None, multi_label: bool = False,
                 threshold: float = 0.5, args: HeadArgs | None = None, random_state: int | None = 42,
                 long_texts: LongTextPolicy | dict[str, Any] | None = None, **hyper: Any) -> None:
        super().__init__(encoder=encoder, multi_label=multi_label, threshold=threshold)
        self._init_long_texts(long_texts)
        self.labels = labels
        self.args = make_args(HeadArgs, args, hyper, self.model_type)
        self.random_state = random_state

    def fit(self, texts: Sequence[str], y: Sequence[Any]) -> "EmbeddingHeadClassifier":
        if len(texts) != len(y):
            raise ModelError(f"{len(texts)} texts but {len(y)} labels")
        return self.fit_embeddings(self.embed(texts), y)

    def fit_embeddings(self, X: np.ndarray, y: Sequence[Any],
                       sample_weight: np.ndarray | None = None) -> "EmbeddingHeadClassifier":
        """Fit the head on precomputed embeddings of this model's encoder (``sample_weight``: per row, default 1)."""
        classes = resolve_classes(y, self.labels, self.multi_label)
        targets = encode_targets(y, classes, self.multi_label)
        self.head_ = LogisticHead.fit(X, targets, len(classes), multi_label=self.multi_label, C=self.args.C,
                                      max_iter=self.args.max_iter, random_state=self.random_state,
                                      sample_weight=sample_weight)
        self._fitted(classes)
        return self

    def _scores_embeddings(self, X: np.ndarray) -> np.ndarray:
        return head_scores(self.head_, self._own_vectors(X), self.multi_label)

    def evidence_embeddings(self, X: np.ndarray) -> Evidence:
        check_fitted(self)
        return head_evidence(self.head_, self._own_vectors(X), self.multi_label)

    def _own_params(self) -> dict[str, Any]:
        return {"encoder": self.encoder, "random_state": self.random_state, "long_texts": self.long_texts.to_json()}

    def _save(self, path: Path) -> dict[str, Any]:
        self.head_.save(path / HEAD_FILE)
        return {"encoder": self.encoder, "encoder_spec": self.encoder_.spec(), "params": self.get_params(),
                "long_texts": self.long_texts.to_json()}

    @classmethod
    def _load(cls, path: Path, meta: dict[str, Any]) -> "EmbeddingHeadClassifier":
        p = meta.get("params", {})
        model = cls(encoder=meta["encoder"], labels=meta["classes"], multi_label=meta["multi_label"],
                    threshold=meta.get("threshold", 0.5), random_state=p.get("random_state"),
                    args=HeadArgs(C=p.get("C", DEFAULT_C), max_iter=p.get("max_iter", 2000)),
                    long_texts=policy_from_json(meta.get("long_texts")))
        model._check_encoder(meta, path)
        model.head_ = LogisticHead.load(path / HEAD_FILE, len(meta["classes"]), meta["multi_label"])
        model.classes_ = list(meta["classes"])
        return model

"""Classification metrics in the shape of the Labelf model object, computed with scikit-learn.

Every function takes the full label list explicitly, so a rare label missing from an evaluation split still gets
its row (support 0) and the confusion matrix keeps the model's label order. ``f1_macro`` averages over the labels
that occur in the truth or the predictions (scikit-learn's default set), so an absent label does not count as 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, multilabel_confusion_matrix, \
    precision_recall_fscore_support

from ..exceptions import DataError

__all__ = ["single_label_metrics", "multi_label_metrics", "confused_pairs", "to_indicator", "language_breakdown"]


def _r(x: float) -> float:
    return round(float(x), 4)


def to_indicator(y: Sequence[Sequence[str]], classes: Sequence[str]) -> np.ndarray:
    """Multi-hot matrix (n, len(classes)) from label tuples; unknown labels are an error."""
    index = {c: i for i, c in enumerate(classes)}
    out = np.zeros((len(y), len(classes)), dtype=np.int64)
    for r, labels in enumerate(y):
        for lab in labels:
            if lab not in index:
                raise DataError(f"label {lab!r} is not one of the model's labels: {', '.join(classes)}")
            out[r, index[lab]] = 1
    return out


def _per_class(p: np.ndarray, r: np.ndarray, f: np.ndarray, s: np.ndarray, classes: Sequence[str]) -> dict:
    return {c: {"precision": _r(p[i]), "recall": _r(r[i]), "f1": _r(f[i]), "support": int(s[i])}
            for i, c in enumerate(classes)}


def single_label_metrics(y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str]) -> dict[str, Any]:
    """accuracy, f1_macro, per_class {precision, recall, f1, support} and the confusion matrix (rows = truth)."""
    classes = list(classes)
    unknown = sorted({y for y in list(y_true) + list(y_pred) if y not in set(classes)})
    if unknown:
        raise DataError(f"label(s) {', '.join(map(repr, unknown))} are not among the model's labels")
    if not len(y_true):
        raise DataError("no texts to evaluate")
    seen = [c for c in classes if c in set(y_true) | set(y_pred)]
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=classes, zero_division=0)
    cm = confusion_matrix(y_true, y_pred, labels=classes)
    return {
        "accuracy": _r(accuracy_score(y_true, y_pred)),
        "f1_macro": _r(f1_score(y_true, y_pred, labels=seen, average="macro", zero_division=0)),
        "per_class": _per_class(p, r, f, s, classes),
        "confusion_matrix": {"labels": classes, "matrix": cm.tolist()},
        "n_eval": len(y_true),
    }


def multi_label_metrics(Y_true: np.ndarray, Y_pred: np.ndarray, classes: Sequence[str]) -> dict[str, Any]:
    """Multi-label: accuracy is exact-match (subset) accuracy; also Hamming accuracy and per-label 2x2 matrices."""
    classes = list(classes)
    Y_true, Y_pred = np.asarray(Y_true, dtype=np.int64), np.asarray(Y_pred, dtype=np.int64)
    if not len(Y_true):
        raise DataError("no texts to evaluate")
    idx = list(range(len(classes)))
    seen = [i for i in idx if Y_true[:, i].any() or Y_pred[:, i].any()]
    p, r, f, s = precision_recall_fscore_support(Y_true, Y_pred, labels=idx, zero_division=0)
    mcm = multilabel_confusion_matrix(Y_true, Y_pred, labels=idx)
    return {
        "accuracy": _r(accuracy_score(Y_true, Y_pred)),
        "hamming_accuracy": _r((Y_true == Y_pred).mean()),
        "f1_macro": _r(f1_score(Y_true, Y_pred, labels=seen, average="macro", zero_division=0)) if seen else 0.0,
        "f1_micro": _r(f1_score(Y_true, Y_pred, average="micro", zero_division=0)),
        "per_class": _per_class(p, r, f, s, classes),
        "confusion_matrix": {"labels": classes, "per_label": {
            c: {"tn": int(m[0, 0]), "fp": int(m[0, 1]), "fn": int(m[1, 0]), "tp": int(m[1, 1])}
            for c, m in zip(classes, mcm)}},
        "n_eval": int(len(Y_true)),
    }


def confused_pairs(y_true: Sequence[str], y_pred: Sequence[str], texts: Sequence[str] | None, classes: Sequence[str],
                   *, top: int = 10, examples: int = 3) -> list[dict[str, Any]]:
    """The most frequent mistakes: "A mislabeled as B" with the share of A's texts and example texts."""
    cm = confusion_matrix(y_true, y_pred, labels=list(classes))
    support = cm.sum(axis=1)
    pairs = [(int(cm[i, j]), i, j) for i in range(len(classes)) for j in range(len(classes))
             if i != j and cm[i, j] > 0]
    pairs.sort(key=lambda t: (-t[0], -t[0] / support[t[1]], t[1], t[2]))
    out = []
    for count, i, j in pairs[:top]:
        ex = [t for t, a, b in zip(texts or [], y_true, y_pred) if a == classes[i] and b == classes[j]][:examples]
        out.append({"true": classes[i], "predicted": classes[j], "count": count,
                    "rate": _r(count / support[i]), "examples": [t[:300] for t in ex]})
    return out


def language_breakdown(languages: Sequence[str], y_true: Sequence[Any], y_pred: Sequence[Any],
                       classes: Sequence[str], multi_label: bool) -> dict[str, dict[str, Any]]:
    """Accuracy and macro-F1 per detected language (``unknown`` for texts too short to tell)."""
    out: dict[str, dict[str, Any]] = {}
    langs = np.asarray(languages)
    for lang in sorted(set(languages), key=lambda x: (-int((langs == x).sum()), x)):
        rows = np.flatnonzero(langs == lang)
        if multi_label:
            t, p = np.asarray(y_true)[rows], np.asarray(y_pred)[rows]
            seen = [i for i in range(len(classes)) if t[:, i].any() or p[:, i].any()]
            acc = accuracy_score(t, p)
            f1 = f1_score(t, p, labels=seen, average="macro", zero_division=0) if seen else 0.0
        else:
            t, p = [y_true[i] for i in rows], [y_pred[i] for i in rows]
            seen = [c for c in classes if c in set(t) | set(p)]
            acc = accuracy_score(t, p)
            f1 = f1_score(t, p, labels=seen, average="macro", zero_division=0)
        out[lang] = {"n": int(len(rows)), "accuracy": _r(acc), "f1_macro": _r(f1)}
    return out

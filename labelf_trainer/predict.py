"""Turn score matrices into ranked predictions (the shape of the Labelf inference API)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .config import MAX_TEXT_CHARS
from .exceptions import DataError, UnknownLabelError

__all__ = ["rank", "choices", "check_texts", "check_label_filter"]


def check_texts(texts: Sequence[str], *, max_chars: int = MAX_TEXT_CHARS) -> None:
    """Refuse empty lists, empty texts and texts over ``max_chars`` with a message naming the text."""
    if not texts:
        raise DataError("texts: at least one text is required")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise DataError(f"texts[{i}]: must be a string")
        if not t.strip():
            raise DataError(f"texts[{i}]: text is empty")
        if len(t) > max_chars:
            raise DataError(f"texts[{i}]: text has {len(t):,} characters; the limit is {max_chars:,}")


def check_label_filter(label_filter: Sequence[str] | None, classes: Sequence[str]) -> None:
    if label_filter is None:
        return
    if not label_filter:
        raise DataError("label_filter: must name at least one label when given")
    unknown = [lab for lab in label_filter if lab not in classes]
    if unknown:
        raise UnknownLabelError(unknown, list(classes), where="label_filter")


def rank(proba: np.ndarray, classes: Sequence[str], *, max_predictions: int | None = None,
         label_filter: Sequence[str] | None = None, key: str = "confidence", digits: int = 4) -> list[list[dict]]:
    """Per text, ``[{"label": ..., key: score}, ...]`` sorted by score, filtered and cut as asked."""
    check_label_filter(label_filter, classes)
    if max_predictions is not None and max_predictions < 1:
        raise DataError("max_predictions: must be at least 1")
    cols = [i for i, c in enumerate(classes) if label_filter is None or c in set(label_filter)]
    out = []
    for row in np.asarray(proba):
        order = sorted(cols, key=lambda i: (-row[i], i))[: max_predictions or None]
        out.append([{"label": classes[i], key: round(float(row[i]), digits)} for i in order])
    return out


def choices(proba: np.ndarray, classes: Sequence[str], *, multi_label: bool,
            threshold: float = 0.5) -> list[tuple[list[str], float, list[int]]]:
    """Per text, what to pre-annotate: (the chosen labels, the top score, class indices by falling score).

    Single-label: the top label. Multi-label: every label at or above ``threshold``, else the top one.
    """
    out = []
    for row in np.asarray(proba):
        order = [int(i) for i in np.argsort(-row, kind="stable")]
        chosen = [classes[i] for i in order if row[i] >= threshold] if multi_label else []
        out.append((chosen or [classes[order[0]]], round(float(row[order[0]]), 4), order))
    return out

"""Run one or more served models on the same texts, embedding once per shared frozen encoder.

Models whose :attr:`ServedModel.shares_encoder` fingerprints are equal get one ``embed`` call between them and
then only their (cheap) heads; other models (SetFit, fine-tuned) run their own ``predict_proba``. Independent
groups run concurrently on a small thread pool, so N models over one encoder cost about what one does.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..models.base import FrozenEncoderClassifier
from .manager import ServedModel

__all__ = ["predict_models", "group_by_encoder"]


def group_by_encoder(served: Sequence[ServedModel]) -> list[list[int]]:
    """Indices of ``served`` grouped so that each group needs one encoding pass (order kept)."""
    groups: dict[object, list[int]] = {}
    for i, s in enumerate(served):
        key = s.shares_encoder or ("own", i)
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def _run_group(served: Sequence[ServedModel], idxs: list[int], texts: list[str]) -> dict[int, np.ndarray]:
    first = served[idxs[0]].model
    if isinstance(first, FrozenEncoderClassifier):
        X = first.embed(texts)
        return {i: served[i].model.predict_proba_embeddings(X) for i in idxs}  # type: ignore[attr-defined]
    return {i: served[i].model.predict_proba(texts) for i in idxs}


def predict_models(served: Sequence[ServedModel], texts: Sequence[str],
                   executor: ThreadPoolExecutor | None = None) -> list[np.ndarray]:
    """Score matrices (n_texts, n_labels) for each served model, in the order given."""
    texts = list(texts)
    groups = group_by_encoder(served)
    out: dict[int, np.ndarray] = {}
    if len(groups) == 1 or executor is None:
        for g in groups:
            out.update(_run_group(served, g, texts))
    else:
        for part in executor.map(lambda g: _run_group(served, g, texts), groups):
            out.update(part)
    return [np.asarray(out[i]) for i in range(len(served))]

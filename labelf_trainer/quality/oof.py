"""Out-of-fold scores of the project's embedding head on its frozen embeddings: what label review and annotator
consensus judge labels against (a text is never scored by a head that saw its own label)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..exceptions import DataError

if TYPE_CHECKING:
    from ..loop.project import Project

__all__ = ["embed_texts", "oof_proba", "MAX_FOLDS"]

MAX_FOLDS = 5


def embed_texts(project: "Project", texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
    """Frozen embeddings of ``texts`` with the project's encoder, through the workspace cache (as training)."""
    from ..loop.trainer import build_model

    cfg = project.config
    model = build_model("embedding-head", labels=cfg.answer_labels, multi_label=cfg.multi_label, encoder=cfg.encoder,
                        seed=cfg.training.seed, progress=progress, cache_dir=project.ws.cache_dir)
    return np.asarray(model.embed(list(texts)), dtype=np.float64)  # type: ignore[attr-defined]


def oof_proba(X: np.ndarray, targets: np.ndarray, n_classes: int, *, multi_label: bool, seed: int = 42,
              max_folds: int = MAX_FOLDS) -> np.ndarray:
    """Scores of every row from a logistic head fitted on the other folds (stratified for single-label).

    ``targets``: class indices (single-label) or a multi-hot matrix. Folds: ``max_folds``, fewer when the smallest
    class has fewer texts (at least 2 each: a class seen once cannot be scored out of fold).
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    from ..models.args import DEFAULT_C
    from ..models.embedding_head import LogisticHead

    n = len(X)
    if multi_label:
        k = min(max_folds, n)
        splits = KFold(n_splits=k, shuffle=True, random_state=seed).split(X) if k >= 2 else []
    else:
        counts = np.bincount(targets, minlength=n_classes)
        smallest = int(counts[counts > 0].min()) if n else 0
        if smallest < 2:
            raise DataError("every label needs at least 2 labeled texts to be scored out of fold")
        k = min(max_folds, smallest)
        splits = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(X, targets)
    proba = np.zeros((n, n_classes))
    done = 0
    for train, held in splits:
        head = LogisticHead.fit(X[train], targets[train], n_classes, multi_label=multi_label, C=DEFAULT_C,
                                random_state=seed)
        proba[held] = head.predict_proba(X[held])
        done += 1
    if not done:
        raise DataError(f"too few labeled texts ({n}) to score them out of fold")
    return proba

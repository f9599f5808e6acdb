"""Learning from the unlabeled pool: a frozen-encoder head trained on the labels plus pseudo-labels of pool texts.

Two ways to pseudo-label the pool, both on the cached embeddings (no text is embedded twice):

* **self-training** (``self``): the head trained on the labels scores the pool; for every label the pool texts it
  scores highest become pseudo-labels, as many per label as the labeled label mix says (class-balanced, as the
  language adaptation does, :func:`~.adaptation.pseudo_labels`), weighted by the head's confidence; the head is
  refit on labels + pseudo-labels.
* **label propagation** (``propagation``, Zhou et al. 2004; weights after Iscen et al., CVPR 2019): the labels
  spread over the pool's k-nearest-neighbour graph (cosine similarity cubed, symmetric, normalised);
  every pool text gets the label its neighbourhood carries, weighted by ``1 - entropy / log(C)`` of its propagated
  distribution and by the inverse frequency of its pseudo-label; the head is refit on labels + pseudo-labels.

Measured (``benchmarks/active_learning.py --pool-learning``, frozen MiniLM, Banking77, TREC, Bitext, 3 seeds; tables
in ``benchmarks/README.md``): with the combined sampler reading the self-trained model, self-training is +1 to +9
points at 50-200 labels, -0.1 to +3.9 at 500-1,000 and about 0 at 2,000 (the only losses: Bitext, 0.1 point, at
98-99% accuracy); labels to reach random's 2,000-label accuracy fall from 948/875/487 to 791/613/380. Label
propagation lost on TREC (question types are not neighbourhoods of the sentence embedding): an option only.
``auto`` (`labelf train`'s default) cross-validates self-training and labels only on the project's labels and keeps
self-training only where it wins there: in the benchmark -0.2 to +9 points against labels only, every budget at or
above random.

Label descriptions (``prototypes``) can join as one labeled example per label (weight :data:`PROTOTYPE_WEIGHT`;
in a one-seed screening on random label sets, not in the benchmark: +1 to +3 points over self-training alone on
Banking77 and Bitext at 50-500 labels; not used by `labelf train`).

The pseudo-labels' total weight is at most :data:`MAX_PSEUDO_SHARE` times the number of labels. Only single-label
heads: a multi-label head is trained on its labels alone.

Usage::

    info = fit_with_pool(model, X_labeled, y, X_pool, method="propagation", seed=0)
    info["pseudo_labels"], model.predict_proba_embeddings(X_test)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from ..exceptions import ModelError

__all__ = ["METHODS", "PoolMethod", "DEFAULT_METHOD", "AUTO_METHOD", "pool_method", "knn_graph", "propagate",
           "propagation_pseudo_labels", "self_training_pseudo_labels",
           "fit_with_pool", "pool_rows", "K", "ALPHA", "MAX_POOL", "MAX_PSEUDO_SHARE", "PROTOTYPE_WEIGHT"]

PoolMethod = Literal["off", "self", "propagation"]
METHODS: tuple[str, ...] = ("off", "self", "propagation")
#: Neighbours per text in the pool graph, and the propagation's damping (Iscen et al.: k=50, alpha=0.99).
K = 20
ALPHA = 0.99
ITERATIONS = 20
GAMMA = 3.0
#: Unlabeled texts used (a seeded sample of a larger pool): bounded graph and refit cost.
MAX_POOL = 8000
#: Total pseudo-label weight at most this many times the number of labels.
MAX_PSEUDO_SHARE = 3.0
#: Share of the pool pseudo-labeled by self-training (class-balanced).
SELF_FRACTION = 0.5
PROTOTYPE_WEIGHT = 1.0
#: What `labelf train` uses unless told otherwise. ``auto``, where pool learning applies (single-label frozen-encoder
#: models without language adaptation): :data:`AUTO_METHOD` and labels only are both cross-validated on the labels
#: and the one with the better held-out accuracy is trained; elsewhere ``off``.
DEFAULT_METHOD = "auto"
AUTO_METHOD = "self"


def pool_method(requested: str | None, *, frozen: bool, multi_label: bool, adapting: bool = False
                ) -> tuple[str, str | None]:
    """(method, why the pool is not used or None) for a training run. ``requested`` is ``auto`` (or None),
    ``self``, ``propagation`` or ``off``; asking for a method where it cannot run is an error naming why; ``auto``
    stays ``auto`` where it applies (the trainer decides on held-out labels) and is ``off`` elsewhere."""
    mode = DEFAULT_METHOD if requested is None else str(requested)
    if mode not in ("auto", *METHODS):
        raise ModelError(f"pool learning must be auto, {', '.join(METHODS)}; not {mode!r}")
    if mode == "off":
        return "off", "off"
    why = ("only for models on a frozen encoder" if not frozen else
           "not for multi-label models" if multi_label else
           "language adaptation self-trains this model" if adapting else None)
    if why is not None:
        if mode != "auto":
            raise ModelError(f"pool learning {mode!r}: {why}")
        return "off", why
    return mode, None


def pool_rows(n: int, seed: int, limit: int = MAX_POOL) -> np.ndarray:
    """A seeded uniform sample of ``range(n)`` of at most ``limit`` rows (sorted)."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def knn_graph(X: np.ndarray, k: int = K, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """(neighbour rows, cosine similarities), each (N, k), of L2-normalised rows ``X`` (a row is not its own
    neighbour)."""
    X = np.asarray(X, dtype=np.float32)
    n = X.shape[0]
    k = max(1, min(k, n - 1))
    idx = np.zeros((n, k), dtype=np.int64)
    sim = np.zeros((n, k), dtype=np.float32)
    for s in range(0, n, chunk):
        S = X[s:s + chunk] @ X.T
        S[np.arange(S.shape[0]), np.arange(s, s + S.shape[0])] = -np.inf
        part = np.argpartition(-S, k - 1, axis=1)[:, :k]
        idx[s:s + chunk] = part
        sim[s:s + chunk] = np.take_along_axis(S, part, axis=1)
    return idx, sim


def propagate(X: np.ndarray, seeds: np.ndarray, targets: np.ndarray, n_classes: int, *, k: int = K,
              alpha: float = ALPHA, iterations: int = ITERATIONS, gamma: float = GAMMA) -> np.ndarray:
    """Label distributions (N, C) of every row of ``X`` after propagating the labels of rows ``seeds`` (class
    indices ``targets``) over the symmetric kNN graph; rows the labels never reach are uniform."""
    from scipy import sparse

    n = X.shape[0]
    idx, sim = knn_graph(X, k)
    w = np.clip(sim, 0.0, None).astype(np.float64) ** gamma
    W = sparse.csr_matrix((w.ravel(), (np.repeat(np.arange(n), idx.shape[1]), idx.ravel())), shape=(n, n))
    W = W + W.T
    d = np.asarray(W.sum(axis=1)).ravel()
    dinv = 1.0 / np.sqrt(np.maximum(d, 1e-12))
    S = sparse.diags(dinv) @ W @ sparse.diags(dinv)
    Y = np.zeros((n, n_classes))
    Y[np.asarray(seeds, dtype=np.int64), np.asarray(targets, dtype=np.int64)] = 1.0
    F = Y.copy()
    for _ in range(iterations):
        F = alpha * (S @ F) + (1.0 - alpha) * Y
    F = np.clip(F, 0.0, None)
    tot = F.sum(axis=1, keepdims=True)
    return np.where(tot > 0, F / np.maximum(tot, 1e-300), 1.0 / n_classes)


def _class_balance(cls: np.ndarray, n_classes: int) -> np.ndarray:
    """Per-row weight inversely proportional to its pseudo-label's frequency (mean 1 over the rows)."""
    counts = np.bincount(cls, minlength=n_classes).astype(np.float64)
    w = 1.0 / np.maximum(counts[cls], 1.0)
    return w * len(cls) / max(w.sum(), 1e-12)


def propagation_pseudo_labels(F: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, class indices, weights) of the propagated distributions ``F`` at ``rows``: the top label, weighted by
    certainty (1 - normalised entropy) times the inverse class frequency."""
    P = F[rows]
    c = P.shape[1]
    ent = -(P * np.log(np.clip(P, 1e-12, 1.0))).sum(axis=1) / np.log(c)
    cls = P.argmax(axis=1)
    w = np.clip(1.0 - ent, 0.0, 1.0) * _class_balance(cls, c)
    keep = w > 0
    return rows[keep], cls[keep], w[keep]


def self_training_pseudo_labels(proba: np.ndarray, prior: np.ndarray, fraction: float = SELF_FRACTION
                                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, class indices, weights): per label, the rows it scores highest (class-balanced by ``prior``),
    weighted by the head's probability of that label."""
    from .adaptation import pseudo_labels

    rows, cls = pseudo_labels(proba, prior, fraction)
    return rows, cls, proba[rows, cls]


def _prior(targets: np.ndarray, n_classes: int) -> np.ndarray:
    c = np.bincount(targets, minlength=n_classes).astype(np.float64) + 1.0
    return c / c.sum()


def _cap(weights: np.ndarray, n_labels: int) -> np.ndarray:
    total = float(weights.sum())
    limit = MAX_PSEUDO_SHARE * n_labels
    return weights * (limit / total) if total > limit else weights


def fit_with_pool(model: Any, X: np.ndarray, y: Sequence[Any], X_pool: np.ndarray, *, method: str = "propagation",
                  prototypes: np.ndarray | None = None, seed: int = 0) -> dict[str, Any]:
    """Fit ``model`` (a single-label frozen-encoder head with ``fit_embeddings(X, y, sample_weight=)``) on ``X, y``
    and pseudo-labels of the unlabeled embeddings ``X_pool`` by ``method``; ``prototypes`` (C, d): embedded label
    descriptions, one example per label. Returns what was used (for the version's params)."""
    if method not in METHODS:
        raise ModelError(f"unlabeled-pool method must be one of {', '.join(METHODS)}, not {method!r}")
    y = list(y)
    if getattr(model, "multi_label", False) or len(X_pool) == 0 or (method == "off" and prototypes is None):
        model.fit_embeddings(X, y)
        return {"method": method, "pseudo_labels": 0}
    model.fit_embeddings(X, y)
    classes = list(model.classes_)
    index = {c: i for i, c in enumerate(classes)}
    targets = np.array([index[v] for v in y], dtype=np.int64)
    n_classes = len(classes)
    rows = pool_rows(len(X_pool), seed)
    P = np.asarray(X_pool, dtype=np.float32)[rows]
    if method == "off":
        r, cls, w = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    elif method == "self":
        r, cls, w = self_training_pseudo_labels(model.predict_proba_embeddings(P)[:, :n_classes],
                                                _prior(targets, n_classes))
    else:
        G = np.vstack([np.asarray(X, dtype=np.float32), P])
        F = propagate(G, np.arange(len(X)), targets, n_classes)
        r, cls, w = propagation_pseudo_labels(F, np.arange(len(X), len(G)))
        r = r - len(X)
        agree = model.predict_proba_embeddings(P[r])[:, :n_classes].argmax(axis=1) == cls  # the head concurs
        r, cls, w = r[agree], cls[agree], w[agree]
    w = _cap(w, len(X))
    Xs = [np.asarray(X), P[r]]
    ys = [np.asarray(y, dtype=object), np.asarray(classes, dtype=object)[cls]]
    ws = [np.ones(len(X)), w]
    if prototypes is not None:
        Xs.append(np.asarray(prototypes))
        ys.append(np.asarray(classes, dtype=object))
        ws.append(np.full(len(classes), PROTOTYPE_WEIGHT))
    model.fit_embeddings(np.vstack(Xs), list(np.concatenate(ys)), sample_weight=np.concatenate(ws))
    return {"method": method, "pseudo_labels": int(len(r)), "pool": int(len(rows)),
            "pseudo_weight": round(float(w.sum()), 2),
            "pseudo_label_mix": dict(Counter(classes[i] for i in cls).most_common(3))}

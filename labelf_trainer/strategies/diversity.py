"""Diversity sampling: cluster the candidates on their embeddings and spread the batch over the clusters.

Clustering is seeded k-means (scikit-learn ``KMeans``) for small pools and ``MiniBatchKMeans`` fitted on a seeded
sample for large ones (:data:`FULL_KMEANS_MAX` rows), then every candidate is assigned to its nearest centre. The
batch takes one representative (the candidate closest to its centre) per cluster, largest clusters first; it never
holds two near-duplicates (cosine >= ``near_duplicate_threshold``) nor a near-duplicate of a labeled text.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans

from ..embeddings import normalize
from .base import Pool, QueryStrategy, Selection, cover_languages, fill_up, greedy_distinct

__all__ = ["cluster", "round_robin", "Diversity", "FULL_KMEANS_MAX", "FIT_SAMPLE"]

#: Pools up to this many rows are clustered with full KMeans; larger ones with MiniBatchKMeans on a sample.
FULL_KMEANS_MAX = 5_000
#: Rows MiniBatchKMeans is fitted on for large pools (every row is then assigned to its nearest centre).
FIT_SAMPLE = 20_000


def cluster(X: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(cluster id per row, L2-normalized centres) of ``k`` seeded clusters on normalized embeddings ``X``."""
    k = max(1, min(k, X.shape[0]))
    if k == 1:
        return np.zeros(X.shape[0], dtype=np.int64), normalize(X.mean(axis=0, keepdims=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning on duplicate points: harmless here
        if X.shape[0] <= FULL_KMEANS_MAX:
            km = KMeans(n_clusters=k, n_init=1, random_state=seed, max_iter=100).fit(X)
            centres = km.cluster_centers_
        else:
            rng = np.random.default_rng(seed)
            fit_rows = rng.choice(X.shape[0], size=min(FIT_SAMPLE, X.shape[0]), replace=False)
            km = MiniBatchKMeans(n_clusters=k, n_init=1, random_state=seed, batch_size=2048,
                                 max_iter=50).fit(X[fit_rows])
            centres = km.cluster_centers_
    centres = normalize(centres.astype(np.float32))
    assign = np.empty(X.shape[0], dtype=np.int64)
    for s in range(0, X.shape[0], 16_384):
        assign[s:s + 16_384] = (X[s:s + 16_384] @ centres.T).argmax(axis=1)
    return assign, centres


def round_robin(candidates: np.ndarray, assign: np.ndarray, scores: np.ndarray, cluster_order: np.ndarray,
                ) -> np.ndarray:
    """Candidates ordered so that consecutive picks cycle through clusters.

    Within a cluster candidates go best score first; clusters go in ``cluster_order``. The first len(clusters)
    entries hold one candidate per cluster, the next ones the second best of each cluster, and so on.
    """
    order = np.lexsort((-scores, assign))  # grouped by cluster, best first inside
    grouped = candidates[order]
    ca = assign[order]
    starts = np.searchsorted(ca, np.arange(assign.max() + 1))
    rank_in_cluster = np.arange(len(ca)) - starts[ca]
    position = np.empty(assign.max() + 1, dtype=np.int64)
    position[cluster_order] = np.arange(len(cluster_order))
    final = np.lexsort((position[ca], rank_in_cluster))
    return grouped[final]


class Diversity(QueryStrategy):
    """One representative per cluster of the candidate pool.

    Usage::

        sel = Diversity(near_duplicate_threshold=0.95, random_state=0).query(pool, unlabeled, labeled, n=50)
    """

    name = "diversity"

    def __init__(self, near_duplicate_threshold: float = 0.95, *, language_min_share: float = 0.02,
                 random_state: int | None = 0) -> None:
        super().__init__(random_state=random_state)
        self.near_duplicate_threshold = near_duplicate_threshold
        self.language_min_share = language_min_share

    def _query(self, pool: Pool, indices_unlabeled: np.ndarray, indices_labeled: np.ndarray, n: int,
               rng: np.random.Generator) -> Selection:
        X = pool.embeddings[indices_unlabeled]
        seed = int(rng.integers(2**31 - 1))
        assign, centres = cluster(X, n, seed)
        closeness = np.einsum("ij,ij->i", X, centres[assign])
        sizes = np.bincount(assign, minlength=centres.shape[0])
        cluster_order = np.lexsort((np.arange(len(sizes)), -sizes))
        order = round_robin(indices_unlabeled, assign, closeness, cluster_order)
        picks, _ = greedy_distinct(order, pool.embeddings, n, self.near_duplicate_threshold, exclude=indices_labeled)
        where = {int(r): j for j, r in enumerate(indices_unlabeled)}
        reasons: list[dict[str, Any]] = []
        for r in picks:
            j = where[int(r)]
            c = int(assign[j])
            reasons.append({"component": "cluster", "cluster": c, "cluster_size": int(sizes[c]),
                            "closeness": round(float(closeness[j]), 4),
                            "summary": f"represents cluster {c} ({sizes[c]} similar texts)"})
        pos = np.array([where[int(r)] for r in picks], dtype=np.int64)
        sel = Selection(picks, closeness[pos] if len(pos) else np.zeros(0), reasons)
        sel = fill_up(sel, indices_unlabeled, closeness, n,
                      {"component": "cluster", "summary": "filler: too few distinct texts left"})
        return cover_languages(sel, pool, indices_unlabeled, closeness, min_share=self.language_min_share,
                               threshold=self.near_duplicate_threshold)

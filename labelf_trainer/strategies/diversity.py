"""Diversity sampling: cluster the candidates on their embeddings and spread the batch over the clusters.

Clustering is seeded k-means (scikit-learn ``KMeans``) for small pools and ``MiniBatchKMeans`` fitted on a seeded
sample for large ones (:data:`FULL_KMEANS_MAX` rows), then every candidate is assigned to its nearest centre.
:class:`ClusterRanker` orders the candidates one representative (the candidate closest to its centre) per cluster
in turn, largest clusters first. :class:`Diversity` wraps it (:mod:`.wrappers`): the batch never holds two
near-duplicates (cosine >= ``near_duplicate_threshold``) nor a near-duplicate of a labeled text, and covers every
language with at least ``language_min_share`` of the candidates.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans

from ..embeddings import normalize
from .base import Pool, Preset, QueryStrategy, Ranking
from .wrappers import LanguageCoverage, NearDuplicateFilter

__all__ = ["cluster", "round_robin", "ClusterRanker", "Diversity", "FULL_KMEANS_MAX", "FIT_SAMPLE"]

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


class _ClusterRanking(Ranking):
    """Candidates in round-robin order over ``n`` seeded clusters (largest first), closest to the centre first.

    The clustering needs the number of picks, so it runs (and sets ``scores``: closeness to the centre) in
    :meth:`order`.
    """

    filler = {"component": "cluster", "summary": "filler: too few distinct texts left"}

    def order(self, n: int, chosen: np.ndarray) -> np.ndarray:
        X = self.pool.embeddings[self.candidates]
        assign, centres = cluster(X, n, int(self.rng.integers(2**31 - 1)))
        self.scores = np.einsum("ij,ij->i", X, centres[assign])
        self.assign = assign
        self.sizes = np.bincount(assign, minlength=centres.shape[0])
        cluster_order = np.lexsort((np.arange(len(self.sizes)), -self.sizes))
        return round_robin(self.candidates, assign, self.scores, cluster_order)

    def reasons(self, rows: np.ndarray) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for j in self.positions(rows):
            c = int(self.assign[j])
            out.append({"component": "cluster", "cluster": c, "cluster_size": int(self.sizes[c]),
                        "closeness": round(float(self.scores[j]), 4),
                        "summary": f"represents cluster {c} ({self.sizes[c]} similar texts)"})
        return out


class ClusterRanker(QueryStrategy):
    """Base strategy: cluster representatives, one per cluster in turn (no filtering; see :class:`Diversity`)."""

    name = "diversity"

    def rank(self, pool: Pool, candidates: np.ndarray, labeled: np.ndarray, rng: np.random.Generator) -> Ranking:
        return _ClusterRanking(pool, candidates, labeled, rng)


class Diversity(Preset):
    """One representative per cluster of the candidate pool, covering the pool's languages.

    ``LanguageCoverage(NearDuplicateFilter(ClusterRanker(), near_duplicate_threshold), language_min_share)``.
    Usage::

        sel = Diversity(near_duplicate_threshold=0.95, random_state=0).query(pool, unlabeled, labeled, n=50)
    """

    name = "diversity"

    def __init__(self, near_duplicate_threshold: float = 0.95, *, language_min_share: float = 0.02,
                 random_state: int | None = 0) -> None:
        super().__init__(random_state=random_state)
        self.near_duplicate_threshold = near_duplicate_threshold
        self.language_min_share = language_min_share

    def compose(self) -> QueryStrategy:
        t = self.near_duplicate_threshold
        return LanguageCoverage(NearDuplicateFilter(ClusterRanker(random_state=self.random_state), t),
                                self.language_min_share, near_duplicate_threshold=t)

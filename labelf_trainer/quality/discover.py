"""Discovering labels nobody defined (`labelf discover`): cluster the texts that fit no label and describe each cluster.

Which texts: with an out-of-scope label configured, the texts labeled with it plus the unlabeled texts the active
model answers with it; without one (or with ``source="pool"``), the whole unlabeled pool. They are embedded with
the project's frozen encoder (through the cache) and clustered with k-means on unit vectors; without a given
``k`` the k with the best cosine silhouette on a geometric grid up to 150 is taken (:func:`k_grid`). Clusters smaller than ``min_size`` are
left out as noise. Each cluster gets:

- its size and cohesion (mean cosine similarity to its centre);
- distinctive words by class-based TF-IDF (each cluster's texts as one document, against the other clusters and the
  labeled texts of the defined labels, so words of known labels rank low);
- representative texts (nearest the centre) and a suggested name and description built from its words.

The result is remembered (``quality:last_discover``), so a label can later be made from a cluster by its number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..exceptions import DataError
from ..store import utcnow
from .oof import embed_texts

if TYPE_CHECKING:
    from ..loop.project import Project

__all__ = ["Cluster", "DiscoverResult", "discover", "cluster_texts", "k_grid", "class_tfidf", "LAST_DISCOVER_KEY"]

LAST_DISCOVER_KEY = "quality:last_discover"
#: Words of call transcripts and greetings that describe no topic.
EXTRA_STOP_WORDS = ("agent", "customer", "hi", "hello", "thanks", "thank", "please", "hey", "yes", "ok", "okay",
                    "speaking", "sorry", "hear", "does", "did", "doing", "want", "need", "just", "like", "got", "get",
                    "know", "im", "dont", "ll", "ve", "re")
#: Words of scikit-learn's English stop list that name contact reasons, kept.
TOPIC_WORDS = ("bill", "call", "fire", "interest", "system", "computer", "detail", "empty", "found", "move", "top",
               "full", "find", "amount", "mill")


@dataclass
class Cluster:
    """One group of texts: a number, its size, cohesion, distinctive terms, a suggested name and description, the
    texts nearest its centre and all its item ids."""

    id: int
    size: int
    cohesion: float
    terms: list[str]
    name: str
    description: str
    representatives: list[dict[str, str]]
    item_ids: list[str] = field(repr=False)

    def to_dict(self, *, with_ids: bool = False) -> dict[str, Any]:
        d = {"id": self.id, "size": self.size, "cohesion": round(self.cohesion, 4), "terms": self.terms,
             "name": self.name, "description": self.description, "representatives": self.representatives}
        return {**d, "item_ids": self.item_ids} if with_ids else d


@dataclass
class DiscoverResult:
    source: str
    texts: int
    k: int
    clusters: list[Cluster]
    noise: int

    def to_dict(self, *, with_ids: bool = False) -> dict[str, Any]:
        return {"source": self.source, "texts": self.texts, "k": self.k, "noise": self.noise,
                "clusters": [c.to_dict(with_ids=with_ids) for c in self.clusters]}


#: Most clusters tried by default (k-means on up to a few thousand texts stays within seconds per k).
MAX_K = 150
#: Values of k tried between 2 and the largest (a geometric grid: cheap, and fine where k is large).
K_GRID = 12


def k_grid(n: int, *, max_k: int | None = None, min_size: int = 3) -> list[int]:
    """The k tried for ``n`` texts: a geometric grid from 2 to ``max_k`` (default: :data:`MAX_K`, and at most
    one cluster per ``2 * min_size`` texts)."""
    top = min(max_k if max_k is not None else MAX_K, max(2, n // max(2 * min_size, 1)), n - 1)
    if top < 2:
        return []
    return sorted({int(round(k)) for k in np.geomspace(2, top, num=min(K_GRID, top - 1))})


def cluster_texts(X: np.ndarray, *, k: int | None = None, max_k: int | None = None, min_size: int = 3,
                  seed: int = 0) -> tuple[np.ndarray, int]:
    """K-means cluster of each row of ``X`` (normalised here) and the k used: ``k`` if given, else the k of
    :func:`k_grid` with the best cosine silhouette (on up to 3,000 rows).

    Measured (``benchmarks/quality.py``, Banking77 with 19 classes held out): a grid up to 38 picked k = 17 and found
    1 of 19 new classes; the silhouette keeps rising towards the true number of groups, so the grid goes far up."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    X = np.asarray(X, dtype=np.float64)
    X = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    n = len(X)
    if k is not None:
        if not 1 <= k <= n:
            raise DataError(f"--clusters must be between 1 and the number of texts ({n}), not {k}")
        return KMeans(k, n_init=4, random_state=seed).fit_predict(X), k
    grid = k_grid(n, max_k=max_k, min_size=min_size)
    if n < 4 or not grid:
        return np.zeros(n, dtype=np.int64), 1
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(n, 3000, replace=False)) if n > 3000 else np.arange(n)
    best: tuple[float, int, np.ndarray] | None = None
    for kk in grid:
        assign = KMeans(kk, n_init=2, random_state=seed).fit_predict(X)
        if len(set(assign[sample])) < 2:
            continue
        s = float(silhouette_score(X[sample], assign[sample], metric="cosine"))
        if best is None or s > best[0]:
            best = (s, kk, assign)
    if best is None:
        return np.zeros(n, dtype=np.int64), 1
    return best[2], best[1]


def class_tfidf(docs: list[list[str]], *, top: int = 8) -> list[list[str]]:
    """Distinctive terms of each class (its texts as one document): c-TF-IDF, the term's frequency in the class
    times ``log(1 + mean words per class / the term's frequency over all classes)`` (as BERTopic)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    joined = [" ".join(d) for d in docs]
    stop = sorted((set(ENGLISH_STOP_WORDS) - set(TOPIC_WORDS)) | set(EXTRA_STOP_WORDS))
    vec = CountVectorizer(stop_words=stop, ngram_range=(1, 2), token_pattern=r"(?u)\b[^\W\d_]{2,}\b",
                          lowercase=True)
    try:
        counts = vec.fit_transform(joined).toarray().astype(np.float64)
    except ValueError:  # nothing but stop words
        return [[] for _ in docs]
    terms = vec.get_feature_names_out()
    tf = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    idf = np.log(1.0 + counts.sum(axis=1).mean() / np.maximum(counts.sum(axis=0), 1.0))
    score = tf * idf
    out = []
    for row, c in zip(score, counts):
        ranked = [j for j in np.argsort(-row) if row[j] > 0]
        # terms repeated in the class first; then single words (a bigram seen once is mostly noise)
        order = ([j for j in ranked if c[j] >= 2] + [j for j in ranked if c[j] < 2 and " " not in terms[j]])[:top * 2]
        picked: list[str] = []
        for j in order:  # a bigram replaces its words (``port number`` over ``port`` and ``number``)
            t = str(terms[j])
            if any(t in p.split() or p in t.split() for p in picked if " " in p or " " in t):
                continue
            picked.append(t)
            if len(picked) == top:
                break
        out.append(picked)
    return out


def _name(terms: list[str]) -> str:
    if not terms:
        return "unnamed"
    words = terms[0] if " " in terms[0] or len(terms) == 1 else f"{terms[0]} {terms[1]}"
    return re.sub(r"\s+", " ", words).title()


def _texts_without_label(project: "Project", source: str) -> tuple[str, list[str], list[str]]:
    """(what was taken, item ids, texts)."""
    cfg = project.config
    labeled = project.ws.annotations.labeled()
    items = project.ws.items.all()
    unlabeled = [it for it in items if it.id not in labeled]
    other = cfg.oos_label
    if source == "pool" or other is None:
        return "the unlabeled pool", [it.id for it in unlabeled], [it.text for it in unlabeled]
    chosen = [it for it in items if labeled.get(it.id) and other in labeled[it.id]]
    answered = 0
    model_id = project.registry.active_model_id()
    if model_id is not None and unlabeled:
        from ..models.base import FrozenEncoderClassifier

        model = project.registry.load(model_id)
        if model.out_of_scope_ is not None and other in (model.classes_ or []):
            texts = [it.text for it in unlabeled]
            if isinstance(model, FrozenEncoderClassifier) and model.encoder == cfg.encoder:
                proba = model.predict_proba_embeddings(embed_texts(project, texts))
            else:
                proba = model.predict_proba(texts)
            j = list(model.classes_ or []).index(other)
            is_other = proba[:, j] >= 0.5 if cfg.multi_label else proba.argmax(axis=1) == j
            extra = [it for it, o in zip(unlabeled, is_other) if o]
            answered = len(extra)
            chosen += extra
    what = f"texts labeled {other!r} ({len(chosen) - answered}) and unlabeled texts the model answers {other!r} " \
           f"({answered})"
    return what, [it.id for it in chosen], [it.text for it in chosen]


def discover(project: "Project", *, k: int | None = None, max_k: int | None = None, min_size: int = 3,
             examples: int = 3, source: str = "auto", seed: int = 0, progress: bool = False) -> DiscoverResult:
    """Cluster the texts that fit no label (``source``: ``auto`` or ``pool``, see the module) and describe each."""
    if source not in ("auto", "pool"):
        raise DataError(f"source must be auto or pool, not {source!r}")
    what, ids, texts = _texts_without_label(project, source)
    if len(texts) < max(2 * min_size, 4):
        raise DataError(f"too few texts to cluster: {len(texts)} from {what}; discover needs at least "
                        f"{max(2 * min_size, 4)}")
    X = embed_texts(project, texts, progress=progress)
    X = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    assign, k_used = cluster_texts(X, k=k, max_k=max_k, min_size=min_size, seed=seed)
    groups = [np.flatnonzero(assign == c) for c in range(k_used)]
    kept = sorted((g for g in groups if len(g) >= min_size), key=len, reverse=True)
    background = _labeled_background(project)
    terms = class_tfidf([[texts[i] for i in g] for g in kept] + background)[:len(kept)]
    clusters = []
    for n, (g, words) in enumerate(zip(kept, terms), 1):
        centre = X[g].mean(axis=0)
        centre /= max(float(np.linalg.norm(centre)), 1e-12)
        sims = X[g] @ centre
        reps = [{"item_id": ids[g[i]], "text": texts[g[i]]} for i in np.argsort(-sims)[:examples]]
        desc = ("texts about " + ", ".join(words[:5])) if words else "texts with no distinctive words"
        clusters.append(Cluster(n, len(g), float(sims.mean()), words, _name(words), desc, reps,
                                [ids[i] for i in g]))
    result = DiscoverResult(what, len(texts), k_used, clusters, int(sum(len(g) for g in groups if len(g) < min_size)))
    project.ws.kv.set(LAST_DISCOVER_KEY, {"at": utcnow(), **result.to_dict(with_ids=True)})
    return result


def _labeled_background(project: "Project", per_label: int = 200) -> list[list[str]]:
    """The labeled texts of each defined label (up to ``per_label``), as extra c-TF-IDF classes."""
    cfg = project.config
    labeled = project.ws.annotations.labeled()
    by_label: dict[str, list[str]] = {}
    for item_id, labs in labeled.items():
        for lab in labs:
            if lab in cfg.label_names and len(by_label.get(lab, ())) < per_label:
                by_label.setdefault(lab, []).append(item_id)
    texts = {it.id: it.text for it in project.ws.items.get([i for ids in by_label.values() for i in ids])}
    return [[texts[i] for i in ids if i in texts] for ids in by_label.values() if ids]

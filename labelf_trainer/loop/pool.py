"""The strategies' view of the workspace (:class:`~labelf_trainer.strategies.Pool`): cached embeddings of every
text, the model's scores and the detected language of the candidates, and a priority for routed service traffic."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..embeddings.embedder import Embedder
from ..embeddings.langid import UNKNOWN, pool_languages
from ..embeddings.long_texts import LongTextEmbedder
from ..embeddings.resolve import load_encoder
from ..embeddings.windows import LongTextPolicy
from ..exceptions import ModelError
from ..models.base import FrozenEncoderClassifier, TextClassifier
from ..strategies import Pool
from ..types import Item

if TYPE_CHECKING:
    from .project import Project

__all__ = ["build_pool", "traffic_priority", "model_proba", "TRAFFIC_ORIGIN"]

TRAFFIC_ORIGIN = "traffic"
"""Origin of texts the service stored because the model was unsure (:mod:`labelf_trainer.service.traffic`)."""


def traffic_priority(item: Item, origin: str) -> float:
    """Boost for service traffic stored because the model was unsure: ``1 - confidence`` (0.5 if unknown)."""
    if origin != TRAFFIC_ORIGIN:
        return 0.0
    conf = item.meta.get("confidence")
    try:
        return float(np.clip(1.0 - float(conf), 0.0, 1.0))
    except (TypeError, ValueError):
        return 0.5


def model_proba(model: TextClassifier, classes: list[str], X: np.ndarray, texts: list[str],
                fingerprint: str) -> np.ndarray:
    """Scores of the model in ``classes`` order, from cached embeddings when the model shares the encoder. A model
    with an out-of-scope label gives its scores over the defined labels (single-label: renormalised)."""
    if isinstance(model, FrozenEncoderClassifier) and model.encoder_fingerprint == fingerprint:
        proba = model.predict_proba_embeddings(X)
    else:
        proba = model.predict_proba(texts) if texts else np.zeros((0, len(model.classes_ or [])))
    model_classes = list(model.classes_ or [])
    other = model.out_of_scope_.label if model.out_of_scope_ is not None else None
    if other is not None and other not in classes:  # the sampler works on the defined labels: drop "Other"
        j = model_classes.index(other)
        proba = np.delete(np.asarray(proba, dtype=np.float64), j, axis=1)
        if not model.multi_label:  # the in-scope distribution, as if the text were in scope
            proba = proba / np.maximum(proba.sum(axis=1, keepdims=True), 1e-12)
        model_classes.pop(j)
    if sorted(model_classes) != sorted(classes):
        raise ModelError(f"the deployed model's labels {model_classes} differ from the project's labels {classes}; "
                         "retrain it (`labelf train`) or deploy a matching model")
    order = [model_classes.index(c) for c in classes]
    return np.asarray(proba, dtype=np.float64)[:, order]


def build_pool(project: "Project", items: list[Item], origins: list[str], labeled: dict[str, tuple[str, ...]],
               candidate_rows: np.ndarray, model: TextClassifier | None, *, progress: bool = True
               ) -> Pool:
    """The strategies' view of the workspace: embeddings of every row, scores and languages of the candidates."""
    cfg = project.config
    encoder = load_encoder(cfg.encoder)
    emb = LongTextEmbedder(Embedder(encoder, project.ws.cache_dir, progress=progress),  # long texts: pooled windows
                           LongTextPolicy.of(cfg.long_texts), turns=cfg.multi_label)
    X = emb.embed([it.text for it in items], description="Embedding the pool")
    zs = project.zero_shot()
    classes = cfg.label_names
    proba = None
    if model is not None:
        proba = np.zeros((len(items), len(classes)))
        if len(candidate_rows):
            proba[candidate_rows] = model_proba(model, classes, X[candidate_rows],
                                                [items[r].text for r in candidate_rows], encoder.fingerprint)
    languages = [UNKNOWN] * len(items)
    detected = pool_languages([items[r].text for r in candidate_rows], project.ws.cache_dir)
    for r, lang in zip(candidate_rows, detected):
        languages[int(r)] = lang
    index = {it.id: r for r, it in enumerate(items)}
    rule_hits = None
    if cfg.rules:  # keyword rules lead the rare-class and cold-start searches (they never label anything)
        from ..quality.rules import label_hit_matrix

        hits = label_hit_matrix(cfg, [it.text for it in items])
        rule_hits = hits[:, [cfg.answer_labels.index(c) for c in classes]]
    return Pool(embeddings=X, classes=classes, proba=proba,
                labels={index[i]: labs for i, labs in labeled.items() if i in index},
                label_embeddings=np.asarray(zs.prototypes_, dtype=np.float32), languages=languages,
                priority=np.array([traffic_priority(it, o) for it, o in zip(items, origins)]),
                ids=[it.id for it in items], multi_label=cfg.multi_label, rule_hits=rule_hits)

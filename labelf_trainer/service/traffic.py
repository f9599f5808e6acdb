"""Confidence routing: low-confidence texts of opted-in models become labeling candidates in the workspace pool.

Bands follow :mod:`labelf_trainer.registry.bands` (the one rule for every consumer). Texts in the ``human`` band of a model with routing on (``labelf models routing ID on``) are
added to the pool with ``origin='traffic'`` and the request id in their metadata (never the API key), so
``labelf suggest`` and the Label Studio push can pick them. A text already in the pool is not added again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from ..loop.pool import TRAFFIC_ORIGIN
from ..loop.project import Project
from ..types import Item, stable_id, text_hash
from .manager import ServedModel

__all__ = ["route_low_confidence", "low_confidence", "TRAFFIC_ORIGIN"]
log = logging.getLogger("labelf.service")


def low_confidence(served: ServedModel, proba: np.ndarray) -> list[tuple[int, float, str]]:
    """(text index, top confidence, top label) for every text in the ``human`` band of this model."""
    labels = served.labels
    out = []
    for i, row in enumerate(np.asarray(proba)):
        j = int(np.argmax(row))
        if served.bands.of(float(row[j])) == "human":
            out.append((i, round(float(row[j]), 4), labels[j]))
    return out


def route_low_confidence(project: Project, served: ServedModel, texts: Sequence[str], proba: np.ndarray,
                         request_id: str) -> int:
    """Store the human-band texts of one request; returns how many were new to the pool."""
    picked = low_confidence(served, proba)
    if not picked:
        return 0
    hashes = [text_hash(texts[i]) for i, _, _ in picked]
    known = project.ws.items.known_hashes(hashes)
    items = [Item(id=stable_id(texts[i]), text=texts[i], source=f"api:model-{served.id}",
                  meta={"request_id": request_id, "model_id": served.id, "model_version": served.version,
                        "predicted": label, "confidence": conf, "band": "human"})
             for (i, conf, label), h in zip(picked, hashes) if h not in known]
    if not items:
        return 0
    added, _ = project.ws.items.add(items, origin=TRAFFIC_ORIGIN)
    log.info("request %s: %d low-confidence text(s) of model %s stored for labeling", request_id, added, served.id)
    return added

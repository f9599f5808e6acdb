"""`labelf suggest` orchestration: build the pool view, run a query strategy, record the batch in the store.

The pool is every text of the workspace (imported and service traffic alike) that has no effective label and is
not pending in an earlier batch. Pending suggestions older than ``sampler.pending_expiry_days`` expire first, so
they become candidates again. Embeddings come through the workspace cache (each text is embedded once per encoder
version); the deployed model scores the candidates from those embeddings when it shares the project's encoder.

Usage::

    with Project.open("labelf.yaml") as project:
        result = suggest(project, n=50, strategy="combined", seed=7)
        result.batch_id, result.items[0].reason["summary"], result.language_mix
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..embeddings.langid import language_mix
from ..exceptions import StrategyError
from ..explain import with_evidence
from ..strategies import STRATEGIES, make_strategy
from .advice import stop_advice
from .pool import build_pool

if TYPE_CHECKING:
    from ..models.base import TextClassifier
    from .project import Project

__all__ = ["SuggestedItem", "SuggestResult", "suggest"]


@dataclass(frozen=True)
class SuggestedItem:
    """One suggestion: the text, the model's top label and confidence, and why it was picked."""

    item_id: str
    text: str
    rank: int
    score: float
    predicted: str | None
    confidence: float | None
    language: str
    origin: str
    reason: dict[str, Any]

    def to_record(self, batch_id: int) -> dict[str, Any]:
        """The row written by ``--output``: ready for ``labelf label`` once ``label`` is filled in."""
        return {"batch_id": batch_id, "rank": self.rank, "id": self.item_id, "text": self.text,
                "predicted": self.predicted,
                "confidence": None if self.confidence is None else round(self.confidence, 4),
                "score": round(self.score, 6), "reason": self.reason.get("summary", ""), "language": self.language,
                "origin": self.origin, "label": ""}


@dataclass
class SuggestResult:
    batch_id: int
    strategy: str
    model_id: int | None
    model_version: int | None
    seed: int | None
    items: list[SuggestedItem]
    pool_size: int
    labeled: int
    pending: int
    expired: int
    pool_languages: dict[str, int] = field(default_factory=dict)
    progress: dict[str, Any] = field(default_factory=dict)
    """The model's estimated accuracy on the traffic and its stop advice (empty for a model without them)."""

    @property
    def language_mix(self) -> dict[str, int]:
        """Languages of the batch (most frequent first)."""
        return language_mix([it.language for it in self.items])


AUDIT_REASON = {"component": "audit", "strategy": "audit",
                "summary": "audit pick: drawn at random from the pool, so the model's accuracy can be measured on "
                           "the traffic"}


def audit_count(n: int, share: float, batched: int, audited: int) -> int:
    """How many of the next ``n`` picks are audit picks so that audits stay ``share`` of every text ever batched
    (``batched`` so far, ``audited`` of them audits): small batches get one now and then, not one each."""
    if share <= 0:
        return 0
    return max(0, min(n, int(np.floor(share * (batched + n) + 0.5)) - audited))


def audit_picks(candidates: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` candidates drawn uniformly: the audit part of a batch, whose labels the accuracy estimate on the
    traffic rests on (the sampler picks the rest)."""
    if k <= 0 or not len(candidates):
        return np.zeros(0, dtype=np.int64)
    return np.sort(rng.choice(candidates, size=min(k, len(candidates)), replace=False)).astype(np.int64)


def suggest(project: "Project", n: int = 50, strategy: str = "combined", seed: int | None = None, *,
            model_id: int | None = None, model_version: int | None = None, progress: bool = True) -> SuggestResult:
    """Pick ``n`` texts to label next, record them as a pending batch and return them (best first).

    Fewer than ``n`` candidates left: the batch takes all of them. None left: :class:`EmptyPoolError`. Audit picks
    (drawn uniformly from the pool, last in the batch) keep ``sampler.audit_share`` of all batched texts.
    """
    if strategy not in STRATEGIES:
        raise StrategyError(f"unknown strategy {strategy!r}; use one of: {', '.join(STRATEGIES)}")
    if n < 1:
        raise StrategyError(f"--n must be at least 1, got {n}")
    ws, cfg = project.ws, project.config
    expired = ws.batches.expire_pending(cfg.sampler.pending_expiry_days)
    items = ws.items.all()
    origin_of = ws.items.origins()
    origins = [origin_of.get(it.id, "import") for it in items]
    labeled = ws.annotations.labeled()
    pending = ws.batches.pending_item_ids()
    candidate_rows = np.array([r for r, it in enumerate(items) if it.id not in labeled and it.id not in pending],
                              dtype=np.int64)
    # pending texts of other batches count as "taken": no near-duplicate of them is suggested either
    labeled_rows = np.array([r for r, it in enumerate(items) if it.id in labeled or it.id in pending], dtype=np.int64)
    n_pick = min(n, len(candidate_rows)) if len(candidate_rows) else n
    model: TextClassifier | None = None
    version = None
    if model_id is None:
        model_id = project.registry.active_model_id()
    if model_id is not None:  # random and diversity ignore it, but the report shows its predictions
        version = project.registry.get(model_id).version(model_version).version
        model = project.registry.load(model_id, version)
    pool = build_pool(project, items, origins, labeled, candidate_rows, model, progress=progress)
    seed = 0 if seed is None else seed
    n_audit = audit_count(n_pick, cfg.sampler.audit_share if strategy != "random" else 0.0, *ws.batches.audit_counts())
    audit_rows = audit_picks(candidate_rows, n_audit, np.random.default_rng([seed, len(labeled)]))
    rest = candidate_rows[~np.isin(candidate_rows, audit_rows)]
    sampler = make_strategy(strategy, cfg.sampler, random_state=seed)
    sel = sampler.query(pool, rest, labeled_rows, n_pick - len(audit_rows)) if n_pick > len(audit_rows) else None
    rows = list(sel.indices) + list(audit_rows) if sel is not None else list(audit_rows)
    scores = list(sel.scores) + [0.0] * len(audit_rows) if sel is not None else [0.0] * len(audit_rows)
    reasons = (list(sel.reasons) if sel is not None else []) + [dict(AUDIT_REASON) for _ in audit_rows]
    if model is not None:  # where in a long text each predicted label comes from: reason["evidence"]
        reasons = with_evidence(model, [items[int(r)].text for r in rows], reasons)
    picked: list[SuggestedItem] = []
    for rank, (row, score, reason) in enumerate(zip(rows, scores, reasons), 1):
        row = int(row)
        predicted = confidence = None
        if pool.proba is not None:
            p = pool.proba[row]
            top = int(p.argmax())
            predicted, confidence = pool.classes[top], float(p[top])
        assert pool.languages is not None
        picked.append(SuggestedItem(items[row].id, items[row].text, rank, float(score), predicted, confidence,
                                    pool.languages[row], origins[row], reason))
    params = {"n": n, "sampler": cfg.sampler.model_dump(), "encoder": cfg.encoder,
              "language_mix": language_mix([it.language for it in picked])}
    batch_id = ws.batches.create(
        strategy, [{"item_id": it.item_id, "rank": it.rank, "score": it.score, "predicted": it.predicted,
                    "confidence": it.confidence, "reason": it.reason, "audit": it.reason is not None
                    and it.reason.get("component") == "audit"} for it in picked],
        model_id=model_id if model is not None else None, model_version=version if model is not None else None,
        seed=seed, params=params)
    assert pool.languages is not None
    pool_langs = language_mix([pool.languages[int(r)] for r in candidate_rows])
    return SuggestResult(batch_id, strategy, model_id if model is not None else None,
                         version if model is not None else None, seed, picked, len(candidate_rows),
                         len(labeled), len(pending), expired, pool_langs,
                         _progress(project, model_id, version, len(picked)) if model is not None else {})


def _progress(project: "Project", model_id: int, version: int | None, batch: int) -> dict[str, Any]:
    """The stop advice (:mod:`.advice`) of the model that scored the batch, for a batch of this size; ``advice``
    repeats the recommendation (the field's earlier name)."""
    adv = stop_advice(project, model_id, version, next_batch=batch)
    return {} if adv is None else {**adv.to_dict(), "advice": adv.recommendation}



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
from .pool import TRAFFIC_ORIGIN, build_pool

if TYPE_CHECKING:
    from ..models.base import TextClassifier
    from .project import Project

__all__ = ["SuggestedItem", "SuggestResult", "suggest", "candidate_view", "CandidateView"]


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
    scored: int = 0
    """Candidates the sampler scored: ``pool_size``, or a uniform sample of ``sampler.max_candidates``."""

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


EARLY_BATCH, BATCH, EARLY_LABELS = 25, 50, 200
"""The default batch size: 25 texts while fewer than 200 are labeled, then 50. Smaller batches early retrain the
model sooner, when each label moves it most (measured, one seed: +1.5 to +7.8 points at 100-200 labels on
Banking77, TREC and Bitext, within 0.4 points later; ``benchmarks/README.md``, sampler schedule)."""


def default_batch_size(labeled: int) -> int:
    """The batch size when none is given, for a project with ``labeled`` texts labeled."""
    return EARLY_BATCH if labeled < EARLY_LABELS else BATCH


def suggest(project: "Project", n: int | None = None, strategy: str = "combined", seed: int | None = None, *,
            model_id: int | None = None, model_version: int | None = None, progress: bool = True) -> SuggestResult:
    """Pick ``n`` texts to label next (default: :func:`default_batch_size`), record them as a pending batch and
    return them (best first).

    Fewer than ``n`` candidates left: the batch takes all of them. None left: :class:`EmptyPoolError`. Audit picks
    (drawn uniformly from the pool, last in the batch) keep ``sampler.audit_share`` of all batched texts.
    """
    if strategy not in STRATEGIES:
        raise StrategyError(f"unknown strategy {strategy!r}; use one of: {', '.join(STRATEGIES)}")
    if n is not None and n < 1:
        raise StrategyError(f"--n must be at least 1, got {n}")
    ws, cfg = project.ws, project.config
    expired = ws.batches.expire_pending(cfg.sampler.pending_expiry_days)
    labeled = ws.annotations.labeled()
    n = default_batch_size(len(labeled)) if n is None else n
    pending = ws.batches.pending_item_ids()
    seed = 0 if seed is None else seed
    rng = np.random.default_rng([seed, len(labeled)])
    view = candidate_view(ws.items.index(), labeled, pending, cfg.sampler.max_candidates, rng)
    n_pick = min(n, view.candidates) if view.candidates else n
    n_audit = audit_count(n_pick, cfg.sampler.audit_share if strategy != "random" else 0.0, *ws.batches.audit_counts())
    audit_ids = view.draw_audit(n_audit, rng)  # uniform over every candidate, not only the scored sample
    items = ws.items.get(view.taken + view.scored(audit_ids))
    origins = [view.origin[it.id] for it in items]
    # pending texts of other batches count as "taken": no near-duplicate of them is suggested either
    labeled_rows = np.arange(len(view.taken), dtype=np.int64)
    candidate_rows = np.arange(len(view.taken), len(items), dtype=np.int64)
    audit_rows = candidate_rows[len(candidate_rows) - len(audit_ids):]
    model: TextClassifier | None = None
    version = None
    if model_id is None:
        model_id = project.registry.active_model_id()
    if model_id is not None:  # random and diversity ignore it, but the report shows its predictions
        version = project.registry.get(model_id).version(model_version).version
        model = project.registry.load(model_id, version)
    pool = build_pool(project, items, origins, labeled, candidate_rows, model, progress=progress)
    rest = candidate_rows[:len(candidate_rows) - len(audit_ids)]
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
                         version if model is not None else None, seed, picked, view.candidates,
                         len(labeled), len(pending), expired, pool_langs,
                         _progress(project, model_id, version, len(picked)) if model is not None else {},
                         scored=len(candidate_rows))


@dataclass
class CandidateView:
    """Which texts one ``suggest`` reads: every labeled or pending text (``taken``), and the candidates it scores:
    all of them, or a uniform sample of ``limit`` on a larger pool (routed service traffic first)."""

    taken: list[str]
    origin: dict[str, str]
    sample: list[str]
    candidates: int
    _all: list[str]

    def draw_audit(self, k: int, rng: np.random.Generator) -> list[str]:
        """``k`` candidates drawn uniformly from the whole pool (the audit picks)."""
        return [self._all[i] for i in audit_picks(np.arange(len(self._all)), k, rng)]

    def scored(self, audit: list[str]) -> list[str]:
        """The candidates to score: the sample without the audit picks, then the audit picks (last)."""
        drop = set(audit)
        return [i for i in self.sample if i not in drop] + audit


def candidate_view(index: list[tuple[str, str]], labeled: dict[str, Any], pending: set[str], limit: int,
                   rng: np.random.Generator) -> CandidateView:
    """Split the pool's (id, origin) ``index`` into taken texts and candidates; sample the candidates past
    ``limit``: routed traffic (up to half the limit) first, the rest uniformly, in pool order."""
    taken = [i for i, _ in index if i in labeled or i in pending]
    cands = [i for i, _ in index if i not in labeled and i not in pending]
    origin = dict(index)
    sample = cands
    if len(cands) > limit:
        is_traffic = np.array([origin[i] == TRAFFIC_ORIGIN for i in cands])
        traffic = np.flatnonzero(is_traffic)
        if len(traffic) > limit // 2:
            traffic = rng.choice(traffic, size=limit // 2, replace=False)
        others = np.flatnonzero(~is_traffic)
        if len(others) < limit - len(traffic):  # mostly traffic: the rest of it fills the sample
            others = np.setdiff1d(np.arange(len(cands)), traffic)
        keep = np.concatenate([traffic, rng.choice(others, size=limit - len(traffic), replace=False)])
        sample = [cands[k] for k in np.sort(keep)]
    return CandidateView(taken, origin, sample, len(cands), cands)


def _progress(project: "Project", model_id: int, version: int | None, batch: int) -> dict[str, Any]:
    """The stop advice (:mod:`.advice`) of the model that scored the batch, for a batch of this size; ``advice``
    repeats the recommendation (the field's earlier name)."""
    adv = stop_advice(project, model_id, version, next_batch=batch)
    return {} if adv is None else {**adv.to_dict(), "advice": adv.recommendation}



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

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .embeddings import Embedder, load_encoder
from .exceptions import DataError, ModelError, StrategyError, UnknownLabelError
from .langid import UNKNOWN, pool_languages
from .models import FrozenEncoderClassifier, TextClassifier
from .project import Project
from .strategies import STRATEGIES, Pool, make_strategy
from .types import Annotation, Item

__all__ = ["SuggestedItem", "SuggestResult", "suggest", "build_pool", "traffic_priority", "language_mix",
           "import_labels", "LabelImport"]


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

    @property
    def language_mix(self) -> dict[str, int]:
        """Languages of the batch (most frequent first)."""
        return dict(Counter(it.language for it in self.items).most_common())


def language_mix(languages: Sequence[str]) -> dict[str, int]:
    return dict(Counter(languages).most_common())


def traffic_priority(item: Item, origin: str) -> float:
    """Boost for service traffic stored because the model was unsure: ``1 - confidence`` (0.5 if unknown)."""
    if origin != "traffic":
        return 0.0
    conf = item.meta.get("confidence")
    try:
        return float(np.clip(1.0 - float(conf), 0.0, 1.0))
    except (TypeError, ValueError):
        return 0.5


def _model_proba(model: TextClassifier, classes: list[str], X: np.ndarray, texts: list[str],
                 fingerprint: str) -> np.ndarray:
    """Scores of the model in ``classes`` order, from cached embeddings when the model shares the encoder."""
    if isinstance(model, FrozenEncoderClassifier) and model.encoder_fingerprint == fingerprint:
        proba = model.predict_proba_embeddings(X)
    else:
        proba = model.predict_proba(texts) if texts else np.zeros((0, len(model.classes_ or [])))
    model_classes = list(model.classes_ or [])
    if sorted(model_classes) != sorted(classes):
        raise ModelError(f"the deployed model's labels {model_classes} differ from the project's labels {classes}; "
                         "retrain it (`labelf train`) or deploy a matching model")
    order = [model_classes.index(c) for c in classes]
    return np.asarray(proba, dtype=np.float64)[:, order]


def build_pool(project: Project, items: list[Item], origins: list[str], labeled: dict[str, tuple[str, ...]],
               candidate_rows: np.ndarray, model: TextClassifier | None, *, progress: bool = True
               ) -> Pool:
    """The strategies' view of the workspace: embeddings of every row, scores and languages of the candidates."""
    cfg = project.config
    encoder = load_encoder(cfg.encoder)
    emb = Embedder(encoder, project.ws.cache_dir, progress=progress)
    X = emb.embed([it.text for it in items], description="Embedding the pool")
    zs = project.zero_shot()
    classes = cfg.label_names
    proba = None
    if model is not None:
        proba = np.zeros((len(items), len(classes)))
        if len(candidate_rows):
            proba[candidate_rows] = _model_proba(model, classes, X[candidate_rows],
                                                 [items[r].text for r in candidate_rows], encoder.fingerprint)
    languages = [UNKNOWN] * len(items)
    detected = pool_languages([items[r].text for r in candidate_rows], project.ws.cache_dir)
    for r, lang in zip(candidate_rows, detected):
        languages[int(r)] = lang
    index = {it.id: r for r, it in enumerate(items)}
    return Pool(embeddings=X, classes=classes, proba=proba,
                labels={index[i]: labs for i, labs in labeled.items() if i in index},
                label_embeddings=np.asarray(zs.prototypes_, dtype=np.float32), languages=languages,
                priority=np.array([traffic_priority(it, o) for it, o in zip(items, origins)]),
                ids=[it.id for it in items], multi_label=cfg.multi_label)


def _origins(project: Project) -> dict[str, str]:
    return {r["id"]: r["origin"] for r in project.ws.query("SELECT id, origin FROM items")}


def suggest(project: Project, n: int = 50, strategy: str = "combined", seed: int | None = None, *,
            model_id: int | None = None, model_version: int | None = None, progress: bool = True) -> SuggestResult:
    """Pick ``n`` texts to label next, record them as a pending batch and return them (best first).

    Fewer than ``n`` candidates left: the batch takes all of them. None left: :class:`EmptyPoolError`.
    """
    if strategy not in STRATEGIES:
        raise StrategyError(f"unknown strategy {strategy!r}; use one of: {', '.join(STRATEGIES)}")
    if n < 1:
        raise StrategyError(f"--n must be at least 1, got {n}")
    ws, cfg = project.ws, project.config
    expired = ws.expire_pending(cfg.sampler.pending_expiry_days)
    items = ws.items()
    origin_of = _origins(project)
    origins = [origin_of.get(it.id, "import") for it in items]
    labeled = ws.labeled()
    pending = ws.pending_item_ids()
    candidate_rows = np.array([r for r, it in enumerate(items) if it.id not in labeled and it.id not in pending],
                              dtype=np.int64)
    # pending texts of other batches count as "taken": no near-duplicate of them is suggested either
    labeled_rows = np.array([r for r, it in enumerate(items) if it.id in labeled or it.id in pending], dtype=np.int64)
    n_pick = min(n, len(candidate_rows)) if len(candidate_rows) else n
    model = None
    version = None
    if model_id is None:
        model_id = project.registry.active_model_id()
    if model_id is not None:  # random and diversity ignore it, but the report shows its predictions
        version = project.registry.get(model_id).version(model_version).version
        model = project.registry.load(model_id, version)
    pool = build_pool(project, items, origins, labeled, candidate_rows, model, progress=progress)
    seed = 0 if seed is None else seed
    sampler = make_strategy(strategy, cfg.sampler, random_state=seed)
    sel = sampler.query(pool, candidate_rows, labeled_rows, n_pick)
    picked: list[SuggestedItem] = []
    for rank, (row, score, reason) in enumerate(zip(sel.indices, sel.scores, sel.reasons), 1):
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
              "language_mix": dict(Counter(it.language for it in picked).most_common())}
    batch_id = ws.create_batch(
        strategy, [{"item_id": it.item_id, "rank": it.rank, "score": it.score, "predicted": it.predicted,
                    "confidence": it.confidence, "reason": it.reason} for it in picked],
        model_id=model_id if model is not None else None, model_version=version if model is not None else None,
        seed=seed, params=params)
    assert pool.languages is not None
    pool_langs = language_mix([pool.languages[int(r)] for r in candidate_rows])
    return SuggestResult(batch_id, strategy, model_id if model is not None else None,
                         version if model is not None else None, seed, picked, len(candidate_rows),
                         len(labeled), len(pending), expired, pool_langs)


@dataclass(frozen=True)
class LabelImport:
    """What ``labelf label FILE`` did."""

    written: int
    skipped_blank: int
    batches_touched: list[int]


def import_labels(project: Project, records: list[dict[str, Any]], *, where: str, annotator: str = "file",
                  id_column: str = "id", label_column: str = "label", first_row: int = 1) -> LabelImport:
    """Record labels from rows of a CSV/JSONL file (``id`` + ``label``; several labels as ``a|b`` or a JSON list).

    Rows with an empty label are skipped (not yet labeled). Unknown labels, unknown ids or several labels on a
    single-label project are errors naming them; nothing is written then. Re-importing a file updates the same
    annotations instead of adding new ones. ``first_row`` numbers the first record in error messages (2 for a
    CSV file: its line after the header).
    """
    from .data import split_labels

    cfg = project.config
    if records and id_column not in records[0]:
        raise DataError(f"{where}: no id column {id_column!r}; columns are: {', '.join(map(str, records[0]))}")
    if records and label_column not in records[0]:
        raise DataError(f"{where}: no label column {label_column!r}; columns are: {', '.join(map(str, records[0]))}")
    known = set(cfg.label_names)
    anns: list[Annotation] = []
    unknown: list[str] = []
    blank = 0
    for row_no, row in enumerate(records, first_row):
        labels = split_labels(row.get(label_column))
        raw_id = row.get(id_column)
        item_id = "" if raw_id is None else str(raw_id).strip()
        if not labels:
            blank += 1
            continue
        if not item_id:
            raise DataError(f"{where}: row {row_no}: empty {id_column!r}")
        unknown += [lab for lab in labels if lab not in known]
        if not cfg.multi_label and len(labels) > 1:
            raise DataError(f"{where}: row {row_no}: {len(labels)} labels {list(labels)} for a single-label project")
        anns.append(Annotation(item_id=item_id, labels=tuple(dict.fromkeys(labels)), annotator=annotator,
                               source="file", external_id=f"{annotator}:{item_id}"))
    if unknown:
        raise UnknownLabelError(unknown, cfg.label_names, where)
    ids = [a.item_id for a in anns]
    found = {it.id for it in project.ws.items(ids=ids)}
    missing = [i for i in dict.fromkeys(ids) if i not in found]
    if missing:
        shown = ", ".join(repr(m) for m in missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise DataError(f"{where}: {len(missing)} id(s) not in the workspace pool: {shown}")
    idset = set(ids)
    touched = sorted({r["batch_id"] for r in project.ws.query(
        "SELECT batch_id, item_id FROM batch_items WHERE status = 'pending'") if r["item_id"] in idset})
    written = project.ws.add_annotations(anns)
    return LabelImport(written, blank, touched)

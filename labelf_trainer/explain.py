"""Where in the text: the part of a (long) text that drove each predicted label.

For a text split into windows and speaker turns (``long_texts:``), every label's score is the best of the whole
text, its windows and its turns; the best unit is the excerpt to read first. It is a turn where the model scores
turns (multi-label frozen-encoder and SetFit models), else a window; a short one-piece text is its own excerpt.

Usage::

    from labelf_trainer.explain import explain
    for ex in explain(model, texts)[0]:
        print(ex.label, ex.score, ex.unit, ex.start, ex.end, ex.excerpt)
    explain_records(model, texts, records)   # `labelf predict --explain`: records[i]["evidence"] = [...]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .embeddings.vectors import KINDS, Evidence
from .embeddings.windows import split_turns
from .models.base import FrozenEncoderClassifier, TextClassifier, labels_of

__all__ = ["Excerpt", "explain", "evidence_reasons", "with_evidence", "explain_records", "evidence_cell",
           "MAX_EXCERPT"]

MAX_EXCERPT = 400
"""Characters of the deciding unit kept in :attr:`Excerpt.excerpt` (the offsets always cover all of it)."""


@dataclass(frozen=True)
class Excerpt:
    """The deciding part of a text for one label: ``unit`` is ``turn``, ``window`` or ``text`` (the text is one
    piece), ``start``/``end`` its character offsets, ``excerpt`` its text (cut at :data:`MAX_EXCERPT` characters),
    ``context`` the offsets of the turn before it to the turn after it (what to show around it)."""

    label: str
    score: float
    unit: str
    start: int
    end: int
    excerpt: str
    context: tuple[int, int]

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["context"] = list(self.context)
        return out


def _scores_and_evidence(model: TextClassifier, texts: list[str]) -> tuple[np.ndarray, Evidence | None]:
    if isinstance(model, FrozenEncoderClassifier) and hasattr(model, "evidence_embeddings"):
        X = model.embed(texts)  # one embedding pass for both (the units stay with X)
        return model.predict_proba_embeddings(X), model.evidence_embeddings(X)
    proba = model.predict_proba(texts)
    return proba, model.evidence(texts) if hasattr(model, "evidence") else None  # type: ignore[attr-defined]


def _context(text: str, start: int, end: int) -> tuple[int, int]:
    turns = split_turns(text)
    inside = [k for k, t in enumerate(turns) if t.start < end and t.end > start]
    if not inside:
        return start, end
    lo, hi = max(inside[0] - 1, 0), min(inside[-1] + 1, len(turns) - 1)
    return min(turns[lo].start, start), max(turns[hi].end, end)


def explain(model: TextClassifier, texts: Sequence[str], *, labels: Sequence[Sequence[str]] | None = None
            ) -> list[list[Excerpt]]:
    """For each text, an :class:`Excerpt` per predicted label (or per label in ``labels[i]``), best score first.

    The out-of-scope label, which no part of a text decides, gets none."""
    texts = list(texts)
    if not texts:
        return []
    proba, ev = _scores_and_evidence(model, texts)
    classes = list(model.classes_ or [])
    scored = model.scored_classes
    other = model.out_of_scope_.label if model.out_of_scope_ is not None else None
    chosen = labels if labels is not None else labels_of(proba, classes, multi_label=model.multi_label,
                                                         threshold=model.threshold, other=other)
    out: list[list[Excerpt]] = []
    for i, text in enumerate(texts):
        want = [chosen[i]] if isinstance(chosen[i], str) else list(chosen[i])
        row = []
        for label in want:
            if label not in scored:
                continue
            j = scored.index(label)
            kind = int(ev.kind[i, j]) if ev is not None else -1
            start, end = (int(ev.span[i, j, 0]), int(ev.span[i, j, 1])) if kind >= 0 else (0, len(text))
            row.append(Excerpt(label, round(float(proba[i, classes.index(label)]), 4),
                               KINDS[kind] if kind >= 0 else "text", start, end, text[start:end][:MAX_EXCERPT],
                               _context(text, start, end) if kind >= 0 else (0, len(text))))
        out.append(sorted(row, key=lambda e: -e.score))
    return out


def evidence_reasons(model: TextClassifier, texts: Sequence[str]) -> list[list[dict[str, Any]]]:
    """:func:`explain` as JSON for suggestion reasons: only for texts with more than one part (empty otherwise)."""
    return [[e.to_json() for e in row if e.unit != "text"] for row in explain(model, texts)]


def with_evidence(model: TextClassifier, texts: Sequence[str], reasons: Sequence[dict[str, Any]]
                  ) -> list[dict[str, Any]]:
    """Suggestion ``reasons`` with an ``evidence`` list (label, unit, start, end, excerpt, ...) for texts of more
    than one turn or line: the annotator reads the part that drove each predicted label first."""
    out = [dict(r) for r in reasons]
    rows = [i for i, t in enumerate(texts) if len(split_turns(t)) > 1]
    if rows:
        for i, ev in zip(rows, evidence_reasons(model, [texts[i] for i in rows])):
            if ev:
                out[i]["evidence"] = ev
    return out


def explain_records(model: TextClassifier, texts: Sequence[str], records: list[dict[str, Any]]) -> None:
    """``labelf predict --explain``: add ``evidence`` to each prediction record (in place), the deciding excerpt
    (:meth:`Excerpt.to_json`) of every label the model predicts for the text (multi-label: each label at or above
    its threshold; single-label: the top label)."""
    for rec, row in zip(records, explain(model, texts)):
        rec["evidence"] = [e.to_json() for e in row]


def evidence_cell(record: dict[str, Any], width: int = 70) -> str:
    """The ``where`` column of ``labelf predict --explain``'s table: per label, the unit, its character offsets and
    the start of its excerpt (one line each)."""
    out = []
    for e in record.get("evidence") or []:
        excerpt = " ".join(str(e["excerpt"]).split())
        excerpt = excerpt if len(excerpt) <= width else excerpt[:width - 1] + "…"
        out.append(f"{e['label']}: {e['unit']} {e['start']}-{e['end']} “{excerpt}”")
    return "\n".join(out)

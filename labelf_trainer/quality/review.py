"""Mislabel detection (`labelf review`): labels that the out-of-fold scores of the project's embedding head contradict,
found with cleanlab's confident learning (Northcutt et al. 2021), not re-implemented here.

Every labeled text is scored by a logistic head on the frozen embeddings, fitted on the other folds; cleanlab's
``find_label_issues`` picks the labels whose text the head confidently places in another class (pruned by the
estimated noise per class, :data:`FILTER_BY`) and ``get_label_quality_scores`` gives each a score in [0, 1] (the head's
probability of the given label: lower is more suspect). Labels with fewer than two texts are not reviewed (they
cannot be scored out of fold). The out-of-scope label is reviewed like any label.

The review is read-only: corrections come back as ordinary labels (``labelf label``, or a pull), the newest wins
and the history stays. :func:`push_review` sends the suspects to the labeling tool as review tasks (``labelf review
--push``): the current label pre-filled as the prediction (``model_version`` :data:`REVIEW_MODEL_VERSION`), each
task marked with the annotation row under review, so a label is sent for review once. The last review's suspects
are remembered, so :func:`suspect_count` can tell how many of them still carry the label that was flagged.

Usage::

    res = review(project)
    for s in res.suspects[:10]:
        print(s.given, "->", s.suggested, round(s.score, 3), s.text)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..exceptions import DataError
from ..store import utcnow
from .oof import embed_texts, oof_proba
from .state import LAST_REVIEW_KEY, suspect_count

if TYPE_CHECKING:
    from ..connectors.base import PushResult, TaskRow
    from ..loop.project import Project

__all__ = ["Suspect", "ReviewResult", "review", "find_suspects", "suspect_count", "review_rows", "push_review",
           "LAST_REVIEW_KEY", "FILTER_BY", "REVIEW_MODEL_VERSION"]

REVIEW_MODEL_VERSION = "labelf-review"
"""The ``model_version`` of a review task's pre-annotation (the current label, not a model's answer)."""


@dataclass(frozen=True)
class Suspect:
    """A label the model contradicts: the given label(s), the model's, the label quality score (lower: more
    suspect) and the out-of-fold probability of each."""

    item_id: str
    text: str
    given: list[str]
    suggested: list[str]
    score: float
    p_given: float
    p_suggested: float

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "score": round(self.score, 4), "p_given": round(self.p_given, 4),
                "p_suggested": round(self.p_suggested, 4)}


@dataclass
class ReviewResult:
    """The suspects (most suspect first), how many labels were reviewed, and labels left out (too few texts)."""

    suspects: list[Suspect]
    reviewed: int
    classes: list[str]
    not_reviewed: dict[str, int] = field(default_factory=dict)
    multi_label: bool = False
    flagged: int = 0
    """All suspects found (``suspects`` may be cut to a limit)."""

    def summary(self) -> dict[str, Any]:
        return {"reviewed": self.reviewed, "flagged": self.flagged,
                "flagged_share": round(self.flagged / self.reviewed, 4) if self.reviewed else 0.0,
                "not_reviewed": self.not_reviewed, "classes": self.classes}


FILTER_BY = "prune_by_class"
"""cleanlab's ``filter_by``. Against its default (``prune_by_noise_rate``) on the same out-of-fold scores it found
0-13 points more of the flipped labels at a precision at most 3 points lower (Banking77, Bitext and TREC at 20-100
texts per label, 10% uniform noise; ``benchmarks/quality.py`` reports both)."""


def find_suspects(pred_probs: np.ndarray, targets: np.ndarray | list[list[int]], *, multi_label: bool = False,
                  filter_by: str = FILTER_BY) -> tuple[np.ndarray, np.ndarray]:
    """cleanlab on out-of-fold scores: (indices of label issues, most suspect first; label quality of every row).

    ``targets``: class indices (single-label) or, multi-label, each row's list of class indices."""
    if multi_label:
        from cleanlab.multilabel_classification import get_label_quality_scores as ml_scores
        from cleanlab.multilabel_classification.filter import find_label_issues as ml_issues

        labels = [list(t) for t in targets]
        issues = ml_issues(labels, pred_probs, filter_by=filter_by, return_indices_ranked_by="self_confidence")
        return np.asarray(issues, dtype=np.int64), np.asarray(ml_scores(labels, pred_probs), dtype=np.float64)
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    y = np.asarray(targets, dtype=np.int64)
    issues = find_label_issues(y, pred_probs, filter_by=filter_by, return_indices_ranked_by="self_confidence")
    return np.asarray(issues, dtype=np.int64), np.asarray(get_label_quality_scores(y, pred_probs), dtype=np.float64)


def review(project: "Project", *, limit: int | None = None, progress: bool = False, remember: bool = True
           ) -> ReviewResult:
    """Find suspect labels among the workspace's effective labels (``limit``: at most that many, most suspect
    first). ``remember`` stores the result for :func:`suspect_count` (``labelf status``)."""
    from ..loop.labels import labeled_data

    cfg = project.config
    data = labeled_data(project)
    multi = cfg.multi_label
    other = cfg.oos_label
    if multi:  # the out-of-scope label alone means "none of the labels applies"
        label_sets = [tuple(lab for lab in labs if lab != other) for labs in data.labels]
        counts = Counter(lab for labs in label_sets for lab in labs)
        classes = [c for c in cfg.label_names if counts[c] >= 2]
        not_reviewed = {c: counts[c] for c in cfg.label_names if 0 < counts[c] < 2}
        keep = list(range(len(data)))
    else:
        counts = Counter(data.labels)
        classes = [c for c in cfg.answer_labels if counts[c] >= 2]
        not_reviewed = {c: counts[c] for c in cfg.answer_labels if 0 < counts[c] < 2}
        keep = [i for i, lab in enumerate(data.labels) if lab in classes]
    if len(classes) < 2 or len(keep) < 4:
        raise DataError(f"not enough labels to review: {len(keep)} labeled texts in {len(classes)} label(s) with at "
                        "least 2 texts each; review needs 2 such labels")
    index = {c: i for i, c in enumerate(classes)}
    texts = [data.texts[i] for i in keep]
    ids = [data.ids[i] for i in keep]
    X = embed_texts(project, texts, progress=progress)
    if multi:
        sets = [[index[lab] for lab in label_sets[i] if lab in index] for i in keep]
        Y = np.zeros((len(keep), len(classes)), dtype=np.int64)
        for r, s in enumerate(sets):
            Y[r, s] = 1
        proba = oof_proba(X, Y, len(classes), multi_label=True, seed=cfg.training.seed)
        issues, quality = find_suspects(proba, sets, multi_label=True)
    else:
        y = np.array([index[data.labels[i]] for i in keep], dtype=np.int64)
        proba = oof_proba(X, y, len(classes), multi_label=False, seed=cfg.training.seed)
        issues, quality = find_suspects(proba, y)
    suspects = []
    for r in issues:
        r = int(r)
        if multi:  # no label at all reads as the out-of-scope label, when there is one
            none = [other] if other is not None else []
            given = [classes[j] for j in np.flatnonzero(Y[r])] or none
            suggested = [classes[j] for j in np.flatnonzero(proba[r] >= 0.5)] or none
            p_given = float(min((proba[r, j] for j in np.flatnonzero(Y[r])), default=1.0 - proba[r].max()))
            p_sugg = float(proba[r].max())
        else:
            top = int(proba[r].argmax())
            given, suggested = [classes[y[r]]], [classes[top]]
            p_given, p_sugg = float(proba[r, y[r]]), float(proba[r, top])
        suspects.append(Suspect(ids[r], texts[r], given, suggested, float(quality[r]), p_given, p_sugg))
    if remember:
        rows = project.ws.annotations.latest_rows()
        project.ws.kv.set(LAST_REVIEW_KEY, {"at": utcnow(), "reviewed": len(keep),
                                            "suspects": {s.item_id: rows.get(s.item_id) for s in suspects}})
    return ReviewResult(suspects[:limit] if limit is not None else suspects, len(keep), classes, not_reviewed, multi,
                        flagged=len(suspects))


def review_rows(project: "Project", suspects: list[Suspect]) -> list["TaskRow"]:
    """Review task rows of suspects: the current label as the prediction (scored by its label quality), the
    model's label and the scores in the reason, and ``review`` = the annotation row under review (a suspect whose
    label has no active row any more is left out)."""
    from ..connectors.base import TaskRow

    rows = project.ws.annotations.latest_rows()
    out = []
    for rank, s in enumerate(suspects, 1):
        row = rows.get(s.item_id)
        if row is None:
            continue
        scores = {lab: round(s.p_given, 4) for lab in s.given} | {lab: round(s.p_suggested, 4) for lab in s.suggested
                                                                   if lab not in s.given}
        summary = (f"review: labeled {'|'.join(s.given)}, the model says {'|'.join(s.suggested)} "
                   f"(label quality {s.score:.3f})")
        out.append(TaskRow(item_id=s.item_id, text=s.text, rank=rank, reason={
            "summary": summary, "review": {"given": s.given, "suggested": s.suggested, "score": round(s.score, 4)}},
            prediction={"labels": list(s.given), "score": round(s.score, 4), "scores": scores,
                        "model_version": REVIEW_MODEL_VERSION}, review=str(row)))
    return out


def push_review(project: "Project", suspects: list[Suspect], *, connector: str | None = None,
                **options: Any) -> "PushResult":
    """Send suspects to the project's labeling tool as review tasks (:func:`review_rows`); pushing the same
    suspects again creates no second task for a label. Corrections come back through the normal pull."""
    from ..connectors import make_connector

    return make_connector(project, connector, **options).push(review_rows(project, suspects), review=True)

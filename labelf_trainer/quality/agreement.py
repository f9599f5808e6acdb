"""Annotator agreement (`labelf agreement`): how far annotators agree on the texts two or more of them labeled, each
annotator against the consensus, and the disputed texts.

Votes are each annotator's latest live answer per text from the annotation history (Label Studio pulls keep
every annotator's row; label files record ``--annotator``, or an annotator column via :func:`import_votes`).

- Krippendorff's alpha (nominal; any number of annotators per text, texts with one answer left out), overall and
  per label (that label present or not); Fleiss' kappa where every text has the same number of annotators;
  Cohen's kappa per annotator pair on the texts both labeled.
- Consensus (single-label): cleanlab's multi-annotator CROWDLAB (``get_label_quality_multiannotator``), which weighs
  each annotator by their estimated quality and the out-of-fold scores of the project's embedding head; each
  annotator's agreement with it and quality come from there. Multi-label, or too few labels for out-of-fold
  scores: a majority vote (a label belongs to the consensus when more than half the annotators gave it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..exceptions import DataError

if TYPE_CHECKING:
    from ..loop.labels import LabelImport
    from ..loop.project import Project

__all__ = ["agreement_summary", "AgreementResult", "agreement", "krippendorff_alpha", "fleiss_kappa", "import_votes"]


def krippendorff_alpha(units: Sequence[Sequence[Hashable]]) -> float | None:
    """Krippendorff's alpha for nominal values; ``units``: the values given to each unit (units with fewer than two
    are left out). None when it is undefined (fewer than two paired values, or one value everywhere)."""
    units = [list(u) for u in units if len(u) >= 2]
    cats = sorted({v for u in units for v in u}, key=repr)
    if not units or len(cats) < 2:
        return None
    index = {c: i for i, c in enumerate(cats)}
    o = np.zeros((len(cats), len(cats)))
    for u in units:
        counts = np.bincount([index[v] for v in u], minlength=len(cats)).astype(np.float64)
        o += (np.outer(counts, counts) - np.diag(counts)) / (len(u) - 1)
    n_c = o.sum(axis=1)
    n = n_c.sum()
    disagree_obs = o.sum() - np.trace(o)
    disagree_exp = (n_c.sum() ** 2 - (n_c ** 2).sum()) / (n - 1)
    return None if disagree_exp <= 0 else float(1.0 - disagree_obs / disagree_exp)


def fleiss_kappa(units: Sequence[Sequence[Hashable]]) -> float | None:
    """Fleiss' kappa; None unless every unit has the same number (two or more) of values and two values occur."""
    sizes = {len(u) for u in units}
    if len(sizes) != 1 or min(sizes) < 2:
        return None
    m = sizes.pop()
    cats = sorted({v for u in units for v in u}, key=repr)
    if len(cats) < 2:
        return None
    index = {c: i for i, c in enumerate(cats)}
    table = np.array([np.bincount([index[v] for v in u], minlength=len(cats)) for u in units], dtype=np.float64)
    p_i = ((table ** 2).sum(axis=1) - m) / (m * (m - 1))
    p_j = table.sum(axis=0) / table.sum()
    p_e = float((p_j ** 2).sum())
    return None if p_e >= 1.0 else float((p_i.mean() - p_e) / (1.0 - p_e))


def _value(labels: tuple[str, ...], multi: bool) -> str:
    return "|".join(sorted(labels)) if multi else (labels[0] if labels else "")


@dataclass
class AgreementResult:
    """The figures of :func:`agreement`; ``to_dict()`` is what ``--format json`` prints."""

    texts: int
    """Texts with two or more annotators (the ones agreement is measured on)."""
    annotators: list[str]
    alpha: float | None
    fleiss_kappa: float | None
    per_label: dict[str, dict[str, Any]]
    pairs: list[dict[str, Any]]
    annotator_stats: list[dict[str, Any]]
    disputed: list[dict[str, Any]]
    consensus_method: str
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"texts": self.texts, "annotators": self.annotators, "krippendorff_alpha": _r(self.alpha),
                "fleiss_kappa": _r(self.fleiss_kappa), "per_label": self.per_label, "pairs": self.pairs,
                "annotator_stats": self.annotator_stats, "consensus_method": self.consensus_method,
                "disputed": self.disputed, "notes": self.notes}


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 4)


def _majority(votes: dict[str, tuple[str, ...]], multi: bool) -> tuple[str, ...]:
    """Majority vote: multi-label, each label given by more than half; single-label, the most frequent (ties: the
    label that comes first in the order the answers were recorded)."""
    if multi:
        c = Counter(lab for labs in votes.values() for lab in labs)
        return tuple(sorted(lab for lab, k in c.items() if k * 2 > len(votes)))
    c = Counter(labs[0] for labs in votes.values() if labs)
    return (c.most_common(1)[0][0],) if c else ()


def agreement_summary(project: "Project") -> dict[str, Any] | None:
    """For `labelf status`: Krippendorff's alpha and the disputed count over the texts with two or more annotators
    (None when there are none); no consensus model, so it is cheap."""
    multi = project.config.multi_label
    shared = [v for v in project.ws.annotations.votes().values() if len(v) >= 2]
    if not shared:
        return None
    units = [[_value(labs, multi) for labs in v.values()] for v in shared]
    return {"texts": len(shared), "krippendorff_alpha": _r(krippendorff_alpha(units)),
            "disputed": sum(1 for u in units if len(set(u)) > 1)}


def agreement(project: "Project", *, max_disputed: int | None = None, progress: bool = False) -> AgreementResult:
    """Agreement figures from the workspace's annotation history (texts with one annotator only feed the
    consensus model); :class:`DataError` when no text has two annotators."""
    cfg = project.config
    multi = cfg.multi_label
    votes = {i: v for i, v in project.ws.annotations.votes().items() if v}
    shared = {i: v for i, v in votes.items() if len(v) >= 2}
    if not shared:
        raise DataError(f"no text has answers from two or more annotators ({len(votes)} labeled text(s)); record "
                        "overlapping labels first (Label Studio with several annotators per task, or label files "
                        "with an annotator column: `labelf agreement FILE --annotator-column annotator`)")
    annotators = sorted({a for v in shared.values() for a in v})
    units = [[_value(labs, multi) for labs in v.values()] for v in shared.values()]
    alpha = krippendorff_alpha(units)
    fleiss = fleiss_kappa(units)
    per_label: dict[str, dict[str, Any]] = {}
    for lab in cfg.answer_labels:
        bin_units = [[int(lab in labs) for labs in v.values()] for v in shared.values()]
        given = sum(1 for v in shared.values() if any(lab in labs for labs in v.values()))
        if given:
            disputed = sum(1 for u in bin_units if len(set(u)) > 1)
            per_label[lab] = {"texts": given, "disputed": disputed, "alpha": _r(krippendorff_alpha(bin_units))}
    pairs = _pairs(shared, annotators, multi)
    consensus, quality, stats, method, notes = _consensus(project, votes, multi, progress)
    if not stats:  # majority vote: each annotator against the consensus of the shared texts
        stats = [_annotator_vs(a, shared, consensus) for a in annotators]
    items = {it.id: it.text for it in project.ws.items.get(list(shared))}
    conflicted = project.ws.annotations.conflicted()
    disputed = []
    for item_id, v in shared.items():
        if len({_value(labs, multi) for labs in v.values()}) > 1:
            disputed.append({"item_id": item_id, "text": items.get(item_id, ""),
                             "votes": {a: list(labs) for a, labs in v.items()},
                             "consensus": list(consensus.get(item_id, ())),
                             "consensus_quality": _r(quality.get(item_id)),
                             "in_conflict": item_id in conflicted})
    disputed.sort(key=lambda d: (d["consensus_quality"] if d["consensus_quality"] is not None else 0.0))
    return AgreementResult(len(shared), annotators, alpha, fleiss, per_label, pairs, stats,
                           disputed[:max_disputed] if max_disputed is not None else disputed, method, notes)


def _pairs(shared: dict[str, dict[str, tuple[str, ...]]], annotators: list[str], multi: bool
           ) -> list[dict[str, Any]]:
    """Cohen's kappa and raw agreement of every annotator pair on the texts both labeled (two or more)."""
    from sklearn.metrics import cohen_kappa_score

    out = []
    for i, a in enumerate(annotators):
        for b in annotators[i + 1:]:
            both = [(_value(v[a], multi), _value(v[b], multi)) for v in shared.values() if a in v and b in v]
            if len(both) < 2:
                continue
            x, y = zip(*both)
            kappa = cohen_kappa_score(x, y) if len(set(x) | set(y)) > 1 else None
            out.append({"a": a, "b": b, "texts": len(both), "agreement": _r(np.mean([p == q for p, q in both])),
                        "cohen_kappa": _r(kappa) if kappa is not None and np.isfinite(kappa) else None})
    return out


def _annotator_vs(a: str, shared: dict[str, dict[str, tuple[str, ...]]], consensus: dict[str, tuple[str, ...]]
                  ) -> dict[str, Any]:
    mine = [(sorted(v[a]), sorted(consensus.get(i, ()))) for i, v in shared.items() if a in v]
    return {"annotator": a, "texts": len(mine),
            "agreement_with_consensus": _r(np.mean([p == q for p, q in mine])) if mine else None, "quality": None}


def _consensus(project: "Project", votes: dict[str, dict[str, tuple[str, ...]]], multi: bool, progress: bool
               ) -> tuple[dict[str, tuple[str, ...]], dict[str, float], list[dict[str, Any]], str, list[str]]:
    """(consensus per item, its quality, annotator stats, method, notes): CROWDLAB where it can run, else majority."""
    majority = {i: _majority(v, multi) for i, v in votes.items()}
    if multi:
        return majority, {}, [], "majority vote", ["multi-label: consensus by majority vote per label"]
    cfg = project.config
    counts = Counter(m[0] for m in majority.values() if m)
    classes = [c for c in cfg.answer_labels if counts[c] >= 2]
    ids = [i for i, m in majority.items() if m and m[0] in classes
           and all(labs and labs[0] in classes for labs in votes[i].values())]
    if len(classes) < 2 or len(ids) < 4:
        return majority, {}, [], "majority vote", ["too few labels for out-of-fold scores: consensus by majority vote"]
    import pandas as pd
    from cleanlab.multiannotator import get_label_quality_multiannotator

    from .oof import embed_texts, oof_proba

    index = {c: j for j, c in enumerate(classes)}
    texts = {it.id: it.text for it in project.ws.items.get(ids)}
    ids = [i for i in ids if i in texts]
    X = embed_texts(project, [texts[i] for i in ids], progress=progress)
    y = np.array([index[majority[i][0]] for i in ids], dtype=np.int64)
    proba = oof_proba(X, y, len(classes), multi_label=False, seed=cfg.training.seed)
    names = sorted({a for i in ids for a in votes[i]})
    frame = pd.DataFrame([[float(index[votes[i][a][0]]) if a in votes[i] else np.nan for a in names] for i in ids],
                         columns=names)
    try:
        res = get_label_quality_multiannotator(frame, proba, verbose=False)
    except (ValueError, AssertionError) as e:  # e.g. an annotator with one answer: cleanlab refuses, we fall back
        return majority, {}, [], "majority vote", [f"cleanlab consensus not available ({e}): majority vote"]
    lq = res["label_quality"]
    consensus = dict(majority)
    quality: dict[str, float] = {}
    for r, i in enumerate(ids):
        consensus[i] = (classes[int(lq["consensus_label"].iloc[r])],)
        quality[i] = float(lq["consensus_quality_score"].iloc[r])
    st = res["annotator_stats"]
    shared = {i: votes[i] for i in ids if len(votes[i]) >= 2}
    stats = []
    for a in names:
        row = st.loc[a]
        mine = sum(1 for v in shared.values() if a in v)
        stats.append({"annotator": a, "texts": mine,
                      "agreement_with_consensus": _r(row["agreement_with_consensus"]),
                      "quality": _r(row["annotator_quality"]), "worst_label": classes[int(row["worst_class"])]})
    return consensus, quality, stats, "cleanlab CROWDLAB (multi-annotator consensus)", []


def import_votes(project: "Project", records: list[dict[str, Any]], *, where: str, annotator_column: str = "annotator",
                 id_column: str = "id", label_column: str = "label", first_row: int = 1,
                 columns: Sequence[str] | None = None) -> list["LabelImport"]:
    """Record a label file with an annotator column: the rows of each annotator as that annotator's labels
    (through :func:`labelf_trainer.loop.labels.import_labels`, so each annotator's rows are checked the same way).
    Every annotator's rows are checked before anything is written."""
    from ..loop.labels import import_labels

    cols = list(columns) if columns is not None else list(records[0]) if records else []
    if annotator_column not in cols:
        raise DataError(f"{where}: no annotator column {annotator_column!r}; columns are: {', '.join(cols)}")
    groups: dict[str, list[dict[str, Any]]] = {}
    for row_no, row in enumerate(records, first_row):
        name = row.get(annotator_column)
        name = "" if name is None else str(name).strip()
        if not name:
            raise DataError(f"{where}: row {row_no}: empty {annotator_column!r}")
        groups.setdefault(name, []).append(row)
    with project.ws.transaction():  # all annotators or none
        if len(groups) == 1:
            name, rows = next(iter(groups.items()))
            return [import_labels(project, rows, where=where, annotator=name, id_column=id_column,
                                  label_column=label_column, first_row=first_row, columns=cols)]
        return [import_labels(project, rows, where=f"{where} (annotator {name!r}; rows counted among theirs)",
                              annotator=name, id_column=id_column, label_column=label_column, first_row=1,
                              columns=cols)
                for name, rows in groups.items()]

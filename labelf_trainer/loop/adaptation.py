"""Language adaptation: the embedding head learns languages that have (almost) no labels from their unlabeled texts.

A head trained on one language's embeddings of a multilingual encoder transfers to the others, but each language's
embeddings sit a little apart, so the boundary drawn through the labeled language misplaces some of them: on UMSAB
tweets (``benchmarks/multilingual.py``) the English-trained head calls 73% of French tweets ``neutral``.

Adaptation is class-balanced self-training, one language at a time (after Zou et al., ECCV 2018): for every detected
language of the unlabeled pool that has few labels, the texts the model scores highest for each label become
pseudo-labels, as many per label as the labeled label mix says, and the head is refit; :data:`ROUNDS` rounds. The
result is still one head with no per-language part, so prediction needs no language. Languages are taken one at a
time because a pool-wide pick lets one language's bias choose the pseudo-labels of all (measured: worse than none).

Rules, each from a measurement: only languages with fewer than :data:`LABELS_PER_CLASS` labels per label, and never
the language with the most labels, are adapted (self-training a language that has labels gained nothing on UMSAB and
cost 5-7 points on TREC, whose labels are very unbalanced), so a one-language project trains exactly as without
adaptation; only groups of at least :data:`MIN_GROUP` unlabeled texts and :data:`MIN_SHARE` of the pool (a few
misdetected texts are no market); ``unknown`` (too short to tell) is never adapted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import ProjectConfig
from ..embeddings.langid import UNKNOWN, pool_languages
from ..embeddings.resolve import is_multilingual
from ..exceptions import ModelError
from ..models.specs import model_spec

if TYPE_CHECKING:
    from ..models.base import FrozenEncoderClassifier
    from .project import Project

__all__ = ["AdaptationPlan", "plan_adaptation", "pseudo_labels", "fit_adapted", "adaptation_mode", "adaptation_pool",
           "ROUNDS", "FRACTION", "LABELS_PER_CLASS", "MIN_GROUP", "MIN_SHARE", "MAX_PER_LANGUAGE"]

ROUNDS = 3
#: Share of a language's unlabeled texts that become pseudo-labels in each round.
FRACTION = 0.5
#: A language with at least this many labels per label (on average) is not adapted.
LABELS_PER_CLASS = 5
MIN_GROUP = 50
MIN_SHARE = 0.02
#: Unlabeled texts used per language (a seeded sample): enough to place the boundary, bounded embedding cost.
MAX_PER_LANGUAGE = 1000
#: Skipped languages named in the log line (a large pool has many misdetected one-off "languages").
SHOWN_SKIPPED = 4


@dataclass(frozen=True)
class AdaptationPlan:
    """Which unlabeled rows of each language to use, and why the other languages are left alone."""

    rows: dict[str, list[int]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.rows)

    def describe(self) -> str:
        if not self.rows:
            shown = [f"{k}: {v}" for k, v in list(self.skipped.items())[:SHOWN_SKIPPED]]
            more = len(self.skipped) - len(shown)
            return "language adaptation: no language to adapt" + (
                f" ({'; '.join(shown)}{f'; {more} more' if more else ''})" if shown else "")
        used = ", ".join(f"{lang} {len(r)}" for lang, r in self.rows.items())
        return f"language adaptation: self-training on unlabeled texts of languages with few labels ({used})"


def plan_adaptation(pool_langs: Sequence[str], labeled_langs: Sequence[str], n_classes: int, *,
                    seed: int = 0, max_per_language: int = MAX_PER_LANGUAGE) -> AdaptationPlan:
    """Pick the languages of the unlabeled pool to adapt and a seeded sample of each one's rows."""
    pool = Counter(pool_langs)
    labeled = Counter(labeled_langs)
    total = max(1, len(pool_langs))
    langs = np.asarray(pool_langs, dtype=object)
    need = LABELS_PER_CLASS * n_classes
    rows: dict[str, list[int]] = {}
    skipped: dict[str, str] = {}
    rng = np.random.default_rng(seed)
    known = [(n, lang) for lang, n in labeled.items() if lang != UNKNOWN]
    source = max(known)[1] if known else None
    for lang, n in pool.most_common():
        if lang == UNKNOWN:
            continue
        if lang == source or labeled[lang] >= need:
            skipped[lang] = f"{labeled[lang]} labels" + (" (the most labeled language)" if lang == source else "")
        elif n < MIN_GROUP or n / total < MIN_SHARE:
            skipped[lang] = f"only {n} unlabeled text{'s' if n != 1 else ''}"
        else:
            idx = np.flatnonzero(langs == lang)
            if len(idx) > max_per_language:
                idx = np.sort(rng.choice(idx, size=max_per_language, replace=False))
            rows[lang] = [int(i) for i in idx]
    return AdaptationPlan(rows, skipped)


def pseudo_labels(proba: np.ndarray, prior: np.ndarray, fraction: float = FRACTION) -> tuple[np.ndarray, np.ndarray]:
    """(rows, class indices): for each class ``j`` the ``fraction * n * prior[j]`` rows it scores highest.

    Ranking within each class, not by the top label, is what lets a class the model under-predicts in this language
    still get its share. A row wanted by several classes goes to the one where it ranks best.
    """
    n, k = proba.shape
    quota = np.rint(fraction * n * np.asarray(prior, dtype=np.float64)).astype(int)
    ranks = np.argsort(np.argsort(-proba, axis=0, kind="stable"), axis=0, kind="stable")
    keep = ranks < quota[None, :]
    rel = np.where(keep, ranks, np.iinfo(np.int64).max)
    best = rel.argmin(axis=1)
    ok = keep[np.arange(n), best]
    return np.flatnonzero(ok), best[ok]


def _prior(y: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    counts = Counter(y)
    c = np.array([counts.get(lab, 0) for lab in classes], dtype=np.float64) + 1.0  # smoothed
    return c / c.sum()


def fit_adapted(model: Any, X: np.ndarray, y: Sequence[str], groups: dict[str, np.ndarray], *,
                rounds: int = ROUNDS, fraction: float = FRACTION) -> dict[str, int]:
    """Fit ``model`` (``fit_embeddings`` / ``predict_proba_embeddings``) on ``X, y``, then self-train it on each
    language's unlabeled embeddings in ``groups``. Returns the pseudo-labels per language of the last round."""
    y = list(y)
    model.fit_embeddings(X, y)
    used: dict[str, int] = {}
    if not groups:
        return used
    classes = np.asarray(model.classes_, dtype=object)
    prior = _prior(y, list(classes))
    for _ in range(rounds):
        Xs, ys = [X], [np.asarray(y, dtype=object)]
        for lang, G in groups.items():
            rows, cls = pseudo_labels(model.predict_proba_embeddings(G), prior, fraction)
            Xs.append(G[rows])
            ys.append(classes[cls])
            used[lang] = int(len(rows))
        model.fit_embeddings(np.vstack(Xs), list(np.concatenate(ys)))
    return used


def adaptation_mode(requested: str | bool | None, model_type: str, encoder: str, cfg: ProjectConfig
                    ) -> tuple[str, str | None]:
    """(mode, why adaptation does not run or None) for a training run; ``requested`` None means the config's.

    ``on`` for a model it cannot apply to is an error; ``auto`` runs only with a known multilingual encoder (with an
    English encoder it cost English accuracy and gave the other languages nothing, see ``benchmarks/README.md``).
    """
    mode = cfg.training.language_adaptation if requested is None else requested
    mode = {True: "on", False: "off"}.get(mode, mode) if isinstance(mode, bool) else str(mode)
    if mode not in ("auto", "on", "off"):
        raise ModelError(f"language adaptation must be auto, on or off, not {mode!r}")
    spec = model_spec(model_type)
    applicable = spec.trainable and spec.frozen_encoder and not cfg.multi_label
    if mode == "on" and not applicable:
        raise ModelError("language adaptation applies to single-label embedding-head models, not "
                         f"{'multi-label ' if cfg.multi_label else ''}{model_type}")
    if mode == "off":
        return mode, "off"
    if not applicable:
        return mode, f"not applicable to {'multi-label ' if cfg.multi_label else ''}{model_type}"
    if mode == "auto" and not is_multilingual(encoder):
        return mode, f"encoder {encoder!r} is not a known multilingual encoder (`on` forces it)"
    return mode, None


def adaptation_pool(project: "Project", labeled_texts: Sequence[str], exclude: set[str],
                    make_model: Callable[[], "FrozenEncoderClassifier"], seed: int,
                    log: Callable[[str], None] | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Embeddings of the project's unlabeled texts of each language to adapt, and what was decided (for params).

    Texts in ``exclude`` (the labeled ones, an evaluation file's) are never in the pool; ``make_model()`` gives a
    frozen-encoder model whose ``embed`` goes through the workspace cache.
    """
    cache = project.ws.cache_dir
    texts = list(dict.fromkeys(it.text for it in project.ws.items.all() if it.text not in exclude))
    plan = plan_adaptation(pool_languages(texts, cache), pool_languages(labeled_texts, cache),
                           len(project.config.label_names), seed=seed)
    if log is not None:
        log(plan.describe())
    info: dict[str, Any] = {"enabled": True, "unlabeled": {k: len(v) for k, v in plan.rows.items()},
                            "skipped": dict(plan.skipped)}
    if not plan:
        return {}, info
    model = make_model()
    return {lang: model.embed([texts[i] for i in rows]) for lang, rows in plan.rows.items()}, info

"""One training entry point for every model type: labeled data -> evaluation -> a new registry version.

Usage::

    from labelf_trainer.training import train_and_register
    result = train_and_register(project, "embedding-head", deploy=True)
    result.model_id, result.version, result.metrics["accuracy"]

Training reads the workspace's effective annotations (latest per item, conflicts excluded), evaluates on a
stratified hold-out (or k-fold when there are too few labels per class, or a separate labeled file), and writes
the model as a new immutable version. Nothing touches the registry until the model is trained and evaluated, and
the version is written atomically, so Ctrl-C at any point leaves the registry as it was.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .evaluation import evaluate_scores
from .evaluation.splits import SplitPlan, plan_split
from .exceptions import DataError, ModelError, UnknownLabelError
from .language_adaptation import adaptation_mode, adaptation_pool, fit_adapted
from .models import TextClassifier, model_class

__all__ = ["TrainResult", "TrainingData", "train_and_register", "build_model", "labeled_data", "read_eval_file",
           "fit_and_evaluate", "MODEL_TYPES_TRAINABLE"]

MODEL_TYPES_TRAINABLE = ("embedding-head", "setfit", "fine-tuned")
#: constructor arguments set by training itself, not user hyperparameters
INTERNAL_PARAMS = {"encoder", "base", "random_state", "show_progress"}


@dataclass
class TrainingData:
    """Texts and their labels: one label per text (single-label) or a tuple of labels (multi-label)."""

    texts: list[str]
    labels: list[Any]
    ids: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, idx: np.ndarray) -> "TrainingData":
        return TrainingData([self.texts[i] for i in idx], [self.labels[i] for i in idx],
                            [self.ids[i] for i in idx] if self.ids else [])


@dataclass
class TrainResult:
    """What :func:`train_and_register` produced."""

    model_id: int
    version: int
    model_type: str
    metrics: dict[str, Any]
    training_examples: int
    eval_method: str
    params: dict[str, Any]
    seconds: float
    deployed: bool
    model: TextClassifier | None = field(default=None, repr=False)

    def summary(self) -> dict[str, Any]:
        return {"model_id": self.model_id, "version": self.version, "type": self.model_type,
                "deployed": self.deployed, "training_examples": self.training_examples,
                "eval_method": self.eval_method, "n_eval": self.metrics.get("n_eval"),
                "accuracy": self.metrics.get("accuracy"), "f1_macro": self.metrics.get("f1_macro"),
                "seconds": round(self.seconds, 2)}


# -- data ------------------------------------------------------------------------------------------------------
def _check_labels(labels: Sequence[Any], known: Sequence[str], multi_label: bool, where: str) -> list[Any]:
    """Normalise to a label (single) or tuple (multi); refuse unknown labels and multi labels on single tasks."""
    known_set = set(known)
    out, unknown = [], set()
    for v in labels:
        tup = (v,) if isinstance(v, str) else tuple(v)
        unknown.update(lab for lab in tup if lab not in known_set)
        if multi_label:
            out.append(tuple(sorted(tup)))
        else:
            if len(tup) != 1:
                raise DataError(f"{where}: single-label project, but an item has {len(tup)} labels {list(tup)}; "
                                "fix the annotation or set task: multi-label")
            out.append(tup[0])
    if unknown:
        raise UnknownLabelError(sorted(unknown), list(known), where)
    return out


def labeled_data(project: Any) -> TrainingData:
    """The workspace's effective annotations as training data (items annotated with no label are skipped
    for single-label projects; for multi-label "no label applies" is a valid answer)."""
    cfg = project.config
    labeled = project.ws.labeled()
    items = {it.id: it for it in project.ws.items(ids=list(labeled))}
    ids, texts, labels = [], [], []
    for item_id, labs in labeled.items():
        if item_id not in items or (not labs and not cfg.multi_label):
            continue
        ids.append(item_id)
        texts.append(items[item_id].text)
        labels.append(labs)
    labels = _check_labels(labels, cfg.label_names, cfg.multi_label, "workspace annotations")
    return TrainingData(texts, labels, ids)


def read_eval_file(path: str | Path, project: Any, *, text_column: str = "text",
                   label_column: str = "label") -> TrainingData:
    """A labeled evaluation file (CSV/JSONL/Parquet); labels '|'-separated or a JSON list for multi-label."""
    from .data import read_items

    items = read_items(path, text_column=text_column, label_column=label_column, long_texts="truncate").items
    cfg = project.config if hasattr(project, "config") else project
    rows = [it for it in items if it.gold or cfg.multi_label]
    if not rows:
        raise DataError(f"{path}: no labeled rows (column {label_column!r} is empty everywhere)")
    labels = _check_labels([it.gold or () for it in rows], cfg.label_names, cfg.multi_label, str(path))
    return TrainingData([it.text for it in rows], labels, [it.id for it in rows])


# -- models ----------------------------------------------------------------------------------------------------
def build_model(model_type: str, *, labels: Sequence[str], multi_label: bool, encoder: str, seed: int,
                progress: bool = True, cache_dir: Path | None = None, **hyper: Any) -> TextClassifier:
    """An unfitted model of ``model_type``; unknown hyperparameters are an error listing the accepted ones.

    setfit and fine-tuned refuse a frozen-only encoder here, before any work is done.
    """
    if model_type not in MODEL_TYPES_TRAINABLE:
        raise ModelError(f"cannot train a {model_type!r} model; trainable types: {', '.join(MODEL_TYPES_TRAINABLE)}")
    cls = model_class(model_type)
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self", "labels", "multi_label"}
    hyper = {k: v for k, v in hyper.items() if v is not None}
    bad = sorted(set(hyper) - accepted)
    if bad:
        raise ModelError(f"{model_type} does not take hyperparameter(s) {', '.join(bad)}; "
                         f"it takes: {', '.join(sorted(accepted - INTERNAL_PARAMS))}")
    kwargs: dict[str, Any] = {"labels": list(labels), "multi_label": multi_label, "random_state": seed, **hyper}
    if model_type == "embedding-head":
        kwargs["encoder"] = encoder
        model = cls(**kwargs)
        model.use_cache(cache_dir, progress=progress)  # type: ignore[attr-defined]
        return model
    from .models._torch_utils import trainable_base

    trainable_base(encoder, model_type)  # frozen-only encoders are refused with the supported types named
    kwargs["base"] = encoder
    if "show_progress" in accepted:
        kwargs["show_progress"] = progress
    return cls(**kwargs)


def _predict(model: TextClassifier, texts: list[str], X: np.ndarray | None) -> np.ndarray:
    if X is not None and hasattr(model, "predict_proba_embeddings"):
        return model.predict_proba_embeddings(X)  # type: ignore[attr-defined]
    return model.predict_proba(texts)


def fit_and_evaluate(make_model: Any, data: TrainingData, *, multi_label: bool, classes: Sequence[str],
                     eval_split: float, seed: int, eval_data: TrainingData | None = None,
                     thresholds: Any = None, model_threshold: float | None = None, max_folds: int = 5,
                     log: Any = None, adapt: dict[str, np.ndarray] | None = None
                     ) -> tuple[TextClassifier, dict[str, Any], int]:
    """Train and evaluate. Returns (final model, metrics, number of training examples of the final model).

    ``make_model()`` returns a fresh unfitted model. With ``eval_data`` the model is trained on all of ``data``
    and evaluated on it; otherwise :func:`plan_split` chooses a hold-out or k-fold. ``adapt`` (embeddings of
    unlabeled texts per language, see :mod:`.language_adaptation`) self-trains every fit of a frozen-encoder model.
    """
    say = log or (lambda msg: None)
    first = make_model()
    X = first.embed(data.texts) if hasattr(first, "fit_embeddings") else None  # frozen: embed once (cached)
    pseudo: dict[str, int] = {}

    def _fit(model: TextClassifier, data: TrainingData, X: np.ndarray | None) -> TextClassifier:
        if X is not None and adapt:
            pseudo.update(fit_adapted(model, X, data.labels, adapt))
            return model
        if X is not None and hasattr(model, "fit_embeddings"):
            return model.fit_embeddings(X, data.labels)  # type: ignore[attr-defined]
        return model.fit(data.texts, data.labels)

    def evaluate(proba: np.ndarray, ev: TrainingData) -> dict[str, Any]:
        return evaluate_scores(proba, ev.labels, classes, multi_label=multi_label, texts=ev.texts,
                               threshold=getattr(first, "threshold", 0.5), thresholds=thresholds,
                               model_threshold=model_threshold)

    if eval_data is not None:
        say(f"training on {len(data)} labeled texts, evaluating on {len(eval_data)} texts from the eval file")
        model = _fit(first, data, X)
        metrics = evaluate(_predict(model, eval_data.texts, None), eval_data)
        metrics["evaluation"] = {"method": "eval-file", "n_eval": len(eval_data),
                                 "description": f"separate labeled file of {len(eval_data)} texts"}
        if pseudo:
            metrics["language_adaptation"] = {"pseudo_labels": dict(pseudo)}
        return model, metrics, len(data)

    plan: SplitPlan = plan_split(data.labels, multi_label=multi_label, eval_split=eval_split, seed=seed,
                                 max_folds=max_folds)
    say(plan.describe())
    if plan.method == "holdout":
        tr, ev = plan.train_indices(0), plan.folds[0]
        model = _fit(first, data.subset(tr), X[tr] if X is not None else None)
        ev_data = data.subset(ev)
        metrics = evaluate(_predict(model, ev_data.texts, X[ev] if X is not None else None), ev_data)
        n_train = len(tr)
    else:
        proba = np.zeros((len(data), len(classes)))
        for f in range(plan.k):
            say(f"fold {f + 1}/{plan.k}")
            tr, ev = plan.train_indices(f), plan.folds[f]
            m = _fit(make_model() if f else first, data.subset(tr), X[tr] if X is not None else None)
            proba[ev] = _predict(m, [data.texts[i] for i in ev], X[ev] if X is not None else None)
        ev_idx = plan.eval_indices
        metrics = evaluate(proba[ev_idx], data.subset(ev_idx))
        say(f"final model on all {len(data)} labeled texts")
        model = _fit(make_model(), data, X)
        n_train = len(data)
    metrics["evaluation"] = {"method": plan.method, "n_eval": int(len(plan.eval_indices)), "folds": plan.k,
                             "eval_split": eval_split if plan.method == "holdout" else None,
                             "description": plan.describe()}
    if pseudo:  # the final model's pseudo-labels per language (it is fitted last)
        metrics["language_adaptation"] = {"pseudo_labels": dict(pseudo)}
    return model, metrics, n_train


# -- the entry point -------------------------------------------------------------------------------------------
def _find_model_id(project: Any, model_type: str, name: str) -> int | None:
    labels = project.config.label_names
    for rec in reversed(project.registry.list()):
        if rec.type == model_type and rec.labels == labels and rec.name == name \
                and rec.multi_label == project.config.multi_label:
            return rec.id
    return None


def train_and_register(project: Any, model_type: str | None = "embedding-head", deploy: bool = True,
                       eval_split: float | None = None, seed: int | None = None, progress: bool = True, *,
                       base: str | None = None, eval_data: TrainingData | None = None, name: str | None = None,
                       model_id: int | None = None, data: TrainingData | None = None, log: Any = None,
                       language_adaptation: str | bool | None = None, **hyper: Any) -> TrainResult:
    """Train ``model_type`` on the project's annotations, evaluate it, and register it as a new version.

    The version goes to ``model_id`` if given, else to the project's model of that type and name (one is created
    the first time). ``deploy`` makes it the deployed version and the project's active model. Hyperparameters and
    the seed are recorded with the version. ``base`` overrides the config's encoder. ``language_adaptation``
    (``auto``, ``on`` or ``off``; default: ``training.language_adaptation``) self-trains a single-label
    embedding-head on the unlabeled texts of languages that have few labels (:mod:`.language_adaptation`).
    """
    t0 = time.perf_counter()
    cfg = project.config
    model_type = model_type or cfg.training.type
    eval_split = cfg.training.eval_split if eval_split is None else float(eval_split)
    if not 0.0 < eval_split < 1.0:
        raise ModelError(f"eval_split must be between 0 and 1 (exclusive), got {eval_split}")
    seed = cfg.training.seed if seed is None else int(seed)
    encoder = base or cfg.encoder
    classes = cfg.label_names

    def make() -> TextClassifier:
        return build_model(model_type, labels=classes, multi_label=cfg.multi_label, encoder=encoder, seed=seed,
                           progress=progress, cache_dir=project.ws.cache_dir, **hyper)

    make()  # validates type, hyperparameters and encoder before reading data
    mode, why_not = adaptation_mode(language_adaptation, model_type, encoder, cfg)
    data = data if data is not None else labeled_data(project)
    distinct = {lab for v in data.labels for lab in ((v,) if isinstance(v, str) else v)}
    if len(data) < 4 or len(distinct) < 2:
        raise DataError(f"not enough annotations to train: {len(data)} labeled texts with {len(distinct)} distinct "
                        "label(s); label at least 4 texts with 2 different labels (`labelf suggest`, `labelf label`)")
    if model_id is not None:
        rec = project.registry.get(model_id)
        if rec.type != model_type:
            raise ModelError(f"model {model_id} is of type {rec.type!r}, not {model_type!r}")
        threshold = rec.confidence_threshold
    else:
        threshold = cfg.thresholds.review
    exclude = set(data.texts) | set(eval_data.texts if eval_data is not None else ())
    adapt, adapt_params = (adaptation_pool(project, data.texts, exclude, make, seed, log) if why_not is None
                           else (None, {"enabled": False, "reason": why_not}))
    adapt_params["mode"] = mode
    model, metrics, n_train = fit_and_evaluate(
        make, data, multi_label=cfg.multi_label, classes=classes, eval_split=eval_split, seed=seed,
        eval_data=eval_data, thresholds=cfg.thresholds, model_threshold=threshold,
        max_folds=5 if model_type == "embedding-head" else 3, log=log, adapt=adapt)
    seconds = time.perf_counter() - t0
    metrics["train_seconds"] = round(seconds, 2)
    params = {"type": model_type, "encoder": encoder, "seed": seed, "eval_split": eval_split,
              "hyperparameters": {k: v for k, v in hyper.items() if v is not None},
              "model_params": model.get_params() if hasattr(model, "get_params") else {},
              "language_adaptation": adapt_params}
    name = name or f"{cfg.project} ({model_type})"
    reg = project.registry
    target = model_id if model_id is not None else _find_model_id(project, model_type, name)
    if target is None:
        target = reg.create_model(name, model_type, classes, multi_label=cfg.multi_label,
                                  confidence_threshold=threshold)
        try:
            version = reg.add_version(target, model, metrics=metrics, training_examples=n_train, params=params,
                                      deploy=deploy)
        except BaseException:  # no empty model entry left behind
            with project.ws.transaction() as c:
                c.execute("DELETE FROM models WHERE id = ? AND NOT EXISTS "
                          "(SELECT 1 FROM model_versions WHERE model_id = ?)", (target, target))
            raise
    else:
        version = reg.add_version(target, model, metrics=metrics, training_examples=n_train, params=params,
                                  deploy=deploy)
    if deploy:
        reg.set_active(target)
    return TrainResult(model_id=target, version=version, model_type=model_type, metrics=metrics,
                       training_examples=n_train, eval_method=metrics["evaluation"]["method"], params=params,
                       seconds=seconds, deployed=deploy, model=model)

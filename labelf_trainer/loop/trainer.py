"""One training entry point for every model type: labeled data -> evaluation -> a new registry version.

Usage::

    from labelf_trainer.loop.trainer import train_and_register
    result = train_and_register(project, "embedding-head", deploy=True)
    result.model_id, result.version, result.metrics["accuracy"]

Training reads the workspace's effective annotations (latest per item, conflicts excluded), evaluates on a
stratified hold-out (or k-fold when there are too few labels per class, or a separate labeled file), and writes
the model as a new immutable version. Nothing touches the registry until the model is trained and evaluated, and
the version is written atomically, so Ctrl-C at any point leaves the registry as it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import Thresholds
from ..evaluation import evaluate_scores
from ..evaluation.splits import SplitPlan, plan_split
from ..exceptions import DataError, ModelError
from ..models.base import FrozenEncoderClassifier, TextClassifier
from ..models.specs import model_spec, model_types
from .adaptation import adaptation_mode, adaptation_pool, fit_adapted
from .labels import TrainingData, labeled_data

if TYPE_CHECKING:
    from .project import Project

__all__ = ["TrainResult", "train_and_register", "build_model", "fit_and_evaluate"]

Log = Callable[[str], None]


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


# -- models ----------------------------------------------------------------------------------------------------
def build_model(model_type: str, *, labels: Sequence[str], multi_label: bool, encoder: str, seed: int,
                progress: bool = True, cache_dir: Path | None = None, **hyper: Any) -> TextClassifier:
    """An unfitted model of ``model_type``; unknown or out-of-range hyperparameters are an error naming them.

    Types that train the encoder refuse a frozen-only encoder here, before any work is done.
    """
    spec = model_spec(model_type)
    if not spec.trainable:
        raise ModelError(f"cannot train a {model_type!r} model; trainable types: "
                         f"{', '.join(model_types(trainable=True))}")
    args = spec.make_args(hyper)
    return spec.load_class().for_training(encoder=encoder, labels=list(labels), multi_label=multi_label,
                                          args=args, seed=seed, progress=progress, cache_dir=cache_dir)


def _predict(model: TextClassifier, texts: list[str], X: np.ndarray | None) -> np.ndarray:
    if X is not None and isinstance(model, FrozenEncoderClassifier):
        return model.predict_proba_embeddings(X)
    return model.predict_proba(texts)


def fit_and_evaluate(make_model: Callable[[], TextClassifier], data: TrainingData, *, multi_label: bool,
                     classes: Sequence[str], eval_split: float, seed: int, eval_data: TrainingData | None = None,
                     thresholds: Thresholds | None = None, model_threshold: float | None = None,
                     max_folds: int = 5, log: Log | None = None, adapt: dict[str, np.ndarray] | None = None
                     ) -> tuple[TextClassifier, dict[str, Any], int]:
    """Train and evaluate. Returns (final model, metrics, number of training examples of the final model).

    ``make_model()`` returns a fresh unfitted model. With ``eval_data`` the model is trained on all of ``data``
    and evaluated on it; otherwise :func:`plan_split` chooses a hold-out or k-fold. ``adapt`` (embeddings of
    unlabeled texts per language, see :mod:`.adaptation`) self-trains every fit of a frozen-encoder model.
    """
    say = log or (lambda msg: None)
    first = make_model()
    X = first.embed(data.texts) if isinstance(first, FrozenEncoderClassifier) else None  # embed once (cached)
    pseudo: dict[str, int] = {}

    def _fit(model: TextClassifier, data: TrainingData, X: np.ndarray | None) -> TextClassifier:
        if X is None or not isinstance(model, FrozenEncoderClassifier):
            return model.fit(data.texts, data.labels)
        if adapt:
            pseudo.update(fit_adapted(model, X, data.labels, adapt))
            return model
        return model.fit_embeddings(X, data.labels)

    def evaluate(proba: np.ndarray, ev: TrainingData) -> dict[str, Any]:
        return evaluate_scores(proba, ev.labels, classes, multi_label=multi_label, texts=ev.texts,
                               threshold=first.threshold, thresholds=thresholds,
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
def _find_model_id(project: "Project", model_type: str, name: str) -> int | None:
    labels = project.config.label_names
    for rec in reversed(project.registry.list()):
        if rec.type == model_type and rec.labels == labels and rec.name == name \
                and rec.multi_label == project.config.multi_label:
            return rec.id
    return None


def train_and_register(project: "Project", model_type: str | None = "embedding-head", deploy: bool = True,
                       eval_split: float | None = None, seed: int | None = None, progress: bool = True, *,
                       base: str | None = None, eval_data: TrainingData | None = None, name: str | None = None,
                       model_id: int | None = None, data: TrainingData | None = None, log: Log | None = None,
                       language_adaptation: str | bool | None = None, **hyper: Any) -> TrainResult:
    """Train ``model_type`` on the project's annotations, evaluate it, and register it as a new version.

    The version goes to ``model_id`` if given, else to the project's model of that type and name (one is created
    the first time). ``deploy`` makes it the deployed version and the project's active model. Hyperparameters and
    the seed are recorded with the version. ``base`` overrides the config's encoder. ``language_adaptation``
    (``auto``, ``on`` or ``off``; default: ``training.language_adaptation``) self-trains a single-label
    embedding-head on the unlabeled texts of languages that have few labels (:mod:`.adaptation`).
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
        max_folds=5 if model_spec(model_type).frozen_encoder else 3, log=log, adapt=adapt)
    seconds = time.perf_counter() - t0
    metrics["train_seconds"] = round(seconds, 2)
    params = {"type": model_type, "encoder": encoder, "seed": seed, "eval_split": eval_split,
              "hyperparameters": {k: v for k, v in hyper.items() if v is not None},
              "model_params": model.get_params(),
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
            reg.delete_if_empty(target)
            raise
    else:
        version = reg.add_version(target, model, metrics=metrics, training_examples=n_train, params=params,
                                  deploy=deploy)
    if deploy:
        reg.set_active(target)
    return TrainResult(model_id=target, version=version, model_type=model_type, metrics=metrics,
                       training_examples=n_train, eval_method=metrics["evaluation"]["method"], params=params,
                       seconds=seconds, deployed=deploy, model=model)

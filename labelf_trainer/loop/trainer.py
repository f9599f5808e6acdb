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

from ..config import ProjectConfig
from ..evaluation import evaluate_scores
from ..evaluation.splits import plan_split
from ..exceptions import DataError, ModelError
from ..models.base import FrozenEncoderClassifier, TextClassifier
from ..models.specs import model_spec, model_types
from ..types import text_hash
from .adaptation import adaptation_mode, adaptation_pool, fit_adapted
from .labels import TrainingData, labeled_data
from .semi_supervised import AUTO_METHOD, DEFAULT_METHOD, fit_with_pool, pool_method
from .stopping import stopping_advice
from .trust import MIN_AUDIT_FOR_OOS_SHARE, HeldOut, Trust, fit_trust

if TYPE_CHECKING:
    from .project import Project

__all__ = ["TrainResult", "train_and_register", "build_model", "fit_and_evaluate", "PoolSample"]

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
    """The model's calibrated scores (out-of-scope column included)."""
    if X is not None and isinstance(model, FrozenEncoderClassifier):
        return model.predict_proba_embeddings(X)
    return model.predict_proba(texts)


def _raw(model: TextClassifier, texts: list[str], X: np.ndarray | None) -> np.ndarray:
    """The model's own scores, before calibration and out of scope (what the trust layer is fitted on)."""
    if X is not None and isinstance(model, FrozenEncoderClassifier):
        return model._scores_embeddings(X)
    return model._scores(texts)


@dataclass
class PoolSample:
    """A uniform sample of the unlabeled pool (the traffic), for the auto band and the accuracy estimate."""

    texts: list[str]
    n_unlabeled: int
    audit_ids: set[str] = field(default_factory=set)
    audit_other_share: float | None = None


def fit_and_evaluate(make_model: Callable[[], TextClassifier], data: TrainingData, *, config: ProjectConfig,
                     eval_split: float, seed: int, eval_data: TrainingData | None = None,
                     model_threshold: float | None = None, max_folds: int = 5, log: Log | None = None,
                     adapt: dict[str, np.ndarray] | None = None, pool: PoolSample | None = None,
                     frozen: FrozenEncoderClassifier | None = None, pool_learning: str = "off"
                     ) -> tuple[TextClassifier, dict[str, Any], int]:
    """Train, calibrate, evaluate. Returns (final model, metrics, number of training examples of the final model).

    ``make_model()`` returns a fresh unfitted model. Held-out scores come from k-fold cross-validation for models on
    a frozen encoder (cheap) and from :func:`plan_split` (a hold-out, or k-fold when labels are few) otherwise; the
    calibration, the out-of-scope detector, the auto band and the accuracy estimate are fitted on them
    (:mod:`.trust`). With ``eval_data`` the metrics come from that file instead. Texts labeled with the out-of-scope
    label are not a class of the model: they are the detector's second reference. ``adapt`` (embeddings of unlabeled
    texts per language, see :mod:`.adaptation`) self-trains every fit of a frozen-encoder model. ``frozen``: a model
    on the project's frozen encoder whose ``embed`` gives the detector's embeddings (default: ``make_model()``'s).
    ``pool_learning`` (:mod:`.semi_supervised`, ``self``, ``propagation`` or ``off``): every fit of a single-label
    frozen-encoder model also learns from pseudo-labels of the ``pool`` sample's texts (never the evaluated ones);
    ``auto``: the folds run with self-training and with labels only, and the better held-out accuracy decides
    (labels only on a tie); ``metrics["pool_learning"]`` records both.
    """
    say = log or (lambda msg: None)
    multi, other = config.multi_label, config.oos_label
    classes = config.label_names
    is_other = [lab == other if isinstance(lab, str) else (other is not None and tuple(lab) == (other,))
                for lab in data.labels]
    others = [t for t, o in zip(data.texts, is_other) if o]
    data = data.subset(np.flatnonzero(~np.asarray(is_other, dtype=bool)))
    first = make_model()
    X = first.embed(data.texts) if isinstance(first, FrozenEncoderClassifier) else None  # embed once (cached)
    pseudo: dict[str, int] = {}
    learn_texts, trust_pool = _split_pool(pool, seed) if (
        pool_learning != "off" and X is not None and pool is not None and len(pool.texts) >= 2 and not adapt
        and not multi) else ([], pool)
    X_pool = first.embed(learn_texts) if learn_texts else None
    pool_info: dict[str, Any] = {}
    # "auto": self-training and labels only are both cross-validated; the better held-out accuracy is kept
    candidates = ([AUTO_METHOD, "off"] if pool_learning == "auto" else [pool_learning]) if X_pool is not None \
        else ["off"]
    method = candidates[0]

    def _fit(model: TextClassifier, d: TrainingData, Xd: np.ndarray | None) -> TextClassifier:
        if Xd is None or not isinstance(model, FrozenEncoderClassifier):
            return model.fit(d.texts, d.labels)
        if adapt:
            pseudo.update(fit_adapted(model, Xd, d.labels, adapt))
            return model
        if X_pool is not None and method != "off":
            pool_info.clear()
            pool_info.update(fit_with_pool(model, Xd, d.labels, X_pool, method=method, seed=seed))
            return model
        return model.fit_embeddings(Xd, d.labels)

    plan = plan_split(data.labels, multi_label=multi, eval_split=eval_split, seed=seed, max_folds=max_folds,
                      holdout=X is None)
    say(plan.describe() + (" (held-out scores for calibration)" if eval_data is not None else ""))

    def _heldout(reuse_first: bool) -> tuple[np.ndarray, TextClassifier | None]:
        final: TextClassifier | None = None
        raw = np.zeros((len(data), len(classes)))
        for f in range(plan.k):
            if plan.k > 1:
                say(f"fold {f + 1}/{plan.k}" + (f" (pool learning {method})" if len(candidates) > 1 else ""))
            tr, ev = plan.train_indices(f), plan.folds[f]
            m = _fit(first if reuse_first and not f else make_model(), data.subset(tr),
                     X[tr] if X is not None else None)
            raw[ev] = _raw(m, [data.texts[i] for i in ev], X[ev] if X is not None else None)
            if plan.method == "holdout":
                final = m  # a slow model is not trained twice: the hold-out model is the final one
        return raw, final

    raw, final = _heldout(True)
    rows = plan.eval_indices
    chosen: dict[str, Any] = {}
    if len(candidates) > 1:
        names = np.asarray(classes, dtype=object)
        truth = np.asarray([data.labels[i] for i in rows], dtype=object)
        acc = {method: float((names[raw[rows].argmax(axis=1)] == truth).mean())}
        first_try = (raw, final, method)
        method = candidates[1]
        raw, final = _heldout(False)
        acc[method] = float((names[raw[rows].argmax(axis=1)] == truth).mean())
        if acc[first_try[2]] > acc[method]:  # pool learning only where it wins on the held-out labels
            raw, final, method = first_try
        chosen = {"chosen": method, "heldout_accuracy": {k: round(v, 4) for k, v in acc.items()}}
        say(f"pool learning: {method} (held-out accuracy " + ", ".join(f"{k} {v:.3f}" for k, v in acc.items())
            + ")")
    if final is None:
        say(f"final model on all {len(data)} labeled texts")
        final = _fit(make_model(), data, X)
    n_train = len(data) - (len(rows) if plan.method == "holdout" else 0)
    held = HeldOut(rows, raw[rows], plan.method, plan.k, plan.describe())
    # a model that learned from pool texts is more confident on them than on new traffic: the accuracy estimate and
    # the auto band then read the other half of the sample, which it never saw
    trust = _fit_trust(config, final, frozen or first, data, X, held, others,
                       trust_pool if method != "off" else pool, seed)
    final.attach(trust.calibration, trust.out_of_scope)
    answer = list(final.classes_ or [])
    threshold = final.threshold
    if eval_data is not None:
        say(f"evaluating on {len(eval_data)} texts from the eval file")
        metrics = evaluate_scores(_predict(final, eval_data.texts, None), eval_data.labels, answer,
                                  multi_label=multi, texts=eval_data.texts, threshold=threshold,
                                  thresholds=config.thresholds, model_threshold=model_threshold, other=other,
                                  auto_threshold=trust.metrics["bands"].get("auto"))
        metrics["evaluation"] = {"method": "eval-file", "n_eval": len(eval_data),
                                 "description": f"separate labeled file of {len(eval_data)} texts"}
    else:
        ev_labels = [data.labels[i] for i in rows] + ([(other,) if multi else other] * len(others))
        proba = trust.proba
        if others and trust.out_of_scope is not None:  # annotated Other texts, scored out of fold too
            X_o = _frozen_embed(frozen or first, others)
            p_o = trust.out_of_scope.augment_z(trust.out_of_scope.oof_z_other(X_o),
                                               trust.calibration.transform(_raw(final, others, None if X is None
                                                                               else X_o)))
            proba = np.vstack([proba, p_o])
        metrics = evaluate_scores(proba, ev_labels, answer, multi_label=multi,
                                  texts=[data.texts[i] for i in rows] + others, threshold=threshold,
                                  thresholds=config.thresholds, model_threshold=model_threshold, other=other,
                                  auto_threshold=trust.metrics["bands"].get("auto"))
        metrics["evaluation"] = {"method": plan.method, "n_eval": int(len(rows)) + len(others), "folds": plan.k,
                                 "eval_split": eval_split if plan.method == "holdout" else None,
                                 "description": plan.describe()}
    metrics.update(trust.metrics)
    metrics["heldout_accuracy"] = metrics.get("accuracy")
    _headline(metrics)
    if pseudo:  # the final model's pseudo-labels per language (it is fitted last)
        metrics["language_adaptation"] = {"pseudo_labels": dict(pseudo)}
    if pool_info or chosen:  # the final model's (it is fitted last)
        metrics["pool_learning"] = {**(pool_info if method != "off" else {"method": "off"}), **chosen}
    return final, metrics, n_train


def _frozen_embed(model: TextClassifier, texts: list[str]) -> np.ndarray:
    if isinstance(model, FrozenEncoderClassifier):
        return model.embed(texts)
    raise ModelError("the out-of-scope detector needs a frozen-encoder model for its embeddings")


def _fit_trust(config: ProjectConfig, final: TextClassifier, frozen: TextClassifier, data: TrainingData,
               X: np.ndarray | None, held: HeldOut, others: list[str], pool: PoolSample | None, seed: int) -> Trust:
    """Calibration, out of scope, bands and the accuracy estimate from the held-out scores (:mod:`.trust`)."""
    oos = config.out_of_scope is not None and isinstance(frozen, FrozenEncoderClassifier)
    X_frozen = (X if X is not None else _frozen_embed(frozen, data.texts)) if oos else None
    X_other = _frozen_embed(frozen, others) if oos and others else None
    pool_proba = pool_X = None
    if pool is not None and pool.texts:
        if isinstance(final, FrozenEncoderClassifier):
            pool_X_own = final.embed(pool.texts)
            pool_proba = final._scores_embeddings(pool_X_own)
        else:
            pool_proba = final._scores(pool.texts)
        pool_X = _frozen_embed(frozen, pool.texts) if oos else None
    ids = [data.ids[i] for i in held.rows] if data.ids else []
    audit = np.array([i in (pool.audit_ids if pool else set()) for i in ids], dtype=bool) if ids else \
        np.zeros(len(held.rows), dtype=bool)
    enc = frozen.encoder if isinstance(frozen, FrozenEncoderClassifier) else ""
    fp = frozen.encoder_fingerprint if isinstance(frozen, FrozenEncoderClassifier) else ""
    return fit_trust(config, held, list(data.labels), config.label_names, threshold=final.threshold,
                     X_frozen=X_frozen, X_other=X_other, encoder=enc, encoder_fingerprint=fp,
                     pool_proba=pool_proba, pool_X=pool_X, n_unlabeled=pool.n_unlabeled if pool else 0,
                     audit=audit, n_labeled=len(data), audit_other_share=pool.audit_other_share if pool else None,
                     seed=seed)


def _headline(metrics: dict[str, Any]) -> None:
    """``accuracy`` is the estimate on the traffic when there is one (``accuracy_method`` says how it was obtained
    and on how many texts); the held-out accuracy on the labeled texts stays in ``heldout_accuracy``."""
    est = metrics.get("accuracy_estimate") or {}
    ev = metrics.get("evaluation") or {}
    if ev.get("method") == "eval-file":
        metrics["accuracy_method"] = f"measured on a separate labeled file ({ev.get('n_eval')} texts)"
        metrics["accuracy_n"] = ev.get("n_eval")
    elif est.get("estimate") is not None:
        metrics["accuracy"] = est["estimate"]
        metrics["accuracy_interval"] = [est["low"], est["high"]]
        metrics["accuracy_method"] = (f"estimated on the traffic: calibrated confidence on {est['n_pool']} pool "
                                      f"texts, {est['n_labeled']} labels, {est['n_audit']} of them audit picks "
                                      f"({int(est['level'] * 100)}% interval)")
        metrics["accuracy_n"] = est["n_labeled"]
    else:
        metrics["accuracy_method"] = (f"held out on {ev.get('n_eval')} labeled texts, which the sampler picked: "
                                      "not an estimate of the traffic (too few labels for one)")
        metrics["accuracy_n"] = ev.get("n_eval")


#: Unlabeled pool texts scored for the auto band and the accuracy estimate (a seeded uniform sample): all texts up
#: to this size for models on a frozen encoder (their embeddings are cached), fewer for slow model types.
def _split_pool(pool: PoolSample, seed: int) -> tuple[list[str], PoolSample]:
    """Two disjoint halves of a pool sample: texts to learn from (pseudo-labels) and the sample the accuracy
    estimate and the auto band are measured on."""
    order = np.random.default_rng(seed + 7919).permutation(len(pool.texts))
    learn, keep = np.sort(order[: len(order) // 2]), np.sort(order[len(order) // 2:])
    return ([pool.texts[i] for i in learn],
            PoolSample([pool.texts[i] for i in keep], pool.n_unlabeled, pool.audit_ids, pool.audit_other_share))


POOL_SAMPLE = 5000
POOL_SAMPLE_SLOW = 1000


def pool_sample(project: "Project", exclude: set[str], seed: int, size: int) -> PoolSample:
    """A seeded uniform sample of the unlabeled pool, with the audit picks and the share of "Other" among them."""
    ws, cfg = project.ws, project.config
    labeled = ws.annotations.labeled()
    sample, n_unlabeled = ws.items.draw_texts(size, np.random.default_rng(seed), skip_ids=labeled,
                                              skip_hashes={text_hash(t) for t in exclude})
    audit = ws.batches.audit_item_ids() & set(labeled)
    share = None
    if cfg.oos_label is not None and len(audit) >= MIN_AUDIT_FOR_OOS_SHARE:
        share = sum(cfg.oos_label in labeled[i] for i in audit) / len(audit)
    return PoolSample(sample, n_unlabeled, audit, share)


# -- the entry point -------------------------------------------------------------------------------------------
def _find_model_id(project: "Project", model_type: str, name: str) -> int | None:
    labels = project.config.answer_labels
    for rec in reversed(project.registry.list()):
        if rec.type == model_type and rec.labels == labels and rec.name == name \
                and rec.multi_label == project.config.multi_label:
            return rec.id
    return None


def train_and_register(project: "Project", model_type: str | None = "embedding-head", deploy: bool = True,
                       eval_split: float | None = None, seed: int | None = None, progress: bool = True, *,
                       base: str | None = None, eval_data: TrainingData | None = None, name: str | None = None,
                       model_id: int | None = None, data: TrainingData | None = None, log: Log | None = None,
                       language_adaptation: str | bool | None = None, pool_learning: str | None = None,
                       **hyper: Any) -> TrainResult:
    """Train ``model_type`` on the project's annotations, evaluate it, and register it as a new version.

    The version goes to ``model_id`` if given, else to the project's model of that type and name (one is created
    the first time). ``deploy`` makes it the deployed version and the project's active model. Hyperparameters and
    the seed are recorded with the version. ``base`` overrides the config's encoder. ``language_adaptation``
    (``auto``, ``on`` or ``off``; default: ``training.language_adaptation``) self-trains a single-label
    embedding-head on the unlabeled texts of languages that have few labels (:mod:`.adaptation`).
    ``pool_learning`` (``auto``, ``self``, ``propagation``, ``off``; default: ``training.pool_learning`` when the
    config has it, else :data:`~.semi_supervised.DEFAULT_METHOD`, ``auto``) trains a single-label frozen-encoder
    model on pseudo-labels of the unlabeled pool too (:mod:`.semi_supervised`; ``auto``: where it wins on the
    held-out labels); language adaptation, when it runs, replaces it.
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
    frozen_type = model_spec(model_type).frozen_encoder
    pool_mode, pool_why_not = pool_method(
        pool_learning if pool_learning is not None else getattr(cfg.training, "pool_learning", DEFAULT_METHOD),
        frozen=frozen_type, multi_label=cfg.multi_label, adapting=bool(adapt))
    model, metrics, n_train = fit_and_evaluate(
        make, data, config=cfg, eval_split=eval_split, seed=seed, eval_data=eval_data, model_threshold=threshold,
        max_folds=5 if frozen_type else 3, log=log, adapt=adapt, pool_learning=pool_mode,
        pool=pool_sample(project, exclude, seed, size=POOL_SAMPLE if frozen_type else POOL_SAMPLE_SLOW),
        frozen=None if frozen_type or cfg.out_of_scope is None else build_model(
            "embedding-head", labels=classes, multi_label=cfg.multi_label, encoder=cfg.encoder, seed=seed,
            progress=progress, cache_dir=project.ws.cache_dir))
    seconds = time.perf_counter() - t0
    metrics["train_seconds"] = round(seconds, 2)
    params = {"type": model_type, "encoder": encoder, "seed": seed, "eval_split": eval_split,
              "hyperparameters": {k: v for k, v in hyper.items() if v is not None},
              "model_params": model.get_params(),
              "language_adaptation": adapt_params,
              "pool_learning": {"method": pool_mode, **({"reason": pool_why_not} if pool_why_not else {})}}
    name = name or f"{cfg.project} ({model_type})"
    reg = project.registry
    target = model_id if model_id is not None else _find_model_id(project, model_type, name)
    current = reg.get(target).current if target is not None else None
    metrics["stopping"] = stopping_advice(project, model, (target, current.version) if current else None, metrics,
                                          n_train)
    if target is None:
        target = reg.create_model(name, model_type, list(model.classes_ or []), multi_label=cfg.multi_label,
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
    project.ensure_zero_shot()  # its temperature follows the representative labels (:mod:`.cold_start`)
    return TrainResult(model_id=target, version=version, model_type=model_type, metrics=metrics,
                       training_examples=n_train, eval_method=metrics["evaluation"]["method"], params=params,
                       seconds=seconds, deployed=deploy, model=model)

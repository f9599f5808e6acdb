"""Out of scope ("none of these"): the shipped detector against simple alternatives, in the two protocols of issue 12.

Protocol 1, *out of domain* (``p1``): texts of other datasets mixed into a dataset's test split: TREC questions,
SST-5 reviews and single turns of sgd_conversations (``Customer:``/``Agent:`` prefix stripped, >= 3 words,
de-duplicated, dialogues of the ``Banks`` domain left out: their turns are banking requests), 334 of each from their
test splits (a source that is the dataset itself is left out, so TREC gets no protocol 1).
Protocol 2, *in domain* (``p2``): 25% of the classes are held out as unknown (3 random class splits, the protocol
of Zhang et al. 2021): their training texts are removed, their test texts are the out-of-scope texts.
Both at 10 labeled texts per class (p1: seeds 0-2; p2: the split seed) and on the whole training split.

What runs is the product (``labelf_trainer``), not a prototype:

- ``shipped``: an embedding-head trained through ``loop/trainer.py: fit_and_evaluate`` with ``out_of_scope:
  {label: Other}`` in the project config (p1: the default budget, ``max_accuracy_loss`` 1%; p2: 2%, the goal's loss),
  i.e. k-fold held-out scores -> temperature calibration -> the ``OutOfScope`` detector (kNN-1 distance z +
  lam * -log p_max, threshold from the held-out accuracy budget); the test mix is scored with the returned model's
  ``predict_proba_embeddings`` and counted with ``evaluation/evaluate.py: out_of_scope_metrics``. Other budgets
  (0.5, 1, 2%) are the same ``OutOfScope.fit`` on the same held-out scores (model-level calls; the script checks
  that these calls reproduce the trained model's threshold and scores exactly).
- ``shipped+50 Other`` (p2): annotators labeled 50 texts "Other" (random training texts of the unknown classes);
  they go into ``fit_and_evaluate``'s training data as label Other and become the detector's second reference.
- alternatives on the same held-out scores and budget rule: ``msp`` (reject when the calibrated max probability
  is low: -log p_max > t) and ``knn`` (kNN-1 distance alone: ``OutOfScope.fit`` without model scores).
- ``zero-shot (product)``: the zero-shot model (label descriptions, T = 0.04) as ``loop/cold_start.py:
  attach_zero_shot_trust`` equips it (replicated at model level, since that function needs a workspace): the
  detector ``OutOfScope.fit_unlabeled`` on the label descriptions and a 5,000-text sample of the pool (every
  training text, labeled or not; p1 with out-of-scope training texts at the test mix's share), and the temperature
  re-fitted by ``refit_temperature`` from the labels (an imported sample: no sampler picked them).
  ``zero-shot+labels``: the zero-shot model with the labeled-text detector that ``loop/trust.py: fit_trust`` fits
  for trained models, on its scores of the labeled texts (held out: it never trained on them); not a product path.

Reported per row: in-scope accuracy after rejection (a rejected in-scope text is wrong), its loss against the same
model without the detector (points), out-of-scope recall and precision (of the "Other" answers), AUROC of the
out-of-scope score. The auto band (``metrics.bands`` of the shipped model, target precision 0.9) is measured on the
whole test mix (in scope + out of scope; an in-scope text answered Other and an out-of-scope text answered with a
label are wrong). For the band the unlabeled pool (the traffic the product sees) is a uniform sample of 2,000
unlabeled training texts, in p1 with texts of the other datasets' *training* splits mixed in at the test mix's
share, in p2 including the unknown classes' texts; on full data there is no unlabeled pool.

Usage:
    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 LABELF_BENCH_CACHE=/work/cache .venv/bin/python benchmarks/out_of_scope.py
    .venv/bin/python benchmarks/out_of_scope.py --datasets banking77 --protocols p2 --sizes 10
    .venv/bin/python benchmarks/out_of_scope.py --readme-only

Each (protocol, size, seed) is saved to results/out_of_scope.json as it finishes (an interrupted run resumes);
a run covering fewer of them than published goes to results/out_of_scope.partial.json unless --publish.
"""

from __future__ import annotations

import argparse
import os
import re
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import common
import numpy as np
from common import RESULTS
from trust_common import (
    TARGET,
    band,
    fmt,
    mean_max,
    oracle_coverage,
    pool_sample,
    product_version,
    project_config,
)

NAME = "out_of_scope"
DEFAULT_DATASETS = ("banking77", "bitext_customer_support", "trec")
PROTOCOLS = ("p1", "p2")
SOURCES = ("trec", "sst5", "sgd_conversations")
N_PER_SOURCE = 334
N_OOD_TRAIN = 600  # per source, from the training splits: the pool's out-of-scope share (p1)
POOL_IN_SCOPE = 2000
UNKNOWN_SHARE = 0.25
N_OTHER = 50
OTHER = "Other"
BUDGETS = (0.005, 0.01, 0.02)
SIZES = {"10": 10, "full": None}
SEEDS = {("p1", "10"): (0, 1, 2), ("p1", "full"): (0,), ("p2", "10"): (0, 1, 2), ("p2", "full"): (0, 1, 2)}
SHIPPED_BUDGET = {"p1": 0.01, "p2": 0.02}
#: goal: (recall at least, in-scope loss at most in points)
GOALS = {"p1": (0.95, 1.0), "p2": (0.70, 2.0)}
ENCODER = "minilm"
_PREFIX = re.compile(r"^(Customer|Agent):\s*")


# -- data -----------------------------------------------------------------------------------------------------
def sgd_turns(split: str) -> list[str]:
    """Single turns of sgd_conversations: prefix stripped, >= 3 words, de-duplicated, no ``Banks`` dialogues."""
    ds = common.load_dataset("sgd_conversations")
    seen, out = set(), []
    for text, labels in zip(ds.texts(split), ds.labels(split)):
        if "Banks" in labels:
            continue
        for line in text.split("\n"):
            t = _PREFIX.sub("", line).strip()
            if len(t.split()) >= 3 and t not in seen:
                seen.add(t)
                out.append(t)
    return out


_ood: dict[tuple, tuple[list[str], np.ndarray]] = {}


def ood_texts(split: str, n: int, seed: int) -> tuple[list[str], np.ndarray]:
    """``n`` texts of each source (TREC, SST-5, SGD turns) from ``split``, and the source of each."""
    key = (split, n, seed)
    if key not in _ood:
        rng = np.random.default_rng(seed)
        texts, src = [], []
        for name in SOURCES:
            pool = sgd_turns(split) if name == "sgd_conversations" else common.load_dataset(name).texts(split)
            pick = rng.choice(len(pool), size=min(n, len(pool)), replace=False)
            texts += [pool[i] for i in pick]
            src += [name] * len(pick)
        _ood[key] = (texts, np.array(src))
    return _ood[key]


def sample_rows(labels: list[str], per_class: int | None, seed: int) -> np.ndarray:
    """Row indices of ``common.sample_per_class`` (``per_class`` of every label, seeded; None: all)."""
    import pandas as pd

    if per_class is None:
        return np.arange(len(labels))
    df = pd.DataFrame({"label": labels, "_row": np.arange(len(labels))})
    return np.sort(common.sample_per_class(df, per_class, seed)["_row"].to_numpy())


def unknown_classes(classes: list[str], split: int) -> list[str]:
    """The classes held out in protocol 2's class split ``split`` (25%, seeded as in the research)."""
    rng = np.random.default_rng(100 + split)
    n_out = round(UNKNOWN_SHARE * len(classes))
    return [classes[i] for i in np.sort(rng.choice(len(classes), n_out, replace=False))]


# -- metrics --------------------------------------------------------------------------------------------------
def rejection_metrics(reject_in: np.ndarray, reject_out: np.ndarray, right_in: np.ndarray, score_in: np.ndarray,
                      score_out: np.ndarray, src_out: np.ndarray | None = None) -> dict:
    """In-scope accuracy after rejection, its loss, out-of-scope recall / precision, AUROC of the score."""
    from sklearn.metrics import roc_auc_score

    acc0 = float(right_in.mean())
    acc = float((right_in & ~reject_in).mean())
    n_rej = int(reject_in.sum() + reject_out.sum())
    out = {"accuracy_without": round(acc0, 4), "in_scope_accuracy": round(acc, 4),
           "loss_points": round(100 * (acc0 - acc), 2), "recall": round(float(reject_out.mean()), 4),
           "precision": round(float(reject_out.sum() / n_rej), 4) if n_rej else None,
           "in_scope_rejected": round(float(reject_in.mean()), 4),
           "auroc": round(float(roc_auc_score(np.r_[np.zeros(len(score_in)), np.ones(len(score_out))],
                                              np.r_[score_in, score_out])), 4)}
    if src_out is not None:
        out["recall_by_source"] = {s: round(float(reject_out[src_out == s].mean()), 4) for s in np.unique(src_out)}
    return out


def augmented_rows(P_in: np.ndarray, P_out: np.ndarray, y_in: np.ndarray, src_out: np.ndarray | None) -> dict:
    """Metrics of scores with the "Other" column last (the product's output): Other is the top label = rejected."""
    C = P_in.shape[1] - 1
    right_in = P_in[:, :C].argmax(axis=1) == y_in
    out = rejection_metrics(P_in.argmax(axis=1) == C, P_out.argmax(axis=1) == C, right_in, _margin(P_in),
                            _margin(P_out), src_out)
    from sklearn.metrics import roc_auc_score

    out["auroc_other_column"] = round(float(roc_auc_score(np.r_[np.zeros(len(P_in)), np.ones(len(P_out))],
                                                          np.r_[P_in[:, C], P_out[:, C]])), 4)
    return out


def _margin(P: np.ndarray) -> np.ndarray:
    """How far "Other" (last column) is above the best label: log P(Other) - log max P(label). For the shipped
    detector this is (z + lam * -log p_max - t) / lam, the decision score itself; the "Other" column alone ranks
    by the distance z only (what ``labelf evaluate``'s AUROC reads)."""
    P = np.clip(np.asarray(P, dtype=np.float64), 1e-300, 1.0)
    return np.log(P[:, -1]) - np.log(P[:, :-1].max(axis=1))


def band_on_mix(P_in: np.ndarray, P_out: np.ndarray, y_in: np.ndarray, threshold: float | None) -> dict:
    """The auto band measured on the test mix (an out-of-scope text is right only when answered Other)."""
    C = P_in.shape[1] - 1
    P = np.vstack([P_in, P_out])
    truth = np.r_[y_in, np.full(len(P_out), C)]
    conf, correct = P.max(axis=1), P.argmax(axis=1) == truth
    return {**band(conf, correct, threshold), "oracle": oracle_coverage(conf, correct, TARGET),
            "oos_share": round(len(P_out) / len(P), 4)}


# -- one unit: (protocol, size, seed) -------------------------------------------------------------------------
def run_unit(ds: common.Dataset, protocol: str, size: str, seed: int, X_train: np.ndarray, X_test: np.ndarray) -> dict:
    from labelf_trainer.data import TrainingData
    from labelf_trainer.evaluation.evaluate import out_of_scope_metrics
    from labelf_trainer.evaluation.splits import plan_split
    from labelf_trainer.loop import cold_start
    from labelf_trainer.loop.trainer import build_model, fit_and_evaluate
    from labelf_trainer.loop.trust import HeldOut, fit_trust
    from labelf_trainer.models.calibration import MIN_LABELS, refit_temperature
    from labelf_trainer.models.out_of_scope import OutOfScope, choose_threshold
    from labelf_trainer.models.zero_shot import ZeroShotClassifier

    t0 = time.perf_counter()
    train_labels, test_labels = ds.labels("train"), ds.labels("test")
    train_texts, test_texts = ds.texts("train"), ds.texts("test")
    rng = np.random.default_rng(seed)
    src_out = None
    X_other, other_texts = None, []
    if protocol == "p1":
        classes = list(ds.classes)
        cand = np.arange(len(train_labels))
        ood, src = ood_texts("test", N_PER_SOURCE, 0)
        keep = src != ds.name
        out_texts, src_out = [t for t, k in zip(ood, keep) if k], src[keep]
        X_out = common.embed(out_texts, ENCODER, description="out-of-scope test texts")
        in_rows = np.arange(len(test_labels))
    else:
        unknown = unknown_classes(list(ds.classes), seed)
        classes = [c for c in ds.classes if c not in unknown]
        cand = np.array([i for i, lab in enumerate(train_labels) if lab not in unknown])
        unk_train = np.array([i for i, lab in enumerate(train_labels) if lab in unknown])
        in_rows = np.array([i for i, lab in enumerate(test_labels) if lab not in unknown])
        out_rows = np.array([i for i, lab in enumerate(test_labels) if lab in unknown])
        out_texts = [test_texts[i] for i in out_rows]
        X_out = X_test[out_rows]
        o_rows = np.sort(rng.choice(unk_train, size=N_OTHER, replace=False))
        other_texts, X_other = [train_texts[i] for i in o_rows], X_train[o_rows]
    index = {c: i for i, c in enumerate(classes)}
    lab_rows = cand[sample_rows([train_labels[i] for i in cand], SIZES[size], seed)]
    labels = [train_labels[i] for i in lab_rows]
    X = X_train[lab_rows]
    y = np.array([index[v] for v in labels])
    X_in, y_in = X_test[in_rows], np.array([index[test_labels[i]] for i in in_rows])
    X_mix = np.vstack([X_in, X_out])
    n_in = len(X_in)
    truth_mix = [test_labels[i] for i in in_rows] + [OTHER] * len(X_out)

    # the pool (traffic) for the auto band: unlabeled training texts (+ out-of-scope texts at the test share, p1)
    pool = None
    unl = np.setdiff1d(np.arange(len(train_labels)), lab_rows)
    if protocol == "p2":
        unl = np.setdiff1d(unl, o_rows)
    if size != "full" and len(unl):
        pick = np.sort(rng.choice(unl, size=min(POOL_IN_SCOPE, len(unl)), replace=False))
        pool_texts = [train_texts[i] for i in pick]
        pool_X = X_train[pick]
        if protocol == "p1":
            ood_tr, src_tr = ood_texts("train", N_OOD_TRAIN, 1)
            ood_tr = [t for t, s in zip(ood_tr, src_tr) if s != ds.name]
            share = len(X_out) / (len(X_out) + n_in)
            n_o = min(round(share / (1 - share) * len(pool_texts)), len(ood_tr))
            o_pick = np.sort(rng.choice(len(ood_tr), size=n_o, replace=False))
            pool_texts += [ood_tr[i] for i in o_pick]
            pool_X = np.vstack([pool_X, common.embed([ood_tr[i] for i in o_pick], ENCODER,
                                                     description="out-of-scope pool texts")])
        pool = pool_sample(pool_texts, len(pool_texts), seed)
    else:
        pool_X = None

    def make():
        return build_model("embedding-head", labels=classes, multi_label=False, encoder=ENCODER, seed=seed,
                           progress=False, cache_dir=common.cache_root())

    budget0 = SHIPPED_BUDGET[protocol]
    cfg = project_config(classes, ds.descriptions, out_of_scope={"label": OTHER, "max_accuracy_loss": budget0})
    rows: dict[str, dict] = {}
    timing: dict[str, float] = {}

    # 1. the product path: fit_and_evaluate with out_of_scope configured
    t = time.perf_counter()
    data = TrainingData([train_texts[i] for i in lab_rows], labels, [str(i) for i in lab_rows])
    final, metrics, _ = fit_and_evaluate(make, data, config=cfg, eval_split=0.2, seed=seed, pool=pool)
    timing["fit_and_evaluate"] = round(time.perf_counter() - t, 1)
    P_mix = final.predict_proba_embeddings(X_mix)
    assert final.classes_[-1] == OTHER
    product = out_of_scope_metrics(P_mix, truth_mix, final.classes_, OTHER, multi_label=False)
    shipped = augmented_rows(P_mix[:n_in], P_mix[n_in:], y_in, src_out)
    shipped["product_metrics"] = product
    shipped["threshold"] = round(float(final.out_of_scope_.threshold_), 4)
    shipped["heldout"] = final.out_of_scope_.info_
    shipped["temperature"] = final.calibration_.to_json().get("temperature")
    bands = metrics.get("bands", {})
    shipped["band"] = {"recommended": {k: bands.get(k) for k in ("auto", "expected_precision", "expected_coverage",
                                                                 "reached", "reason", "assumed",
                                                                 "disables_rejection")},
                       "measured": band_on_mix(P_mix[:n_in], P_mix[n_in:], y_in, bands.get("auto"))}
    rows[f"shipped@{budget0}"] = shipped

    # 2. the same held-out scores, replicated with the product's split (to run the alternatives on them)
    t = time.perf_counter()
    plan = plan_split(labels, multi_label=False, eval_split=0.2, seed=seed, max_folds=5, holdout=False)
    raw = np.zeros((len(labels), len(classes)))
    for f in range(plan.k):
        tr, ev = plan.train_indices(f), plan.folds[f]
        raw[ev] = make().fit_embeddings(X[tr], [labels[i] for i in tr])._scores_embeddings(X[ev])
    held = plan.eval_indices
    proba_h = final.calibration_.transform(raw[held])
    credit = (proba_h.argmax(axis=1) == y[held]).astype(float)
    cal_mix = final.calibration_.transform(final._scores_embeddings(X_mix))
    timing["replicate_folds"] = round(time.perf_counter() - t, 1)
    right_in = cal_mix[:n_in].argmax(axis=1) == y_in

    def detector(budget: float, *, use_model: bool = True, x_other=None) -> OutOfScope:
        return OutOfScope(OTHER, encoder=ENCODER, multi_label=False, max_accuracy_loss=budget, seed=seed).fit(
            X, labels, oof_proba=proba_h if use_model else None, oof_credit=credit, X_other=x_other, rows=held)

    check = detector(budget0)
    P_check = check.augment(X_mix, cal_mix)
    replication = {"threshold_equal": bool(abs(check.threshold_ - final.out_of_scope_.threshold_) < 1e-9),
                   "max_score_difference": float(np.abs(P_check - P_mix).max())}
    shipped["replication"] = replication

    nlp_mix = -np.log(np.clip(cal_mix.max(axis=1), 1e-12, 1.0))
    nlp_h = -np.log(np.clip(proba_h.max(axis=1), 1e-12, 1.0))
    for b in BUDGETS:
        if b != budget0:
            P = detector(b).augment(X_mix, cal_mix)
            rows[f"shipped@{b}"] = {**augmented_rows(P[:n_in], P[n_in:], y_in, src_out)}
        t_msp = choose_threshold(nlp_h, credit, b)
        rej = nlp_mix > t_msp
        rows[f"msp@{b}"] = {**rejection_metrics(rej[:n_in], rej[n_in:], right_in, nlp_mix[:n_in], nlp_mix[n_in:],
                                                src_out), "threshold": round(float(t_msp), 4)}
        kd = detector(b, use_model=False)
        z = kd.z_score(X_mix)
        rej = z > kd.threshold_
        rows[f"knn@{b}"] = {**rejection_metrics(rej[:n_in], rej[n_in:], right_in, z[:n_in], z[n_in:], src_out),
                            "threshold": round(float(kd.threshold_), 4)}
        if X_other is not None:
            P = detector(b, x_other=X_other).augment(X_mix, cal_mix)
            rows[f"shipped+{N_OTHER}other@{b}"] = augmented_rows(P[:n_in], P[n_in:], y_in, src_out)

    # 3. annotators' Other texts through the product path (p2)
    if X_other is not None:
        t = time.perf_counter()
        data_o = TrainingData(data.texts + other_texts, data.labels + [OTHER] * len(other_texts),
                              data.ids + [f"other{i}" for i in range(len(other_texts))])
        final_o, metrics_o, _ = fit_and_evaluate(make, data_o, config=cfg, eval_split=0.2, seed=seed, pool=pool)
        timing["fit_and_evaluate_other"] = round(time.perf_counter() - t, 1)
        P_o = final_o.predict_proba_embeddings(X_mix)
        r = augmented_rows(P_o[:n_in], P_o[n_in:], y_in, src_out)
        r["product_metrics"] = out_of_scope_metrics(P_o, truth_mix, final_o.classes_, OTHER, multi_label=False)
        r["replication"] = {"max_score_difference_vs_model_level": float(np.abs(
            detector(budget0, x_other=X_other).augment(X_mix, cal_mix) - P_o).max())}
        bands_o = metrics_o.get("bands", {})
        r["band"] = {"recommended": {k: bands_o.get(k) for k in ("auto", "expected_precision", "reached",
                                                                 "assumed")},
                     "measured": band_on_mix(P_o[:n_in], P_o[n_in:], y_in, bands_o.get("auto"))}
        rows[f"shipped+{N_OTHER}other@{budget0}"] = r

    # 4. the auto band with the true out-of-scope share (what the product uses once audit labels measure it)
    if pool is not None:
        share = len(X_out) / len(X_mix)
        cfg_true = project_config(classes, ds.descriptions, out_of_scope={"label": OTHER, "max_accuracy_loss": budget0,
                                                                          "expected_share": round(share, 4)})
        tr_true = fit_trust(cfg_true, HeldOut(held, raw[held], plan.method, plan.k, plan.describe()), labels, classes,
                            threshold=0.5, X_frozen=X, X_other=None, encoder=ENCODER,
                            encoder_fingerprint=final.encoder_fingerprint,
                            pool_proba=final._scores_embeddings(pool_X), pool_X=pool_X, n_unlabeled=len(pool.texts),
                            audit=np.zeros(len(held), dtype=bool), n_labeled=len(labels), audit_other_share=None,
                            seed=seed)
        b_true = tr_true.metrics["bands"]
        shipped["band_true_share"] = {"recommended": {k: b_true.get(k) for k in ("auto", "expected_precision",
                                                                                 "reached", "assumed")},
                                      "measured": band_on_mix(P_mix[:n_in], P_mix[n_in:], y_in, b_true.get("auto"))}

    # 5. zero-shot as the product runs it (loop/cold_start.py: attach_zero_shot_trust, replicated at model level: it
    #    needs a workspace): the detector from the label descriptions and the pool (all texts, labeled or not), the
    #    temperature re-fitted (likelihood-ratio test) from the labels (an imported sample: no sampler picked them)
    t = time.perf_counter()
    specs = cfg.labels
    zs = ZeroShotClassifier(specs, encoder=ENCODER).use_cache(common.cache_root(), progress=False).fit()
    raw_zs = zs._scores_embeddings(X)
    cs_rng = np.random.default_rng(1000 + seed)
    cand = np.arange(len(train_labels))  # p2: the unknown classes' texts are in the traffic too
    n_cs = min(cold_start.POOL_SAMPLE, len(cand))
    cs_X = X_train[np.sort(cs_rng.choice(cand, size=n_cs, replace=False))]
    if protocol == "p1":  # out-of-scope texts at the test mix's share (as many as the training pools hold)
        ood_tr, src_tr = ood_texts("train", N_OOD_TRAIN, 1)
        ood_tr = [t_ for t_, s_ in zip(ood_tr, src_tr) if s_ != ds.name]
        share = len(X_out) / len(X_mix)
        n_cs = min(n_cs, int(len(ood_tr) * (1 - share) / share))
        n_o = round(share / (1 - share) * n_cs)
        o_pick = np.sort(cs_rng.choice(len(ood_tr), size=n_o, replace=False))
        cs_X = np.vstack([cs_X[:n_cs], common.embed([ood_tr[i] for i in o_pick], ENCODER,
                                                    description="out-of-scope pool texts")])
    refit = refit_temperature(raw_zs, y) if len(y) >= MIN_LABELS else None
    oos_cs = OutOfScope(OTHER, encoder=ENCODER, encoder_fingerprint=zs.encoder_fingerprint).fit_unlabeled(
        zs.prototypes_, cs_X, cold_start.reject_share(cfg.out_of_scope.expected_share))
    zs.attach(refit, oos_cs)
    P_cs = zs.predict_proba_embeddings(X_mix)
    r = augmented_rows(P_cs[:n_in], P_cs[n_in:], y_in, src_out)
    z_cs = oos_cs.z_score(X_mix)  # decided on the distance alone (z > t): its AUROC is the distance's
    r["auroc"] = rejection_metrics(z_cs[:n_in] > oos_cs.threshold_, z_cs[n_in:] > oos_cs.threshold_, right_in,
                                   z_cs[:n_in], z_cs[n_in:])["auroc"]
    r["detector"] = oos_cs.info_
    r["temperature_factor"] = refit.temperature if refit is not None else None
    r["pool"] = len(cs_X)
    rows["zero-shot (product)"] = r

    # the zero-shot model with the labeled-text detector, as fit_trust fits it for trained models (not a product
    # path for zero-shot: how much the labels would add)
    zs2 = ZeroShotClassifier(specs, encoder=ENCODER).use_cache(common.cache_root(), progress=False).fit()
    tr_zs = fit_trust(cfg, HeldOut(np.arange(len(labels)), raw_zs, "zero-shot", 0, "zero-shot scores of the labels"),
                      labels, classes, threshold=0.5, X_frozen=X, X_other=None, encoder=ENCODER,
                      encoder_fingerprint=zs2.encoder_fingerprint,
                      pool_proba=zs2._scores_embeddings(pool_X) if pool_X is not None else None, pool_X=pool_X,
                      n_unlabeled=len(pool.texts) if pool else 0, audit=np.zeros(len(labels), dtype=bool),
                      n_labeled=len(labels), audit_other_share=None, seed=seed)
    zs2.attach(tr_zs.calibration, tr_zs.out_of_scope)
    P_zs = zs2.predict_proba_embeddings(X_mix)
    r = augmented_rows(P_zs[:n_in], P_zs[n_in:], y_in, src_out)
    r["temperature"] = tr_zs.calibration.to_json().get("temperature")
    r["threshold"] = round(float(tr_zs.out_of_scope.threshold_), 4)
    r["band"] = {"recommended": {k: tr_zs.metrics["bands"].get(k) for k in ("auto", "expected_precision", "reached")},
                 "measured": band_on_mix(P_zs[:n_in], P_zs[n_in:], y_in, tr_zs.metrics["bands"].get("auto"))}
    rows[f"zero-shot+labels@{budget0}"] = r
    timing["zero_shot"] = round(time.perf_counter() - t, 1)
    return {"protocol": protocol, "size": size, "seed": seed, "n_labeled": len(labels), "n_classes": len(classes),
            "n_in_scope_test": n_in, "n_out_of_scope_test": len(X_out),
            "unknown": [c for c in ds.classes if c not in classes] if protocol == "p2" else None,
            "n_pool": len(pool.texts) if pool else 0, "rows": rows, "timing": timing,
            "seconds": round(time.perf_counter() - t0, 1), "product": product_version()}


# -- summary, README, plot ------------------------------------------------------------------------------------
def summarize(doc: dict) -> list[dict]:
    """Mean / worst over seeds per (dataset, protocol, size, method)."""
    out = []
    blocks = doc.get("datasets", {})
    for key in [d for d in DEFAULT_DATASETS if d in blocks] + sorted(set(blocks) - set(DEFAULT_DATASETS)):
        block = blocks[key]
        groups: dict[tuple, list[dict]] = {}
        for unit in block.get("rows", {}).values():
            for method, r in unit["rows"].items():
                groups.setdefault((unit["protocol"], unit["size"], method), []).append(r)
        for (protocol, size, method), rs in groups.items():
            rec = mean_max([r["recall"] for r in rs])
            loss = mean_max([r["loss_points"] for r in rs])
            s = {"dataset": key, "protocol": protocol, "size": size, "method": method, "n": len(rs),
                 "recall": rec[0], "recall_min": rec[1], "loss": loss[0], "loss_max": loss[2],
                 "precision": mean_max([r["precision"] for r in rs])[0],
                 "auroc": mean_max([r["auroc"] for r in rs])[0],
                 "in_acc": mean_max([r["in_scope_accuracy"] for r in rs])[0],
                 "acc0": mean_max([r["accuracy_without"] for r in rs])[0]}
            if any("band" in r for r in rs):
                s["band"] = [r.get("band") for r in rs]
                s["band_true"] = [r.get("band_true_share") for r in rs]
            out.append(s)
    return out


def _find(summary, **kw):
    return [s for s in summary if all(s[k] == v for k, v in kw.items())]


def _met(s: dict, protocol: str) -> str:
    rec, loss = GOALS[protocol]
    ok = s["recall"] >= rec and s["loss"] <= loss + 1e-9
    worst = s["recall_min"] >= rec and s["loss_max"] <= loss + 1e-9
    return ("**met**" + ("" if worst or s["n"] == 1 else " on average (not every run)")) if ok else "not met"


METHOD_NAMES = {"shipped": "**shipped** (kNN-1 + λ·−log p_max)", "msp": "max probability",
                "knn": "kNN-1 distance alone",
                f"shipped+{N_OTHER}other": f"shipped + {N_OTHER} annotated Other",
                "zero-shot (product)": "zero-shot as shipped (distance to the label descriptions, cold start)",
                "zero-shot+labels": "zero-shot + the labeled-text detector (not a product path)"}


def _label(method: str) -> str:
    name, _, b = method.partition("@")
    return METHOD_NAMES.get(name, name) + (f", budget {float(b) * 100:g}%" if b else "") + \
        (" (default)" if name == "shipped" and b and float(b) == 0.01 else "")


def goal_table(summary: list[dict], protocol: str, methods: list[str]) -> str:
    rec, loss = GOALS[protocol]
    lines = [("| dataset | size | detector | runs | OOS recall (worst) | in-scope loss, pts (worst) | "
             "in-scope accuracy (without → with) | OOS precision | AUROC | goal |"),
             "|---|---|---|---|---|---|---|---|---|---|"]
    for ds in dict.fromkeys(s["dataset"] for s in summary if s["protocol"] == protocol):
        for size in ("10", "full"):
            for m in methods:
                for s in _find(summary, dataset=ds, protocol=protocol, size=size, method=m):
                    lines.append(
                        f"| {ds} | {'10/class' if size == '10' else 'full'} | {_label(m)} | {s['n']} | "
                        f"{fmt(s['recall'], 3)} ({fmt(s['recall_min'], 2)}) | {s['loss']:.2f} ({s['loss_max']:.2f}) | "
                        f"{fmt(s['acc0'])} → {fmt(s['in_acc'])} | {fmt(s['precision'], 2)} | {fmt(s['auroc'])} | "
                        f"{_met(s, protocol)} |")
    return "\n".join(lines) + f"\n\nGoal: recall ≥ {rec} at ≤ {loss:g} point(s) of in-scope accuracy (mean over runs)."


def band_table(summary: list[dict]) -> str:
    lines = [("| protocol | dataset | size | model | auto threshold (expected precision) | measured precision on the "
             "test mix | coverage | best coverage at 0.9 | with the true OOS share: threshold → precision, coverage |"),
             "|---|---|---|---|---|---|---|---|---|"]
    for s in summary:
        if "band" not in s:
            continue
        bs = [b for b in s["band"] if b]
        if not bs:
            continue
        thr = [b["recommended"].get("auto") for b in bs]
        exp = [b["recommended"].get("expected_precision") for b in bs]
        prec = [b["measured"]["precision"] for b in bs]
        cov = [b["measured"]["coverage"] for b in bs]
        orc = [b["measured"]["oracle"]["coverage"] for b in bs]
        tt = [b for b in (s.get("band_true") or []) if b]
        true_cell = "–"
        if tt:
            tp = [b["measured"]["precision"] for b in tt]
            true_cell = (f"{'/'.join(fmt(b['recommended'].get('auto'), 2) for b in tt)} → "
                         f"{'/'.join(fmt(p, 3) for p in tp)}, "
                         f"{'/'.join(fmt(b['measured']['coverage'], 2) for b in tt)}")
        lines.append(f"| {s['protocol']} | {s['dataset']} | {'10/class' if s['size'] == '10' else 'full'} | "
                     f"{_label(s['method'])} | {'/'.join(fmt(t, 2) if t is not None else 'off' for t in thr)} "
                     f"({'/'.join(fmt(e, 3) for e in exp)}) | {'/'.join(fmt(p, 3) for p in prec)} | "
                     f"{'/'.join(fmt(c, 2) for c in cov)} | {'/'.join(fmt(c, 2) for c in orc)} | {true_cell} |")
    return "\n".join(lines)


def plot(summary: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    protocols = [p for p in PROTOCOLS if any(s["protocol"] == p for s in summary)]
    if not protocols:
        return
    per = {p: list(dict.fromkeys(s["dataset"] for s in summary if s["protocol"] == p)) for p in protocols}
    ncol = max(len(v) for v in per.values())
    fig, axes = plt.subplots(len(protocols), ncol, figsize=(4.6 * ncol, 4.0 * len(protocols)), squeeze=False)
    colors = {"shipped": "#4C72B0", "msp": "#DD8452", "knn": "#55A868", f"shipped+{N_OTHER}other": "#8172B3",
              "zero-shot+labels": "#C44E52"}
    for i, protocol in enumerate(protocols):
        for j in range(ncol):
            ax = axes[i][j]
            if j >= len(per[protocol]):
                ax.set_axis_off()
                continue
            ds = per[protocol][j]
            for name, color in colors.items():
                for size, style in (("10", "-o"), ("full", "--s")):
                    pts = sorted((float(s["method"].split("@")[1]), s["loss"], s["recall"]) for s in summary
                                 if s["protocol"] == protocol and s["dataset"] == ds and s["size"] == size
                                 and s["method"].split("@")[0] == name and "@" in s["method"])
                    if pts:
                        ax.plot([p[1] for p in pts], [p[2] for p in pts], style, color=color, ms=4,
                                label=f"{name} {'10/class' if size == '10' else 'full'}")
            rec, loss = GOALS[protocol]
            ax.axhline(rec, color="grey", lw=0.8, ls=":")
            ax.axvline(loss, color="grey", lw=0.8, ls=":")
            ax.set_title(f"{protocol} ({'out of domain' if protocol == 'p1' else 'in domain'}): {ds}", fontsize=9)
            ax.set_xlabel("in-scope accuracy loss (points)", fontsize=8)
            ax.set_ylabel("out-of-scope recall", fontsize=8)
            ax.set_ylim(0, 1.02)
            ax.set_xlim(left=0)
    handles: dict = {}
    for ax in axes.ravel():
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    spare = [ax for row, p in zip(axes, protocols) for ax in row[len(per[p]):]]
    if spare:
        spare[0].legend(handles.values(), handles.keys(), fontsize=8, loc="center")
    else:
        fig.legend(handles.values(), handles.keys(), fontsize=7, loc="lower center", ncol=5)
    fig.suptitle("Out of scope: recall vs in-scope loss, mean over runs, budgets 0.5 / 1 / 2% (zero-shot: its one "
                 "budget); the goal is the upper-left corner of the dotted lines", fontsize=10)
    fig.tight_layout()
    fig.savefig(RESULTS / f"{NAME}.png", dpi=110)
    plt.close(fig)




def section(doc: dict) -> str:
    summary = summarize(doc)
    products = sorted({u.get("product", "?") for b in doc.get("datasets", {}).values() for u in b["rows"].values()})
    p1 = [f"shipped@{SHIPPED_BUDGET['p1']}", "shipped@0.005", "msp@0.01", "knn@0.01", "zero-shot (product)",
          "zero-shot+labels@0.01"]
    p2 = [f"shipped@{SHIPPED_BUDGET['p2']}", "shipped@0.01", f"shipped+{N_OTHER}other@0.02", "msp@0.02", "knn@0.02",
          "zero-shot (product)", "zero-shot+labels@0.02"]
    notes_file = RESULTS / f"{NAME}_notes.md"  # written by hand from the figures: where each method loses
    notes = notes_file.read_text(encoding="utf-8").strip() if notes_file.is_file() else ""
    return (
        "## Out of scope (`benchmarks/out_of_scope.py`)\n\n"
        "The product's \"Other\" label (`models/out_of_scope.py`, fitted by `loop/trainer.py: fit_and_evaluate` "
        "with `out_of_scope: {label: Other}` in the config) on all-MiniLM-L6-v2 embeddings, against a "
        "max-probability threshold and the kNN-1 distance alone on the same held-out scores and the same accuracy "
        "budget rule, and the zero-shot model (as shipped: distance to the label descriptions; and with the "
        "labeled-text detector). *Protocol 1 (out of domain)*: 334 TREC "
        "questions, 334 SST-5 reviews and 334 single turns of sgd_conversations mixed into the test split. "
        "*Protocol 2 (in domain)*: 25% of the classes held out as unknown, 3 random class splits (Zhang et al. "
        "2021). 10 labels per class (3 seeds / splits) and the full training split (p1: 1 run, p2: 3 splits). "
        "Loss = in-scope accuracy of the same model without the detector minus with it (a rejected in-scope text "
        "counts as wrong); recall and precision of the \"Other\" answers; AUROC of the out-of-scope score. "
        "*Budget* = the `max_accuracy_loss` the threshold is chosen for on held-out labeled texts (default 1%; "
        f"protocol 2's shipped row sets 2%, the goal's loss). Product version: {', '.join(products)}.\n\n"
        "### Protocol 1: out of domain\n\n" + goal_table(summary, "p1", p1) + "\n\n"
        "### Protocol 2: in domain (25% of the classes unknown)\n\n" + goal_table(summary, "p2", p2) + "\n\n"
        "### The auto band on traffic with out-of-scope texts (target precision 0.9)\n\n"
        "`metrics.bands.auto` of the trained model (`evaluation/thresholds.py: choose_auto_threshold`, with the "
        "config's default `expected_share` 0.1 of out-of-scope traffic and the assumed detector miss rate 0.5), "
        "measured on the whole test mix; one value per run (seeds / splits). The last column re-fits the band "
        "with the true out-of-scope share of the mix (as the product does once ≥ 30 audit labels measure it). "
        "Full-data rows have no unlabeled pool.\n\n" + band_table(summary) + "\n\n"
        + (notes + "\n\n" if notes else "")
        + f"![out of scope: recall vs loss](results/{NAME}.png)\n\n"
        "Raw figures per run (recall by source, thresholds, timing, the check that the model-level calls "
        f"reproduce the trained model): `results/{NAME}.json`. Reproduce: `HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 "
        f".venv/bin/python benchmarks/{NAME}.py`.\n")


# -- main -----------------------------------------------------------------------------------------------------
def plan(datasets: list[common.DatasetSpec], protocols: list[str], sizes: list[str]) -> list[tuple]:
    out = []
    for spec in datasets:
        for protocol in protocols:
            if protocol == "p1" and spec.name in SOURCES:  # it is one of the out-of-scope sources
                continue
            for size in sizes:
                for seed in SEEDS[(protocol, size)]:
                    out.append((spec, protocol, size, seed))
    return out


def unit_key(protocol: str, size: str, seed: int) -> str:
    return f"{protocol}/{size}/{'seed' if protocol == 'p1' else 'split'}{seed}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common.add_dataset_args(ap, list(DEFAULT_DATASETS))
    ap.add_argument("--protocols", nargs="+", choices=PROTOCOLS, default=list(PROTOCOLS))
    ap.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES))
    ap.add_argument("--readme-only", action="store_true", help="rebuild the plot and README section from the JSON")
    common.add_publish_args(ap, tag=False)
    args = ap.parse_args()
    common.apply_common_args(args)
    if not args.readme_only:
        for spec, protocol, size, seed in plan(args.datasets, args.protocols, args.sizes):
            ds = common.load_dataset(spec)
            if ds.multi_label:
                raise SystemExit(f"{ds.key}: out_of_scope.py runs single-label datasets")
            # units are independent and deterministic: a run of other units adds to the published ones (resumes)
            published = common.load_results(NAME).get("datasets", {}).get(ds.key, {}).get("meta", {})
            units = list(dict.fromkeys(published.get("units", []) + [unit_key(p, s, sd) for _, p, s, sd in
                                                                      plan([spec], args.protocols, args.sizes)]))
            meta = {"encoder": ENCODER, "n_per_source": N_PER_SOURCE, "unknown_share": UNKNOWN_SHARE,
                    "budgets": list(BUDGETS), "units": units, "n_other": N_OTHER, "pool_in_scope": POOL_IN_SCOPE,
                    "descriptions": ds.descriptions_hash}
            reasons = common.partial_reasons(NAME, {"datasets": {ds.key: {"meta": meta}}}, coverage=("units",))
            kind = "partial" if reasons and not args.publish else "published"
            done = common.load_results(NAME, kind).get("datasets", {}).get(ds.key, {}).get("rows", {})
            key = unit_key(protocol, size, seed)
            if key in done:
                continue
            print(f"== {ds.key} {key}", flush=True)
            r = run_unit(ds, protocol, size, seed, ds.embed("train", ENCODER), ds.embed("test", ENCODER))
            sh = r["rows"][f"shipped@{SHIPPED_BUDGET[protocol]}"]
            print(f"   shipped: recall {sh['recall']:.3f} loss {sh['loss_points']:.2f} auroc {sh['auroc']:.3f} "
                  f"replication {sh['replication']} ({r['seconds']}s)", flush=True)
            common.write_results(NAME, {"datasets": {ds.key: {"meta": meta, "info": ds.info(), "rows": {key: r}}}},
                                 coverage=("units",), publish=args.publish)
    doc = common.load_results(NAME)
    if doc.get("datasets"):
        plot(summarize(doc))
        common.write_section(NAME, section(doc))


if __name__ == "__main__":
    main()

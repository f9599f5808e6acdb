"""Calibration: ECE of every model type before and after the product's calibration, and the auto band it recommends.

What runs is the product (``labelf_trainer``), not a prototype:

- ``embedding-head``, ``setfit``, ``fine-tuned``: trained through ``loop/trainer.py: fit_and_evaluate`` (what
  ``labelf train`` runs): held-out scores (5-fold for the embedding-head; for SetFit and fine-tuned the product's
  stratified 20% hold-out, whose model is the final one), temperature scaling fitted on them
  (``models/calibration.py``), the auto band for ``thresholds.target_precision`` 0.9
  (``evaluation/thresholds.py: choose_auto_threshold``, stored as ``metrics.bands``) on a uniform sample of the
  unlabeled pool (5,000 texts; 1,000 for SetFit / fine-tuned, as ``train_and_register`` draws it). *Before* = the
  model's own scores (``_scores``), *after* = what ``predict_proba`` returns.
- ``zero-shot`` (label descriptions, T = 0.04): calibrated as ``loop/cold_start.py`` does once 20 labels that no
  sampler picked exist (the labeled sample here is such an imported set): ``models/calibration.py:
  refit_temperature`` (a likelihood-ratio test keeps T = 0.04 unless the labels clearly disagree); replicated at
  model level (the product function needs a workspace). Beside it the plain temperature ``fit_trust`` fits for
  trained types, and ``refit_temperature`` from 20 random "audit-like" pool labels (10 draws). The product stores
  no auto band for the zero-shot model; the band shown is what ``choose_auto_threshold`` gives for its calibrated
  scores of the labeled texts and the pool.

Data: 15% of each training split (stratified, seed 0) is an i.i.d. holdout that is never labeled or in the pool;
the rest is the pool, from which 10 labels per class (seeds 0-2) or all of it ("full", seed 0) are labeled. ECE
(15 bins, top label, ``evaluation/calibration.py: top_label_ece``) and the band are measured on the official test
split and on the holdout: two test splits are not drawn like the pool (Banking77's is class-balanced, TREC's is
easier than its training questions), the holdout is.

Usage:
    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 LABELF_BENCH_CACHE=/work/cache .venv/bin/python benchmarks/calibration.py
    .venv/bin/python benchmarks/calibration.py --datasets trec --types embedding-head zero-shot
    .venv/bin/python benchmarks/calibration.py --types setfit fine-tuned     # the slow rows (Banking77, TREC 10/class)
    .venv/bin/python benchmarks/calibration.py --readme-only

Rows are saved to results/calibration.json as each finishes (an interrupted run resumes); a run covering fewer rows
than published goes to results/calibration.partial.json unless --publish.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

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

NAME = "calibration"
DEFAULT_DATASETS = ("banking77", "bitext_customer_support", "trec", "sst5")
TYPES = ("embedding-head", "zero-shot", "setfit", "fine-tuned")
FAST_TYPES = ("embedding-head", "zero-shot")
SLOW_DATASETS = ("banking77", "trec")  # SetFit and fine-tuned: 10 per class, seed 0, on these only
SIZES = {"10": 10, "full": None}
SEEDS = {"10": (0, 1, 2), "full": (0,)}
HOLD_SHARE = 0.15
POOL_FAST, POOL_SLOW = 5000, 1000
N_AUDIT, AUDIT_DRAWS = 20, 10
#: SetFit at half its default step cap (500) to fit the shared 2-core machine; fine-tuned with its defaults
#: (epochs picked for ~500 steps, at most 10). One torch thread.
SLOW_HYPER = {"setfit": {"max_steps": 250, "num_threads": 1}, "fine-tuned": {"num_threads": 1}}
ECE_GOAL = 0.05
COVERAGE_GOAL = 0.05
ENCODER = "minilm"


def hold_rows(labels: list[str], share: float = HOLD_SHARE, seed: int = 0) -> np.ndarray:
    """A stratified random ``share`` of the rows (per label, seeded): the i.i.d. holdout."""
    rng = np.random.default_rng(seed)
    labels_arr = np.asarray(labels)
    out = []
    for c in sorted(set(labels)):
        idx = np.flatnonzero(labels_arr == c)
        out.extend(rng.permutation(idx)[:round(share * len(idx))])
    return np.sort(np.asarray(out, dtype=np.int64))


def sample_rows(labels: list[str], per_class: int | None, seed: int) -> np.ndarray:
    import pandas as pd

    if per_class is None:
        return np.arange(len(labels))
    df = pd.DataFrame({"label": labels, "_row": np.arange(len(labels))})
    return np.sort(common.sample_per_class(df, per_class, seed)["_row"].to_numpy())


class Split:
    """A dataset's pool / holdout / test split with embeddings and class indices."""

    def __init__(self, ds: common.Dataset) -> None:
        self.ds = ds
        labels = ds.labels("train")
        self.hold = hold_rows(labels)
        self.pool = np.setdiff1d(np.arange(len(labels)), self.hold)
        self.X_train, self.X_test = ds.embed("train", ENCODER), ds.embed("test", ENCODER)
        self.y_train, self.y_test = ds.y("train"), ds.y("test")
        self.texts = ds.texts("train")
        self.labels = labels

    def labeled(self, size: str, seed: int) -> np.ndarray:
        return self.pool[sample_rows([self.labels[i] for i in self.pool], SIZES[size], seed)]


def ece_pair(raw: np.ndarray, cal: np.ndarray, y: np.ndarray) -> dict:
    from labelf_trainer.evaluation.calibration import reliability_table, top_label_ece

    ok = raw.argmax(axis=1) == y
    return {"accuracy": round(float(ok.mean()), 4), "ece_before": round(top_label_ece(raw, y), 4),
            "ece_after": round(top_label_ece(cal, y), 4),
            "mean_conf_before": round(float(raw.max(axis=1).mean()), 4),
            "mean_conf_after": round(float(cal.max(axis=1).mean()), 4),
            "fixed_0.9_before": band(raw.max(axis=1), ok, 0.9), "fixed_0.9_after": band(cal.max(axis=1), ok, 0.9),
            "reliability_before": reliability_table(raw.max(axis=1), ok),
            "reliability_after": reliability_table(cal.max(axis=1), cal.argmax(axis=1) == y)}


def band_eval(cal: np.ndarray, y: np.ndarray, threshold: float | None) -> dict:
    conf, ok = cal.max(axis=1), cal.argmax(axis=1) == y
    return {**band(conf, ok, threshold), "oracle": oracle_coverage(conf, ok, TARGET)}


def _bands_json(bands: dict) -> dict:
    return {k: bands.get(k) for k in ("auto", "expected_precision", "expected_coverage", "reached", "reason",
                                      "disables_rejection")}


# -- one row --------------------------------------------------------------------------------------------------
def run_trained(sp: Split, model_type: str, size: str, seed: int) -> dict:
    """A trainable type through ``fit_and_evaluate``: ECE before / after on test and holdout, and its auto band."""
    from labelf_trainer.data import TrainingData
    from labelf_trainer.loop.trainer import build_model, fit_and_evaluate

    ds = sp.ds
    t0 = time.perf_counter()
    rows = sp.labeled(size, seed)
    slow = model_type not in FAST_TYPES
    hyper = SLOW_HYPER.get(model_type, {})
    cfg = project_config(ds.classes, ds.descriptions)

    def make():
        return build_model(model_type, labels=ds.classes, multi_label=False, encoder=ENCODER, seed=seed,
                           progress=False, cache_dir=common.cache_root(), **hyper)

    unl = np.setdiff1d(sp.pool, rows)
    pool = pool_sample([sp.texts[i] for i in unl], POOL_SLOW if slow else POOL_FAST, seed) if len(unl) else None
    data = TrainingData([sp.texts[i] for i in rows], [sp.labels[i] for i in rows], [str(i) for i in rows])
    final, metrics, n_train = fit_and_evaluate(make, data, config=cfg, eval_split=cfg.training.eval_split, seed=seed,
                                               pool=pool, max_folds=3 if slow else 5)
    train_s = time.perf_counter() - t0
    out = {"type": model_type, "size": size, "seed": seed, "n_labeled": len(rows), "n_train_final": n_train,
           "n_pool": pool.n_unlabeled if pool else 0, "hyper": hyper,
           "heldout": metrics.get("evaluation"), "calibration": {
               k: v for k, v in (metrics.get("calibration") or {}).items() if k != "reliability"},
           "bands": _bands_json(metrics.get("bands") or {}),
           "accuracy_estimate": (metrics.get("accuracy_estimate") or {}).get("estimate")}
    thr = (metrics.get("bands") or {}).get("auto")
    for split, X, texts, y in (("test", sp.X_test, sp.ds.texts("test"), sp.y_test),
                               ("hold", sp.X_train[sp.hold], [sp.texts[i] for i in sp.hold], sp.y_train[sp.hold])):
        if slow:
            raw = final._scores(texts)
            cal = final.predict_proba(texts)
        else:
            raw = final._scores_embeddings(X)
            cal = final.predict_proba_embeddings(X)
        out[split] = {**ece_pair(raw, cal, y), "band": band_eval(cal, y, thr)}
    out["seconds"] = round(time.perf_counter() - t0, 1)
    out["train_seconds"] = round(train_s, 1)
    out["product"] = product_version()
    return out


def _zero_shot(ds: common.Dataset):
    from labelf_trainer.models.zero_shot import ZeroShotClassifier

    return ZeroShotClassifier(ds.label_specs(), encoder=ENCODER).use_cache(common.cache_root(), progress=False).fit()


def run_zero_shot(sp: Split, size: str, seed: int) -> dict:
    """Zero-shot as the product calibrates it (``loop/cold_start.py``: ``refit_temperature`` on >= 20 labels no
    sampler picked; the labeled sample is such an imported set), the plain temperature that ``fit_trust`` would fit
    beside it, and the auto band ``choose_auto_threshold`` gives for the calibrated scores (the product stores no
    band for the zero-shot model: this shows what the chooser would do)."""
    from labelf_trainer.evaluation.calibration import top_label_ece
    from labelf_trainer.evaluation.thresholds import choose_auto_threshold
    from labelf_trainer.models.calibration import IdentityCalibrator, fit_calibrator, refit_temperature

    ds = sp.ds
    t0 = time.perf_counter()
    rows = sp.labeled(size, seed)
    zs = _zero_shot(ds)
    raw_l = zs._scores_embeddings(sp.X_train[rows])
    y_l = sp.y_train[rows]
    refit = refit_temperature(raw_l, y_l)
    cal = refit or IdentityCalibrator()
    plain = fit_calibrator(raw_l, y_l)
    unl = np.setdiff1d(sp.pool, rows)
    rng = np.random.default_rng(seed)
    pool_rows = np.sort(rng.choice(unl, size=min(POOL_FAST, len(unl)), replace=False)) if len(unl) else unl
    P_l = cal.transform(raw_l)
    conf_l = P_l.max(axis=1)
    pool_conf = cal.transform(zs._scores_embeddings(sp.X_train[pool_rows])).max(axis=1) if len(pool_rows) else \
        np.zeros(0)
    bands = choose_auto_threshold(conf_l, P_l.argmax(axis=1) == y_l, pool_conf=np.concatenate([conf_l, pool_conf]),
                                  target=TARGET, n_classes=len(ds.classes), n_labeled=len(rows))
    thr = bands.get("threshold")
    out = {"type": "zero-shot", "size": size, "seed": seed, "n_labeled": len(rows), "n_pool": len(unl),
           "calibration": {"product (refit_temperature)": refit.to_json() if refit else "kept T = 0.04",
                           "fit_trust (plain temperature)": plain.to_json()},
           "bands": {**_bands_json(bands), "auto": thr}}
    for split, X, y in (("test", sp.X_test, sp.y_test), ("hold", sp.X_train[sp.hold], sp.y_train[sp.hold])):
        raw = zs._scores_embeddings(X)
        calibrated = cal.transform(raw)
        r = ece_pair(raw, calibrated, y)
        r["ece_plain"] = round(top_label_ece(plain.transform(raw), y), 4)
        out[split] = {**r, "band": band_eval(calibrated, y, thr)}
    out["seconds"] = round(time.perf_counter() - t0, 1)
    out["product"] = product_version()
    return out


def run_refit20(sp: Split) -> dict:
    """``refit_temperature`` from 20 random pool labels (audit-like picks), 10 draws: ECE on test and holdout."""
    from labelf_trainer.evaluation.calibration import top_label_ece
    from labelf_trainer.models.calibration import TemperatureScaling, refit_temperature

    zs = _zero_shot(sp.ds)
    raw = {"test": zs._scores_embeddings(sp.X_test), "hold": zs._scores_embeddings(sp.X_train[sp.hold])}
    y = {"test": sp.y_test, "hold": sp.y_train[sp.hold]}
    draws = []
    for d in range(AUDIT_DRAWS):
        pick = np.random.default_rng(1000 + d).choice(sp.pool, size=N_AUDIT, replace=False)
        p, yy = zs._scores_embeddings(sp.X_train[pick]), sp.y_train[pick]
        refit = refit_temperature(p, yy)
        plain = TemperatureScaling().fit(p, yy)
        r = {"draw": d, "kept_default": refit is None, "temperature_factor": None if refit is None else
             round(refit.temperature, 4), "plain_factor": round(plain.temperature, 4)}
        for split in ("test", "hold"):
            r[f"ece_{split}_refit"] = round(top_label_ece(refit.transform(raw[split]) if refit else raw[split],
                                                          y[split]), 4)
            r[f"ece_{split}_plain"] = round(top_label_ece(plain.transform(raw[split]), y[split]), 4)
        draws.append(r)
    out = {"type": "zero-shot", "size": "refit20", "seed": None, "n_labels": N_AUDIT, "draws": draws,
           "product": product_version()}
    for split in ("test", "hold"):
        out[split] = {"accuracy": round(float((raw[split].argmax(axis=1) == y[split]).mean()), 4),
                      "ece_default": round(top_label_ece(raw[split], y[split]), 4),
                      "ece_refit_mean": round(float(np.mean([r[f"ece_{split}_refit"] for r in draws])), 4),
                      "ece_refit_max": round(float(np.max([r[f"ece_{split}_refit"] for r in draws])), 4),
                      "ece_plain_mean": round(float(np.mean([r[f"ece_{split}_plain"] for r in draws])), 4)}
    return out


# -- plan, summary, README ------------------------------------------------------------------------------------
def row_key(model_type: str, size: str, seed: int | None) -> str:
    return f"{size}/{model_type}" + ("" if seed is None else f"/seed{seed}")


def plan(spec: common.DatasetSpec, types: list[str], sizes: list[str]) -> list[tuple[str, str, int | None]]:
    out = []
    for t in types:
        if t in FAST_TYPES:
            for size in sizes:
                out += [(t, size, s) for s in SEEDS[size]]
            if t == "zero-shot":
                out.append((t, "refit20", None))
        elif spec.key in SLOW_DATASETS and "10" in sizes:
            out.append((t, "10", 0))
    return out


def summarize(doc: dict) -> list[dict]:
    out = []
    for key, block in doc.get("datasets", {}).items():
        groups: dict[tuple, list[dict]] = {}
        for r in block.get("rows", {}).values():
            if r["size"] != "refit20":
                groups.setdefault((r["type"], r["size"]), []).append(r)
        for (t, size), rs in groups.items():
            s = {"dataset": key, "type": t, "size": size, "n": len(rs), "rows": rs}
            for split in ("test", "hold"):
                for k in ("accuracy", "ece_before", "ece_after"):
                    m = mean_max([r[split][k] for r in rs])
                    s[f"{split}_{k}"], s[f"{split}_{k}_max"] = m[0], m[2]
                if t == "zero-shot":
                    m = mean_max([r[split]["ece_plain"] for r in rs])
                    s[f"{split}_ece_plain"], s[f"{split}_ece_plain_max"] = m[0], m[2]
                prec = [r[split]["band"]["precision"] for r in rs]
                s[f"{split}_band_prec_min"] = mean_max(prec)[1]
                s[f"{split}_band_off"] = sum(r[split]["band"]["threshold"] is None for r in rs)
                cov = [r[split]["band"]["coverage"] for r in rs]
                orc = [r[split]["band"]["oracle"]["coverage"] for r in rs]
                gaps = [o - c for o, c in zip(orc, cov)]
                s[f"{split}_cov"], s[f"{split}_oracle"] = float(np.mean(cov)), float(np.mean(orc))
                s[f"{split}_gap_mean"], s[f"{split}_gap_max"] = float(np.mean(gaps)), float(np.max(gaps))
                s[f"{split}_fixed_before"] = float(np.mean([r[split]["fixed_0.9_before"]["coverage"] for r in rs]))
                s[f"{split}_fixed_after"] = float(np.mean([r[split]["fixed_0.9_after"]["coverage"] for r in rs]))
            out.append(s)
    order = {t: i for i, t in enumerate(TYPES)}
    datasets = list(DEFAULT_DATASETS) + sorted({s["dataset"] for s in out} - set(DEFAULT_DATASETS))
    out.sort(key=lambda s: (datasets.index(s["dataset"]), order.get(s["type"], 9), s["size"] == "full"))
    return out


def _size(s: dict) -> str:
    return "10/class" if s["size"] == "10" else s["size"]


def ece_table(summary: list[dict], split: str) -> str:
    lines = [("| dataset | model | size | runs | accuracy | ECE before | ECE after (worst run) | ≤ 0.05? | "
             "share ≥ 0.9 before → after |"), "|---|---|---|---|---|---|---|---|---|"]
    for s in summary:
        after = s[f"{split}_ece_after"]
        worst = s[f"{split}_ece_after_max"]
        met = "**met**" if worst <= ECE_GOAL else ("met on average" if after <= ECE_GOAL else "not met")
        extra = ""
        if s["type"] == "zero-shot":
            extra = f" (plain refit as fit_trust would: {fmt(s[f'{split}_ece_plain'])})"
        lines.append(f"| {s['dataset']} | {s['type']} | {_size(s)} | {s['n']} | {fmt(s[f'{split}_accuracy'])} | "
                     f"{fmt(s[f'{split}_ece_before'])} | {fmt(after)} ({fmt(worst)}){extra} | {met} | "
                     f"{fmt(s[f'{split}_fixed_before'], 3, pct=True)}% → "
                     f"{fmt(s[f'{split}_fixed_after'], 3, pct=True)}% |")
    return "\n".join(lines)


def band_table_md(summary: list[dict], split: str) -> str:
    lines = [("| dataset | model | size | auto threshold per run | measured precision (worst run) | ≥ 0.9? | coverage | "
             "best coverage at ≥ 0.9 | gap, pts (worst) | within 5 pts? |"), "|---|---|---|---|---|---|---|---|---|---|"]
    for s in summary:
        thr = "/".join("off" if r[split]["band"]["threshold"] is None else fmt(r[split]["band"]["threshold"], 3)
                       for r in s["rows"])
        pmin = s[f"{split}_band_prec_min"]
        off = s[f"{split}_band_off"]
        if pmin is None:
            pmet = "n/a (band off)"
        else:
            pmet = "**met**" if pmin >= TARGET - 1e-9 else "not met"
            if off:
                pmet += f" ({off} run(s) off)"
        gap, gmax = s[f"{split}_gap_mean"], s[f"{split}_gap_max"]
        cmet = "**met**" if gmax <= COVERAGE_GOAL + 1e-9 else ("met on average" if gap <= COVERAGE_GOAL else "not met")
        if pmin is not None and pmin < TARGET - 1e-9:
            cmet = "n/a (precision missed)"
        lines.append(f"| {s['dataset']} | {s['type']} | {_size(s)} | {thr} | {fmt(pmin)} | {pmet} | "
                     f"{fmt(s[f'{split}_cov'], 3, pct=True)}% | {fmt(s[f'{split}_oracle'], 3, pct=True)}% | "
                     f"{gap * 100:.1f} ({gmax * 100:.1f}) | {cmet} |")
    return "\n".join(lines)


def refit_table(doc: dict) -> str:
    lines = [("| dataset | accuracy (test) | ECE at T = 0.04 (test / holdout) | refit_temperature, 20 random labels: "
             "mean (worst) ECE, test | holdout | draws keeping T = 0.04 | plain refit from the same 20: test ECE |"),
             "|---|---|---|---|---|---|---|"]
    blocks = doc.get("datasets", {})
    for key in [d for d in DEFAULT_DATASETS if d in blocks] + sorted(set(blocks) - set(DEFAULT_DATASETS)):
        r = blocks[key].get("rows", {}).get(row_key("zero-shot", "refit20", None))
        if not r:
            continue
        kept = sum(d["kept_default"] for d in r["draws"])
        lines.append(f"| {key} | {fmt(r['test']['accuracy'])} | {fmt(r['test']['ece_default'])} / "
                     f"{fmt(r['hold']['ece_default'])} | {fmt(r['test']['ece_refit_mean'])} "
                     f"({fmt(r['test']['ece_refit_max'])}) | {fmt(r['hold']['ece_refit_mean'])} "
                     f"({fmt(r['hold']['ece_refit_max'])}) | {kept} of {len(r['draws'])} | "
                     f"{fmt(r['test']['ece_plain_mean'])} |")
    return "\n".join(lines)


def plot(summary: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(s["dataset"] for s in summary))
    cols = [(t, size) for t, size in (("embedding-head", "10"), ("embedding-head", "full"), ("zero-shot", "10"),
                                      ("setfit", "10"), ("fine-tuned", "10"))
            if any(s["type"] == t and s["size"] == size for s in summary)]
    if not datasets or not cols:
        return
    fig, axes = plt.subplots(len(datasets), len(cols), figsize=(3.0 * len(cols), 3.0 * len(datasets)), squeeze=False)
    for i, ds in enumerate(datasets):
        for j, (t, size) in enumerate(cols):
            ax = axes[i][j]
            ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
            match = [s for s in summary if s["dataset"] == ds and s["type"] == t and s["size"] == size]
            if not match:
                ax.set_axis_off()
                continue
            r = match[0]["rows"][0]["test"]
            for k, color, name in (("before", "#DD8452", "before"), ("after", "#4C72B0", "after")):
                rel = [b for b in r[f"reliability_{k}"] if b["n"] >= 10]  # bins of fewer texts are noise
                ax.plot([b["confidence"] for b in rel], [b["accuracy"] for b in rel], "-o", ms=3, color=color,
                        label=f"{name}: ECE {r[f'ece_{k}']:.3f}")
            ax.set_title(f"{ds}\n{t} {'10/class' if size == '10' else size}", fontsize=8)
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.legend(fontsize=6, loc="upper left")
            if i == len(datasets) - 1:
                ax.set_xlabel("confidence", fontsize=8)
            if j == 0:
                ax.set_ylabel("accuracy", fontsize=8)
    fig.suptitle("Reliability on the test split, before / after the product's calibration (first seed; bins of "
                 ">= 10 texts)", fontsize=10)
    fig.tight_layout()
    fig.savefig(RESULTS / f"{NAME}.png", dpi=100)
    plt.close(fig)


def section(doc: dict) -> str:
    summary = summarize(doc)
    products = sorted({r.get("product", "?") for b in doc.get("datasets", {}).values() for r in b["rows"].values()})
    notes_file = RESULTS / f"{NAME}_notes.md"  # written by hand from the figures: where each method loses
    notes = notes_file.read_text(encoding="utf-8").strip() if notes_file.is_file() else ""
    slow = "; ".join(f"{t}: {', '.join(f'{k}={v}' for k, v in h.items())}" for t, h in SLOW_HYPER.items())
    return (
        "## Calibration (`benchmarks/calibration.py`)\n\n"
        "Every model type on all-MiniLM-L6-v2, before and after the product's calibration (temperature scaling "
        "fitted on held-out scores by `loop/trainer.py: fit_and_evaluate`; for zero-shot `refit_temperature` on "
        "the labels, as `loop/cold_start.py` does, with the plain temperature `fit_trust` would fit in brackets). "
        "ECE: 15 bins, top label. "
        "10 labels per class (3 seeds) and the whole pool (1 seed) for the embedding-head and zero-shot; SetFit and "
        f"fine-tuned at 10 per class on Banking77 and TREC, seed 0 ({slow}; the product's 20% hold-out gives their "
        "held-out scores and final model). 15% of each training split is an i.i.d. holdout never labeled; the rest "
        f"is the pool. Product version: {', '.join(products)}.\n\n"
        "### ECE on the test split (goal ≤ 0.05)\n\n" + ece_table(summary, "test") + "\n\n"
        "*share ≥ 0.9*: share of test texts at or above the fixed 0.9 confidence before and after calibration.\n\n"
        "### ECE on the i.i.d. holdout (15% of train: drawn like the pool)\n\n" + ece_table(summary, "hold") + "\n\n"
        "### The auto band on the test split (target precision 0.9; goals: precision ≥ 0.9 on every dataset, "
        "coverage within 5 points of the best threshold)\n\n"
        "The threshold is `metrics.bands.auto` of the trained model (`choose_auto_threshold`: expected precision "
        "over the pool minus one standard error; off below 100 held-out texts or 5 labels per class). *Best "
        "coverage*: the largest share any threshold keeps at measured precision ≥ 0.9 on the same split.\n\n"
        + band_table_md(summary, "test") + "\n\n"
        "### The auto band on the i.i.d. holdout\n\n" + band_table_md(summary, "hold") + "\n\n"
        "### Zero-shot: `refit_temperature` from 20 audit-like random labels (10 draws)\n\n" + refit_table(doc)
        + "\n\n" + (notes + "\n\n" if notes else "")
        + f"![reliability diagrams](results/{NAME}.png)\n\n"
        f"Raw figures per run (reliability tables, temperatures, thresholds, timing): `results/{NAME}.json`. "
        f"Reproduce: `HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/{NAME}.py` (the slow rows: "
        "`--types setfit fine-tuned`).\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common.add_dataset_args(ap, list(DEFAULT_DATASETS))
    ap.add_argument("--types", nargs="+", choices=TYPES, default=list(FAST_TYPES),
                    help="model types (default: the fast ones; setfit / fine-tuned run on Banking77 and TREC)")
    ap.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES))
    ap.add_argument("--readme-only", action="store_true")
    common.add_publish_args(ap, tag=False)
    args = ap.parse_args()
    common.apply_common_args(args)
    if not args.readme_only:
        for spec in args.datasets:
            ds = common.load_dataset(spec)
            if ds.multi_label:
                raise SystemExit(f"{ds.key}: calibration.py runs single-label datasets")
            todo = plan(spec, args.types, args.sizes)
            # rows are independent and deterministic: a run of other rows adds to the published ones (resumes)
            published = common.load_results(NAME).get("datasets", {}).get(ds.key, {}).get("meta", {})
            meta = {"encoder": ENCODER, "hold_share": HOLD_SHARE, "descriptions": ds.descriptions_hash,
                    "rows": list(dict.fromkeys(published.get("rows", []) + [row_key(*x) for x in todo]))}
            reasons = common.partial_reasons(NAME, {"datasets": {ds.key: {"meta": meta}}}, coverage=("rows",))
            kind = "partial" if reasons and not args.publish else "published"
            sp = None
            for t, size, seed in todo:
                key = row_key(t, size, seed)
                if key in common.load_results(NAME, kind).get("datasets", {}).get(ds.key, {}).get("rows", {}):
                    continue
                sp = sp or Split(ds)
                print(f"== {ds.key} {key}", flush=True)
                if t == "zero-shot":
                    r = run_refit20(sp) if size == "refit20" else run_zero_shot(sp, size, seed)
                else:
                    r = run_trained(sp, t, size, seed)
                if "test" in r and "ece_after" in r["test"]:
                    print(f"   test ECE {r['test']['ece_before']:.3f} -> {r['test']['ece_after']:.3f}, band "
                          f"{r['test']['band']['threshold']} prec {r['test']['band']['precision']} cov "
                          f"{r['test']['band']['coverage']} (best {r['test']['band']['oracle']['coverage']})", flush=True)
                common.write_results(NAME, {"datasets": {ds.key: {"meta": meta, "info": ds.info(), "rows": {key: r}}}},
                                     coverage=("rows",), publish=args.publish)
    doc = common.load_results(NAME)
    if doc.get("datasets"):
        plot(summarize(doc))
        common.write_section(NAME, section(doc))


if __name__ == "__main__":
    main()

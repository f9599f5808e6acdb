"""Honest metrics: is the accuracy the product shows an estimate of the traffic? Measured end to end on the product.

For every dataset and seed a real project (``labelf_trainer.loop.project.Project``) is built in a temp folder: labels
from the dataset's classes with their descriptions (``benchmarks/data/``), encoder minilm, ``sampler.audit_share``
0.05 (the default) and, for the label cost, 0. Its pool is 85% of the training split (a seeded uniform draw); the
other 15% (the *holdout*) is never imported: it is drawn like the pool, so it measures the accuracy the estimate
claims. Then the loop a user runs, with the datasets' gold labels as the annotator:

    suggest(project, n=batch)                                   # loop/suggest.py: sampler picks + audit picks
    -> the gold labels of the suggested texts as annotations    # Annotation + project.ws.annotations.add
    -> train_and_register(project, "embedding-head", deploy=True)   # loop/trainer.py

at the label budgets 50, 100, ..., 2000. After every round the benchmark reads what the product says in
``res.metrics`` (``accuracy``: the estimate, ``accuracy_interval`` (90%), ``accuracy_method``, ``accuracy_estimate``
with its parts, ``heldout_accuracy``: the cross-validated accuracy on the labeled texts, what the product showed
before, and ``stopping``: kappa and the stop advice) and measures the deployed version (loaded from the registry) on
the holdout, on the official test split and on the still-unlabeled pool.

The project's embedding cache is pre-filled from the benchmark cache (the same ``Embedder``, key and fingerprint);
the script checks on a few texts that the vectors equal what the product's encoder computes.

Usage:
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/honest_metrics.py                       # published setting
    .venv/bin/python benchmarks/honest_metrics.py --datasets trec --seeds 0 --jobs 2     # partial (not published)
    .venv/bin/python benchmarks/honest_metrics.py --readme-only                          # plot + README from JSON

Each finished run (dataset, audit share, seed) is saved under results/cache/honest_metrics/ (ignored) and reused by a
later call with the same setting, so an interrupted benchmark resumes. Rows are merged per dataset into
results/honest_metrics.json; a run with fewer seeds or budgets than the published one goes to
results/honest_metrics.partial.json unless --publish.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")  # the machine is shared: one core per run
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import common
import numpy as np
from common import RESULTS, SCRATCH
from trust_common import fmt, product_version

from labelf_trainer.io_utils import atomic_writer

NAME = "honest_metrics"
DEFAULT_DATASETS = ("banking77", "trec", "bitext_customer_support")
BUDGETS = (50, 100, 150, 200, 300, 400, 500, 750, 1000, 1500, 2000)
AUDIT = 0.05  # the product's default sampler.audit_share
HOLD_SHARE = 0.15
FROM = 500  # the goal's "from 500 labels on"
GOAL_COVERAGE, GOAL_MAE = 0.85, 0.02
MODEL_TYPE = "embedding-head"
RUNS_DIR = SCRATCH / NAME


# -- one run ---------------------------------------------------------------------------------------------------
def split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(pool rows, holdout rows) of the training split: a seeded uniform ``HOLD_SHARE`` holdout."""
    perm = np.random.default_rng(seed).permutation(n)
    k = round(HOLD_SHARE * n)
    return np.sort(perm[k:]), np.sort(perm[:k])


def prefill_cache(cache_dir: Path, encoder: str, texts: list[str], X: np.ndarray) -> int:
    """Write the benchmark's embeddings of ``texts`` into a workspace cache, as the product's Embedder keys them."""
    from labelf_trainer.embeddings.cache import EmbeddingCache
    from labelf_trainer.types import text_hash

    enc = common.embedder(encoder).encoder
    cache = EmbeddingCache(cache_dir, enc.fingerprint, enc.dim)
    cache.put_many({text_hash(t): x for t, x in zip(texts, X)})
    n = len(cache)
    cache.close()
    return n


def check_vectors(encoder: str, texts: list[str], X: np.ndarray) -> float:
    """Largest |difference| between cached vectors and what the product's encoder computes now (no cache)."""
    from labelf_trainer.embeddings import Embedder, load_encoder

    fresh = Embedder(load_encoder(encoder), None, progress=False).embed(texts)
    return float(np.abs(fresh - X).max())


def accuracy(model, X: np.ndarray, gold: list[str]) -> float:
    proba = model.predict_proba_embeddings(X)
    classes = np.array(model.classes_)
    return float(np.mean(classes[proba.argmax(axis=1)] == np.array(gold)))


def simulate(spec: common.DatasetSpec, data_root: str | None, seed: int, audit_share: float,
             budgets: tuple[int, ...], encoder: str) -> dict[str, Any]:
    """One active-learning curve through the product, with what it says and what is true at every round."""
    from labelf_trainer.config import DataSource, ProjectConfig, SamplerConfig, TrainingConfig
    from labelf_trainer.loop.project import Project
    from labelf_trainer.loop.suggest import suggest
    from labelf_trainer.loop.trainer import train_and_register
    from labelf_trainer.types import Annotation

    common.set_data_root(data_root)
    ds = common.load_dataset(spec)
    texts, labels = ds.texts("train"), ds.labels("train")
    X_train, X_test = ds.embed("train", encoder), ds.embed("test", encoder)
    test_gold = ds.labels("test")
    pool_rows, hold_rows = split(len(texts), seed)
    gold = {str(r): labels[r] for r in pool_rows}
    product = product_version()  # the code this process imported (a commit made later does not count)
    t_start, started = time.perf_counter(), time.time()
    with tempfile.TemporaryDirectory(prefix="labelf-honest-") as tmp:
        csv = Path(tmp) / "pool.csv"
        ds.train.iloc[pool_rows].assign(id=[str(r) for r in pool_rows])[["id", "text", ds.label_column]] \
            .to_csv(csv, index=False)
        cfg = ProjectConfig(project="honest-metrics", labels=ds.label_specs(), encoder=encoder,
                            data=[DataSource(path=csv, id_column="id", label_column=ds.label_column)],
                            sampler=SamplerConfig(audit_share=audit_share), training=TrainingConfig(seed=seed),
                            workspace=Path(tmp) / "ws")
        with Project.open(cfg, create=True) as project:
            project.import_sources()
            prefill_cache(project.ws.cache_dir, encoder, [texts[r] for r in pool_rows], X_train[pool_rows])
            project.ensure_zero_shot()
            rounds: list[dict[str, Any]] = []
            labeled: list[str] = []
            for rnd, budget in enumerate(budgets):
                t0 = time.perf_counter()
                sug = suggest(project, n=budget - len(labeled), seed=seed * 1000 + rnd, progress=False)
                t_suggest = time.perf_counter() - t0
                picked = [it.item_id for it in sug.items]
                project.ws.annotations.add([Annotation(i, (gold[i],), annotator="gold") for i in picked])
                labeled += picked
                t1 = time.perf_counter()
                res = train_and_register(project, MODEL_TYPE, deploy=True, progress=False)
                t_train = time.perf_counter() - t1
                model = project.registry.load(res.model_id, res.version)  # the deployed version, from disk
                done = set(labeled)
                unl = np.array([r for r in pool_rows if str(r) not in done])
                m = res.metrics
                est = m.get("accuracy_estimate") or {}
                stop = m.get("stopping") or {}
                has = est.get("estimate") is not None
                rounds.append({
                    "labels": len(labeled),
                    "audit_labels": sum(it.reason.get("component") == "audit" for it in sug.items)
                    + (rounds[-1]["audit_labels"] if rounds else 0),
                    "estimate": m.get("accuracy") if has else None,
                    "interval": m.get("accuracy_interval") if has else None,
                    "method": est.get("method"),
                    "accuracy_method": m.get("accuracy_method"),
                    "shown_accuracy": m.get("accuracy"),
                    "heldout_accuracy": m.get("heldout_accuracy"),
                    "parts": est.get("parts"),
                    "n_pool": est.get("n_pool"),
                    "kappa": stop.get("kappa"), "stop": bool(stop.get("stop")), "advice": stop.get("advice"),
                    "holdout_accuracy": round(accuracy(model, X_train[hold_rows], [labels[r] for r in hold_rows]), 4),
                    "test_accuracy": round(accuracy(model, X_test, test_gold), 4),
                    "unlabeled_pool_accuracy": round(accuracy(model, X_train[unl], [labels[r] for r in unl]), 4),
                    "suggest_s": round(t_suggest, 2), "train_s": round(t_train, 2),
                })
                r = rounds[-1]
                print(f"  {ds.key} audit {audit_share} seed {seed} @{r['labels']}: est {fmt(r['estimate'])} "
                      f"{r['interval']} holdout {r['holdout_accuracy']:.3f} test {r['test_accuracy']:.3f} "
                      f"cv {fmt(r['heldout_accuracy'])} kappa {r['kappa']} ({t_suggest:.0f}+{t_train:.0f}s)",
                      flush=True)
    return {"dataset": ds.key, "seed": seed, "audit_share": audit_share, "rounds": rounds,
            "n_pool": len(pool_rows), "n_holdout": len(hold_rows), "n_test": len(test_gold),
            "seconds": round(time.perf_counter() - t_start, 1), "started": round(started),
            "finished": round(time.time()), "product": product}


def run_key(ds: common.Dataset, seed: int, audit_share: float, budgets: tuple[int, ...], encoder: str) -> str:
    setting = json.dumps({"budgets": list(budgets), "encoder": encoder, "descriptions": ds.descriptions_hash,
                          "data": ds.info(), "hold": HOLD_SHARE}, sort_keys=True)
    return f"{ds.key}__a{audit_share}__s{seed}__{hashlib.sha256(setting.encode()).hexdigest()[:10]}"


def _run_task(args: tuple) -> tuple[str, dict]:
    key, spec, root, seed, share, budgets, encoder = args
    run = simulate(spec, root, seed, share, budgets, encoder)
    RUNS_DIR.mkdir(parents=True, exist_ok=True)
    with atomic_writer(RUNS_DIR / f"{key}.json") as fh:
        json.dump(run, fh)
    return key, run


# -- summaries -------------------------------------------------------------------------------------------------
def _mean(v: list[float]) -> float | None:
    return round(float(np.mean(v)), 4) if v else None


def errors(runs: list[dict], truth: str, from_labels: int = 0) -> dict[str, Any]:
    """Estimate against ``truth`` (holdout_accuracy / test_accuracy) over the rounds with an estimate."""
    rs = [r for run in runs for r in run["rounds"] if r["labels"] >= from_labels and r["estimate"] is not None]
    err = [r["estimate"] - r[truth] for r in rs]
    inside = [r["interval"][0] - 1e-9 <= r[truth] <= r["interval"][1] + 1e-9 for r in rs]
    cv = [r["heldout_accuracy"] - r[truth] for run in runs for r in run["rounds"]
          if r["labels"] >= from_labels and r["heldout_accuracy"] is not None]
    return {"rounds": len(rs), "mae": _mean([abs(e) for e in err]), "bias": _mean(err),
            "max_abs": round(max(abs(e) for e in err), 4) if err else None,
            "coverage": _mean([float(x) for x in inside]),
            "width": _mean([r["interval"][1] - r["interval"][0] for r in rs]),
            "cv_mae": _mean([abs(e) for e in cv]), "cv_bias": _mean(cv)}


def decomposition(runs: list[dict], from_labels: int = 0, only: int | None = None) -> dict[str, Any]:
    """Where ``estimate - holdout`` comes from, with ``w`` the labeled share of the pool:

    - pool part: ``(1 - w) * (calibrated pool confidence + audit correction - true accuracy on the unlabeled pool)``;
    - labeled part: the rest, ``w * (CV accuracy of the labeled texts - the accuracy on texts like them that the
      holdout implies)``;

    plus the audit picks' held-out accuracy minus the holdout accuracy (how far the audit evidence is off)."""
    rs = [r for run in runs for r in run["rounds"] if r["estimate"] is not None and r["labels"] >= from_labels
          and (only is None or r["labels"] == only)]
    pool, lab, audit, shift = [], [], [], []
    for r in rs:
        p = r["parts"]
        w = p["labeled_share"]
        part = (1 - w) * (p["model_unlabeled"] + (p["audit_correction"] or 0.0) - r["unlabeled_pool_accuracy"])
        pool.append(part)
        lab.append(r["estimate"] - r["holdout_accuracy"] - part)
        if p.get("audit_accuracy") is not None:
            audit.append(p["audit_accuracy"] - r["holdout_accuracy"])
    for run in runs:
        shift += [r["test_accuracy"] - r["holdout_accuracy"] for r in run["rounds"] if r["labels"] >= from_labels
                  and (only is None or r["labels"] == only)]
    return {"rounds": len(rs), "pool_part": _mean(pool), "labeled_part": _mean(lab), "audit_minus_holdout":
            _mean(audit), "test_minus_holdout": _mean(shift),
            "labeled_share": _mean([r["parts"]["labeled_share"] for r in rs])}


def stop_vs_truth(run: dict, truth: str = "test_accuracy") -> dict[str, Any]:
    """The first round the product says stop, and the first whose true accuracy is within 1 point of the final."""
    rs = run["rounds"]
    final = rs[-1][truth]
    said = next((r["labels"] for r in rs if r["stop"]), None)
    reached = next(r["labels"] for r in rs if r[truth] >= final - 0.01)
    at_stop = next((r[truth] for r in rs if r["stop"]), None)
    return {"seed": run["seed"], "stop_at": said, "within_1pt_at": reached, "final": final,
            "accuracy_at_stop": at_stop, "short_by": None if at_stop is None else round(final - at_stop, 4)}


def summarize(runs: list[dict]) -> dict[str, Any]:
    """One row (a dataset at one audit share): the runs' rounds and the figures against the goals."""
    runs = sorted(runs, key=lambda r: r["seed"])
    labels = [r["labels"] for r in runs[0]["rounds"]]
    total = sum(len(r["rounds"]) for r in runs)
    missing = [r["labels"] for run in runs for r in run["rounds"] if r["estimate"] is None]

    def curve(k: str) -> list[float | None]:
        out = []
        for i in range(len(labels)):
            v = [run["rounds"][i][k] for run in runs if i < len(run["rounds"]) and run["rounds"][i][k] is not None]
            out.append(_mean(v))
        return out

    return {
        "seeds": len(runs), "seed_list": [r["seed"] for r in runs], "labels": labels,
        "rounds": total, "rounds_with_estimate": total - len(missing),
        "no_estimate_at": sorted(set(missing)),
        "test": {"all": errors(runs, "test_accuracy"), "from_500": errors(runs, "test_accuracy", FROM)},
        "holdout": {"all": errors(runs, "holdout_accuracy"), "from_500": errors(runs, "holdout_accuracy", FROM)},
        "curves": {k: curve(k) for k in ("estimate", "holdout_accuracy", "test_accuracy", "heldout_accuracy",
                                         "unlabeled_pool_accuracy", "audit_labels")},
        "stop": [stop_vs_truth(run) for run in runs],
        "decomposition": {"from_500": decomposition(runs, FROM), "last": decomposition(runs, only=labels[-1])},
        "interval_misses_holdout_last": sum(not (r["interval"][0] <= r["holdout_accuracy"] <= r["interval"][1])
                                            for run in runs for r in run["rounds"][-1:] if r["estimate"] is not None),
        "n_holdout": runs[0]["n_holdout"], "n_test": runs[0]["n_test"], "n_pool": runs[0]["n_pool"],
        "seconds": round(sum(r["seconds"] for r in runs), 1),
        "run_minutes": [round(r["seconds"] / 60, 1) for r in runs],
        "products": sorted({r["product"] for r in runs}),
        "runs": {str(r["seed"]): r["rounds"] for r in runs},
    }


def row_name(share: float) -> str:
    return f"audit {share:g}"


def derive(doc: dict) -> None:
    """Goal verdicts and the label cost (test accuracy, audit 0.05 minus audit 0, on the seeds both have)."""
    for block in doc.get("datasets", {}).values():
        rows = block.get("rows", {})
        main = rows.get(row_name(AUDIT))
        if not main:
            continue
        t = main["test"]
        block["goal"] = {"coverage_test": t["all"]["coverage"], "mae_test_from_500": t["from_500"]["mae"],
                         "coverage_met": t["all"]["coverage"] is not None and t["all"]["coverage"] >= GOAL_COVERAGE,
                         "mae_met": t["from_500"]["mae"] is not None and t["from_500"]["mae"] <= GOAL_MAE,
                         "coverage_holdout": main["holdout"]["all"]["coverage"],
                         "mae_holdout_from_500": main["holdout"]["from_500"]["mae"]}
        off = rows.get(row_name(0.0))
        block.pop("label_cost", None)
        if off:
            seeds = sorted(set(main["runs"]) & set(off["runs"]))
            if seeds:
                a = np.array([[r["test_accuracy"] for r in main["runs"][s]] for s in seeds])
                b = np.array([[r["test_accuracy"] for r in off["runs"][s]] for s in seeds])
                n = min(a.shape[1], b.shape[1])
                block["label_cost"] = {"seeds": [int(s) for s in seeds], "labels": main["labels"][:n],
                                       "audit": a[:, :n].mean(0).round(4).tolist(),
                                       "no_audit": b[:, :n].mean(0).round(4).tolist(),
                                       "difference": (a[:, :n] - b[:, :n]).mean(0).round(4).tolist()}


# -- plot and README -------------------------------------------------------------------------------------------
def plot(doc: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = [d for d, b in doc["datasets"].items() if row_name(AUDIT) in b.get("rows", {})]
    fig, axes = plt.subplots(len(datasets), 3, figsize=(16, 3.8 * len(datasets)), squeeze=False)
    for i, d in enumerate(datasets):
        block = doc["datasets"][d]
        row = block["rows"][row_name(AUDIT)]
        seed = min(row["runs"])
        rs = row["runs"][seed]
        x = [r["labels"] for r in rs]
        ax = axes[i][0]
        xe = [r["labels"] for r in rs if r["estimate"] is not None]
        ax.fill_between(xe, [r["interval"][0] for r in rs if r["estimate"] is not None],
                        [r["interval"][1] for r in rs if r["estimate"] is not None], alpha=0.2, label="90% interval")
        ax.plot(xe, [r["estimate"] for r in rs if r["estimate"] is not None], "o-", lw=2, ms=3, label="estimate")
        ax.plot(x, [r["holdout_accuracy"] for r in rs], "s--", ms=3, label="holdout (true)")
        ax.plot(x, [r["test_accuracy"] for r in rs], "^--", ms=3, label="test split (true)")
        ax.plot(x, [r["heldout_accuracy"] for r in rs], ":", label="CV on labeled (before)")
        ax.set_title(f"{d}, seed {seed}: estimate vs truth")
        ax = axes[i][1]
        for truth, style in (("test_accuracy", "-"), ("holdout_accuracy", "--")):
            err = [np.mean([abs(run[j]["estimate"] - run[j][truth]) for run in row["runs"].values()
                            if run[j]["estimate"] is not None] or [np.nan]) for j in range(len(x))]
            cv = [np.mean([abs(run[j]["heldout_accuracy"] - run[j][truth]) for run in row["runs"].values()])
                  for j in range(len(x))]
            name = truth.split("_")[0]
            ax.plot(x, err, "o" + style, ms=3, label=f"|estimate - {name}|")
            ax.plot(x, cv, "x" + style, ms=3, alpha=0.6, label=f"|CV - {name}|")
        ax.axhline(GOAL_MAE, color="k", lw=0.8, ls=":")
        ax.axvline(FROM, color="k", lw=0.8, ls=":")
        ax.set_ylim(0, 0.2)
        ax.set_title(f"{d}: absolute error (mean of {row['seeds']} seeds)")
        ax = axes[i][2]
        cost = block.get("label_cost")
        if cost:
            ax.plot(cost["labels"], cost["audit"], "o-", ms=3, label=f"audit_share {AUDIT:g}")
            ax.plot(cost["labels"], cost["no_audit"], "s--", ms=3, label="audit_share 0")
            ax.set_title(f"{d}: test accuracy, seeds {cost['seeds']}")
        else:
            ax.set_title(f"{d}: no audit_share 0 run")
        for ax in axes[i]:
            ax.set_xscale("log")
            ax.set_xlabel("labels")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _pct(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "–"
    return f"{x * 100:+.1f}" if signed else f"{x * 100:.1f}"


def _cov(x: float | None) -> str:
    return "–" if x is None else f"{x * 100:.0f}%"


def _sum(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


def where_it_loses(blocks: dict) -> list[str]:
    """Sentences on where the estimate misses, from the figures (none when it does not)."""
    out = []
    for d, b in blocks.items():
        r = b["rows"][row_name(AUDIT)]
        a, z = r["decomposition"]["from_500"], r["decomposition"]["last"]
        shift, bias_h = a["test_minus_holdout"], r["holdout"]["from_500"]["bias"]
        if shift is not None and abs(shift) >= GOAL_MAE:
            out.append(f"{d}: the official test split is {abs(shift) * 100:.1f} points "
                       f"{'easier' if shift > 0 else 'harder'} than the holdout drawn like the pool (from {FROM} labels "
                       f"on). The estimate follows the pool (MAE vs holdout "
                       f"{_pct(r['holdout']['from_500']['mae'])} points), so against the test split it misses by about "
                       "that shift, and its interval, sized for the pool, rarely reaches the test accuracy.")
        if r["interval_misses_holdout_last"]:
            big = "labeled" if abs(z["labeled_part"] or 0) >= abs(z["pool_part"] or 0) else "pool"
            out.append(f"{d}: at {r['labels'][-1]} labels the interval missed the holdout accuracy in "
                       f"{r['interval_misses_holdout_last']} of {r['seeds']} seeds: the estimate was "
                       f"{_pct(_sum(z['pool_part'], z['labeled_part']), True)} points off, mostly the {big} part "
                       f"({_pct(z[big + '_part'], True)}; labeled share w = {fmt(z['labeled_share'], 2)}).")
        elif bias_h is not None and abs(bias_h) < GOAL_MAE and (shift is None or abs(shift) < GOAL_MAE):
            out.append(f"{d}: no systematic error from {FROM} labels on (bias {_pct(bias_h, True)} points vs the "
                       "holdout).")
    return out


def readme_section(doc: dict) -> str:
    blocks = {d: b for d, b in doc["datasets"].items() if row_name(AUDIT) in b.get("rows", {})}
    first = next(iter(blocks.values()))
    meta = first["meta"]
    products = sorted({p for b in blocks.values() for r in b["rows"].values() for p in r["products"]})
    minutes = "; ".join(f"{d} {min(m):.0f}" + (f"-{max(m):.0f}" if round(max(m)) != round(min(m)) else "")
                        for d, b in blocks.items()
                        for m in [[x for r in b["rows"].values() for x in r.get("run_minutes", [])]] if m)
    seeds_note = "; ".join(f"{d}: seeds {b['meta']['seeds']}, audit 0: {b['meta']['audit0_seeds']}"
                           for d, b in blocks.items())
    lines = [
        "## Honest metrics (`benchmarks/honest_metrics.py`)",
        "",
        ("Is the accuracy the product shows an estimate of the traffic? End to end on the product: per dataset and "
        "seed a real project (labels with the `benchmarks/data/` descriptions, encoder "
        f"{meta['encoder']}, `sampler.audit_share` {AUDIT:g}) whose pool is 85% of the training split (seeded "
        "uniform draw); the other 15% (*holdout*) is never imported and is drawn like the pool. Each round: "
        "`loop/suggest.py: suggest` -> the gold labels of the suggested texts as annotations -> "
        f"`loop/trainer.py: train_and_register(project, \"{MODEL_TYPE}\", deploy=True)`; then the model's "
        "`metrics.accuracy` (the estimate), `accuracy_interval` (90%) and `heldout_accuracy` (cross-validation on the "
        "labeled texts: what the product showed before) against the deployed version's accuracy on the holdout and "
        f"on the official test split. Budgets {meta['budgets']}. Seeds: {seeds_note}. Product version: "
        f"{', '.join(products)}. Minutes per run of {len(meta['budgets'])} rounds: {minutes} (4 runs at a time on the "
        f"shared 2-core machine, load 20-30). Plot: `results/{NAME}.png`."),
        "",
        (f"**Goal:** the 90% interval contains the test accuracy in >= {GOAL_COVERAGE:.0%} of rounds, and the mean "
        f"absolute error is <= {GOAL_MAE * 100:.0f} points from {FROM} labels on. Errors in points; *CV* is the "
        "held-out accuracy on the labeled texts for comparison. The holdout columns measure what the estimate "
        "claims (texts drawn like the pool); the test columns are the goal's."),
        "",
        ("| dataset | rounds with an estimate | MAE vs test ≥500 | MAE vs holdout ≥500 | max error vs test (≥500 / all) "
        "| bias vs test / holdout ≥500 | coverage of test (all / ≥500) | coverage of holdout (all / ≥500) "
        "| mean interval width (all / ≥500) | CV MAE vs test / holdout ≥500 | test − holdout ≥500 | goal |"),
        "|---" * 12 + "|",
    ]
    for d, b in blocks.items():
        r = b["rows"][row_name(AUDIT)]
        t, h, g = r["test"], r["holdout"], b["goal"]
        verdict = ("**met**" if g["coverage_met"] and g["mae_met"] else
                   "not met (" + ", ".join(x for x, ok in (("coverage", g["coverage_met"]), ("MAE", g["mae_met"]))
                                           if not ok) + ")")
        lines.append(
            f"| {d} | {r['rounds_with_estimate']}/{r['rounds']} | {_pct(t['from_500']['mae'])} "
            f"| {_pct(h['from_500']['mae'])} | {_pct(t['from_500']['max_abs'])} / {_pct(t['all']['max_abs'])} "
            f"| {_pct(t['from_500']['bias'], True)} / {_pct(h['from_500']['bias'], True)} "
            f"| {_cov(t['all']['coverage'])} / {_cov(t['from_500']['coverage'])} "
            f"| {_cov(h['all']['coverage'])} / {_cov(h['from_500']['coverage'])} "
            f"| ±{_pct(t['all']['width'] / 2 if t['all']['width'] else None)} / "
            f"±{_pct(t['from_500']['width'] / 2 if t['from_500']['width'] else None)} "
            f"| {_pct(t['from_500']['cv_mae'])} / {_pct(h['from_500']['cv_mae'])} "
            f"| {_pct(r['decomposition']['from_500']['test_minus_holdout'], True)} | {verdict} |")
    lines += ["", "Rounds without an estimate (fewer than max(50, 2 × labels) held-out predictions: the product says "
              "so and shows the held-out accuracy): " + "; ".join(
                  f"{d} at {b['rows'][row_name(AUDIT)]['no_estimate_at'] or 'none'}" for d, b in blocks.items()) + ".",
              "", "Per budget (mean over seeds; estimate / holdout / test / CV on the labeled texts):", "",
              "| dataset | " + " | ".join(str(x) for x in first["rows"][row_name(AUDIT)]["labels"]) + " |",
              "|---" * (len(first["rows"][row_name(AUDIT)]["labels"]) + 1) + "|"]
    for d, b in blocks.items():
        c = b["rows"][row_name(AUDIT)]["curves"]
        cells = [f"{fmt(e)} / {fmt(h)} / {fmt(t)} / {fmt(v)}" for e, h, t, v in
                 zip(c["estimate"], c["holdout_accuracy"], c["test_accuracy"], c["heldout_accuracy"])]
        lines.append(f"| {d} | " + " | ".join(cells) + " |")
    last = first["meta"]["budgets"][-1]
    lines += ["", ("**Where the error comes from** (points, mean over seeds): estimate − holdout = *pool part* "
              "(1 − w) × (calibrated confidence on the unlabeled pool + audit correction − the model's true accuracy "
              "there) + *labeled part* w × (cross-validated accuracy of the labeled texts − the accuracy on texts like "
              "them that the holdout implies), w = labeled share of the pool. *Audit − holdout*: the audit picks' "
              "held-out (k-fold) accuracy minus the holdout accuracy."), "",
              (f"| dataset | estimate − holdout ≥500 | pool part ≥500 | labeled part ≥500 | at {last}: estimate − "
              f"holdout | pool part | labeled part | w | audit − holdout ≥500 | intervals missing the holdout at "
              f"{last} |"), "|---" * 10 + "|"]
    for d, b in blocks.items():
        r = b["rows"][row_name(AUDIT)]
        a, z = r["decomposition"]["from_500"], r["decomposition"]["last"]
        lines.append(f"| {d} | {_pct(r['holdout']['from_500']['bias'], True)} | {_pct(a['pool_part'], True)} "
                     f"| {_pct(a['labeled_part'], True)} | {_pct(_sum(z['pool_part'], z['labeled_part']), True)} "
                     f"| {_pct(z['pool_part'], True)} | {_pct(z['labeled_part'], True)} | {fmt(z['labeled_share'], 2)} "
                     f"| {_pct(a['audit_minus_holdout'], True)} | {r['interval_misses_holdout_last']}/{r['seeds']} |")
    lines += [""] + [f"- {x}" for x in where_it_loses(blocks)]
    lines += ["", ("**Stop advice** (kappa >= 0.95 between consecutive versions) against the truth: the first budget "
              "the product says stop, and the first whose test accuracy is within 1 point of the accuracy at "
              f"{first['meta']['budgets'][-1]} labels (per seed; *short* = final minus accuracy at the stop):"), "",
              "| dataset | seed | says stop at | within 1 point at | short by (points) |", "|---|---|---|---|---|"]
    for d, b in blocks.items():
        for s in b["rows"][row_name(AUDIT)]["stop"]:
            lines.append(f"| {d} | {s['seed']} | {s['stop_at'] or 'never'} | {s['within_1pt_at']} "
                         f"| {_pct(s['short_by'])} |")
    lines += ["", (f"**Label cost of the estimate**: test accuracy with `audit_share` {AUDIT:g} minus with 0 (same "
              "seeds, same budgets; the audit picks are labels the sampler does not choose):"), ""]
    cost_blocks = {d: b["label_cost"] for d, b in blocks.items() if b.get("label_cost")}
    if cost_blocks:
        labs = next(iter(cost_blocks.values()))["labels"]
        lines += ["| dataset | seeds | " + " | ".join(str(x) for x in labs) + " | mean |",
                  "|---" * (len(labs) + 3) + "|"]
        for d, c in cost_blocks.items():
            lines.append(f"| {d} | {c['seeds']} | " + " | ".join(_pct(x, True) for x in c["difference"])
                         + f" | {_pct(float(np.mean(c['difference'])), True)} |")
        lines += ["", ("Without audit picks the estimate is the calibrated pool confidence alone (method "
                  "`calibrated-pool`):"), "",
                  ("| dataset | MAE vs test ≥500 | MAE vs holdout ≥500 | coverage of test (all) | coverage of holdout "
                  "(all) |"), "|---|---|---|---|---|"]
        for d in cost_blocks:
            r = blocks[d]["rows"][row_name(0.0)]
            lines.append(f"| {d} | {_pct(r['test']['from_500']['mae'])} | {_pct(r['holdout']['from_500']['mae'])} "
                         f"| {_cov(r['test']['all']['coverage'])} | {_cov(r['holdout']['all']['coverage'])} |")
    notes = doc.get("notes")
    if notes:
        lines += ["", notes.strip()]
    return "\n".join(lines) + "\n"


# -- main ------------------------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    common.add_dataset_args(ap, DEFAULT_DATASETS)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--audit0-seeds", nargs="*", type=int, default=[0],
                    help="seeds also run with sampler.audit_share 0 (the label cost); none: skip")
    ap.add_argument("--seeds-for", nargs="*", default=[], metavar="DATASET=S,S",
                    help="fewer seeds for a dataset, e.g. banking77=0,1")
    ap.add_argument("--budgets", nargs="+", type=int, default=list(BUDGETS))
    ap.add_argument("--encoder", default="minilm")
    ap.add_argument("--jobs", type=int, default=1, help="runs in parallel (processes)")
    ap.add_argument("--runs-only", action="store_true", help="compute and save runs; write no results")
    ap.add_argument("--notes", default=None, help="a markdown file appended to the README section")
    ap.add_argument("--no-readme", action="store_true")
    ap.add_argument("--readme-only", action="store_true", help="rewrite the plot and README section from the JSON")
    common.add_publish_args(ap, tag=False)
    args = ap.parse_args()
    common.apply_common_args(args)
    if not args.readme_only:
        budgets = tuple(sorted(args.budgets))
        root = str(args.data_root) if args.data_root else None
        per_ds = {k: [int(s) for s in v.split(",")] for k, _, v in (x.partition("=") for x in args.seeds_for)}
        tasks, keys = [], {}
        for spec in args.datasets:
            ds = common.load_dataset(spec)
            X = ds.embed("train", args.encoder)  # fills the benchmark cache once, before the workers start
            ds.embed("test", args.encoder)
            idx = np.random.default_rng(0).choice(len(X), size=5, replace=False)
            diff = check_vectors(args.encoder, [ds.texts("train")[i] for i in idx], X[idx])
            print(f"{ds.key}: cached vs product-computed embeddings, max |diff| = {diff:.2e}")
            if diff > 1e-4:
                raise SystemExit(f"{ds.key}: cached embeddings differ from the product's ({diff:.2e})")
            seeds = per_ds.get(ds.key, args.seeds)
            for share, ss in ((AUDIT, seeds), (0.0, [s for s in args.audit0_seeds if s in seeds])):
                for seed in ss:
                    key = run_key(ds, seed, share, budgets, args.encoder)
                    keys[(ds.key, share, seed)] = key
                    if not (RUNS_DIR / f"{key}.json").is_file():
                        tasks.append((key, spec, root, seed, share, budgets, args.encoder))
        print(f"{len(keys)} runs, {len(tasks)} to compute", flush=True)
        if tasks:
            if args.jobs > 1:
                import multiprocessing as mp

                with ProcessPoolExecutor(args.jobs, mp_context=mp.get_context("spawn")) as pool:
                    futures = [pool.submit(_run_task, t) for t in tasks]
                    for f in as_completed(futures):
                        key, run = f.result()
                        print(f"done {key} in {run['seconds']:.0f}s", flush=True)
            else:
                for t in tasks:
                    key, run = _run_task(t)
                    print(f"done {key} in {run['seconds']:.0f}s", flush=True)
        if args.runs_only:
            return
        result: dict = {"datasets": {}}
        for spec in args.datasets:
            ds = common.load_dataset(spec)
            seeds = per_ds.get(ds.key, args.seeds)
            rows = {}
            for share in (AUDIT, 0.0):
                runs = [common.read_json(RUNS_DIR / f"{k}.json") for (d, s, _), k in keys.items()
                        if d == ds.key and s == share]
                if runs:
                    rows[row_name(share)] = summarize(runs)
            meta = {"seeds": sorted(seeds), "audit0_seeds": sorted(s for s in args.audit0_seeds if s in seeds),
                    "budgets": list(budgets), "encoder": args.encoder, "model": MODEL_TYPE,
                    "audit_share": AUDIT, "holdout_share": HOLD_SHARE, "descriptions": ds.descriptions_hash}
            result["datasets"][ds.key] = {"meta": meta, "info": ds.info(), "rows": rows}
        if args.notes:
            result["notes"] = Path(args.notes).read_text(encoding="utf-8")
        path, published = common.write_results(NAME, result, publish=args.publish,
                                                coverage=("seeds", "audit0_seeds", "budgets"), finalize=derive)
        doc = common.read_json(path)
        for d in result["datasets"]:
            g = doc["datasets"][d].get("goal") or {}
            print(f"{d}: coverage of test {g.get('coverage_test')}, MAE vs test >=500 {g.get('mae_test_from_500')}, "
                  f"holdout: {g.get('coverage_holdout')}, {g.get('mae_holdout_from_500')}")
        if not published:
            print(readme_section({**doc, "datasets": {d: doc["datasets"][d] for d in result["datasets"]}}))
            return
    doc = common.load_results(NAME)
    plot(doc, RESULTS / f"{NAME}.png")
    if not args.no_readme:
        common.write_section(NAME, readme_section(doc))


if __name__ == "__main__":
    main()

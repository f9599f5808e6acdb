"""Active-learning curves: every sampler against random, with simulated annotators (the datasets' gold labels).

Start from zero labels; each round a strategy picks the next batch from the training split (the pool), the
"annotator" labels it with the gold label, a logistic head is retrained on frozen embeddings
(``EmbeddingHeadClassifier.fit_embeddings``, embedded once through the benchmark cache) and evaluated on the test
split. The first round has no labels: strategies that need a model see the zero-shot model built from the label
descriptions (what a user of ``labelf init`` has), random sees nothing. Multi-label datasets (a ``labels`` column)
are scored by micro-F1 in the "accuracy" column.

Usage:
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/active_learning.py                 # published datasets, 3 seeds
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/active_learning.py --datasets trec mydata:my_descriptions.yaml
    .venv/bin/python benchmarks/active_learning.py --datasets banking77 --seeds 0 --strategies combined random \\
        --params '{"density_weight": 1.0}' --tag tune-d1                                # a tuning variant
    .venv/bin/python benchmarks/active_learning.py --strategies combined random --pool-learning off self auto
        # the head also learns from the unlabeled pool (loop/semi_supervised.py): results/active_learning_pool.json

Multi-label, long texts (whole conversations), on a sample of the splits (its own README table and
results/active_learning_multilabel.png):
    .venv/bin/python benchmarks/active_learning.py --datasets sgd_conversations --pool-size 4000 --test-size 1000 \
        --seeds 0 1 --budgets 32 64 128 256 512 --strategies combined uncertainty random

Rows (one per dataset and strategy) are merged into benchmarks/results/active_learning.json, then the plot and the
``active_learning`` README section are rebuilt from it. A run with fewer seeds or budgets than the published
dataset, or other weights, encoder or descriptions, is partial: it goes to results/active_learning.partial.json
(and the README is left alone) unless --publish; a --tag variant goes into results/active_learning_tuning.json.
Runs are saved as they finish (results/cache/, ignored) and reused by a later call with the same settings, so an
interrupted benchmark resumes where it stopped.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # the machine is shared: one core for the rounds
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import common  # noqa: E402
import numpy as np  # noqa: E402
from common import RESULTS, SCRATCH  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score, recall_score  # noqa: E402

from labelf_trainer.config import SamplerConfig  # noqa: E402
from labelf_trainer.io_utils import atomic_writer  # noqa: E402
from labelf_trainer.loop.semi_supervised import METHODS as POOL_METHODS  # noqa: E402
from labelf_trainer.loop.advice import expected_gain  # noqa: E402
from labelf_trainer.loop.stopping import STOP_KAPPA, STOP_SET_SIZE, cohen_kappa  # noqa: E402
from labelf_trainer.loop.semi_supervised import fit_with_pool  # noqa: E402
from labelf_trainer.models.embedding_head import EmbeddingHeadClassifier  # noqa: E402
from labelf_trainer.models.zero_shot import DEFAULT_MULTI_BIAS, DEFAULT_TEMPERATURE, sigmoid, softmax  # noqa: E402
from labelf_trainer.strategies import CombinedSampler, Pool, make_strategy  # noqa: E402

NAME = "active_learning"
DEFAULT_DATASETS = ("banking77", "trec", "bitext_customer_support")
STRATEGIES = ("combined", "uncertainty", "diversity", "rare", "random")
BUDGETS = (50, 100, 150, 200, 300, 400, 500, 750, 1000, 1500, 2000)
REPORT_AT = (100, 200, 500, 1000, 2000)
WEIGHTS = ("uncertainty_weight", "density_weight", "diversity_weight", "rare_quota", "rare_target")
MODEL = "EmbeddingHeadClassifier (logistic regression, C=10)"
#: Results of the unlabeled-pool runs (``--pool-learning``): results/active_learning_pool.json, their own table.
POOL_NAME = NAME + "_pool"


def load(spec: common.DatasetSpec, encoder: str = "minilm", long_texts: str = "windows",
         pool_size: int | None = None, test_size: int | None = None) -> dict:
    """Embeddings, targets and embedded label descriptions of a dataset (through the benchmark cache).

    Texts are embedded under the product's ``long_texts:`` policy (``windows``: a text longer than the encoder's
    window is the mean of its windows' vectors, as ``labelf train`` embeds it; ``truncate``: its first window); a
    text that fits one window has the vector it always had. ``pool_size`` / ``test_size``: a fixed random sample
    (seed 0, same rows for every strategy and seed) of the train / test split instead of the whole split."""
    ds = common.load_dataset(spec)
    rows = {split: sample_rows(len(ds.frame(split)), size)
            for split, size in (("train", pool_size), ("test", test_size))}
    emb = long_text_embedder(encoder, long_texts)

    def vectors(split: str) -> np.ndarray:
        texts = ds.texts(split)
        return np.asarray(emb.embed([texts[i] for i in rows[split]], description=f"{ds.key} {split}"),
                          dtype=np.float32)

    return {"name": ds.key, "classes": ds.classes, "multi_label": ds.multi_label, "dataset": ds,
            "X": vectors("train"), "y": ds.y("train")[rows["train"]],
            "X_test": vectors("test"), "y_test": ds.y("test")[rows["test"]],
            "protos": ds.label_embeddings(encoder), "long_texts": emb.key,
            "sample": {k: v for k, v in (("pool_size", pool_size), ("test_size", test_size)) if v is not None}}


def sample_rows(n: int, size: int | None) -> np.ndarray:
    """All ``n`` rows, or ``size`` of them drawn with ``default_rng(0)`` (in their original order)."""
    if size is None or size >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, size=size, replace=False))


def long_text_embedder(encoder: str, strategy: str):
    """The product's long-text embedder on the benchmark cache (pooled text vectors; no turn vectors: the head is
    trained and scored on one vector per text)."""
    from labelf_trainer.embeddings.long_texts import LongTextEmbedder
    from labelf_trainer.embeddings.windows import LongTextPolicy

    return LongTextEmbedder(common.embedder(encoder), LongTextPolicy(strategy=strategy, turn_scores=False))


def build_strategy(name: str, params: dict, seed: int):
    if name == "combined" and params:
        return CombinedSampler(**{**_combined_defaults(), **params}, random_state=seed)
    return make_strategy(name, SamplerConfig(), random_state=seed)


def _combined_defaults() -> dict:
    cfg = SamplerConfig()
    return {"uncertainty_weight": cfg.uncertainty_weight, "density_weight": cfg.density_weight,
            "diversity_weight": cfg.diversity_weight, "rare_quota": cfg.rare_quota, "rare_target": cfg.rare_target,
            "near_duplicate_threshold": cfg.near_duplicate_threshold}


def _scores(y_true: np.ndarray, pred: np.ndarray, smallest: int, multi: bool) -> tuple[float, float, float]:
    """(accuracy or, multi-label, micro-F1; macro-F1; recall of the smallest class)."""
    if multi:
        acc = f1_score(y_true, pred, average="micro", zero_division=0)
        rec = recall_score(y_true[:, smallest], pred[:, smallest], zero_division=0)
    else:
        acc = accuracy_score(y_true, pred)
        rec = recall_score(y_true, pred, labels=[smallest], average="macro", zero_division=0)
    return float(acc), float(f1_score(y_true, pred, average="macro", zero_division=0)), float(rec)


def simulate(ds: dict, strategy: str, seed: int, budgets: tuple[int, ...], params: dict,
             pool_method: str = "off") -> dict:
    """One learning curve: labels -> accuracy, macro-F1, smallest class's recall, selection seconds.

    ``pool_method`` (:mod:`labelf_trainer.loop.semi_supervised`): the head also learns from pseudo-labels of the
    unlabeled pool, and the sampler of the next round reads that model's scores (the model that is trained)."""
    X, y, classes, multi = ds["X"], ds["y"], ds["classes"], ds["multi_label"]
    counts = y.sum(axis=0) if multi else np.bincount(y, minlength=len(classes))
    smallest = int(np.argmin(np.where(counts > 0, counts, counts.max() + 1)) if multi else counts.argmin())
    sims = (X @ ds["protos"].T).astype(np.float64)
    proba = (sigmoid((sims - DEFAULT_MULTI_BIAS) / DEFAULT_TEMPERATURE) if multi
             else softmax(sims / DEFAULT_TEMPERATURE))  # zero-shot model
    gold = ([tuple(classes[j] for j in np.flatnonzero(row)) for row in y] if multi
            else [(classes[i],) for i in y])
    labeled = np.zeros(0, dtype=np.int64)
    curve: dict[str, list] = {"labels": [], "accuracy": [], "f1_macro": [], "smallest_recall": [], "select_s": [],
                              "kappa": []}
    stop_rows = np.sort(np.random.default_rng(0).choice(len(y), size=min(STOP_SET_SIZE, len(y)), replace=False))
    prev_dec = None
    for rnd, budget in enumerate(budgets):
        unlabeled = np.setdiff1d(np.arange(len(y)), labeled)
        pool = Pool(X, classes, proba=proba, labels={int(r): gold[r] for r in labeled},
                    label_embeddings=ds["protos"], multi_label=multi)
        t0 = time.perf_counter()
        sel = build_strategy(strategy, params, seed * 1000 + rnd).query(pool, unlabeled, labeled, budget - len(labeled))
        curve["select_s"].append(round(time.perf_counter() - t0, 3))
        labeled = np.concatenate([labeled, sel.indices])
        head = EmbeddingHeadClassifier(labels=classes, random_state=seed, multi_label=multi)
        y_lab = [gold[i] for i in labeled] if multi else [classes[i] for i in y[labeled]]
        t1 = time.perf_counter()
        if pool_method == "off":
            head.fit_embeddings(X[labeled], y_lab)
        else:
            rest = np.setdiff1d(np.arange(len(y)), labeled)
            method = pool_method
            if method == "auto":  # what `labelf train` does: both cross-validated, the better one trained
                method = choose_by_cv(ds, X[labeled], y_lab, X[rest], seed * 1000 + rnd)
                curve.setdefault("chosen", []).append(method)
            info = fit_with_pool(head, X[labeled], y_lab, X[rest], method=method, seed=seed * 1000 + rnd)
            curve.setdefault("pseudo_labels", []).append(info["pseudo_labels"])
        curve.setdefault("train_s", []).append(round(time.perf_counter() - t1, 3))
        proba = head.predict_proba_embeddings(X)
        dec = (proba[stop_rows] >= head.threshold).astype(int).ravel() if multi else proba[stop_rows].argmax(axis=1)
        curve["kappa"].append(None if prev_dec is None else round(cohen_kappa(dec, prev_dec), 4))
        prev_dec = dec
        test_proba = head.predict_proba_embeddings(ds["X_test"])
        pred = (test_proba >= head.threshold).astype(int) if multi else test_proba.argmax(axis=1)
        acc, f1, rec = _scores(ds["y_test"], pred, smallest, multi)
        curve["labels"].append(int(len(labeled)))
        curve["accuracy"].append(round(acc, 4))
        curve["f1_macro"].append(round(f1, 4))
        curve["smallest_recall"].append(round(rec, 4))
    curve["smallest_class"] = classes[smallest]
    return curve


def zero_shot_scores(ds: dict) -> dict:
    """Test scores of the zero-shot model from the label descriptions (the model the first batch is chosen with,
    before any label): accuracy or micro-F1, and macro-F1."""
    sims = (ds["X_test"] @ ds["protos"].T).astype(np.float64)
    if ds["multi_label"]:
        pred = (sigmoid((sims - DEFAULT_MULTI_BIAS) / DEFAULT_TEMPERATURE) >= 0.5).astype(int)
    else:
        pred = sims.argmax(axis=1)
    acc, f1, _ = _scores(ds["y_test"], pred, 0, ds["multi_label"])
    return {"accuracy": round(acc, 4), "f1_macro": round(f1, 4)}


def choose_by_cv(ds: dict, X_lab: np.ndarray, y_lab: list, X_rest: np.ndarray, seed: int) -> str:
    """``self`` or ``off``: the better k-fold accuracy on the labeled texts (labels only on a tie), with the
    trainer's split (:func:`~labelf_trainer.evaluation.splits.plan_split`, at most 5 folds)."""
    from labelf_trainer.evaluation.splits import plan_split

    plan = plan_split(y_lab, multi_label=False, eval_split=0.2, seed=42, max_folds=5, holdout=False)
    rows = plan.eval_indices
    y_arr = np.asarray(y_lab, dtype=object)
    acc = {}
    for method in ("self", "off"):
        pred = np.empty(len(y_lab), dtype=object)
        for f in range(plan.k):
            tr, ev = plan.train_indices(f), plan.folds[f]
            head = EmbeddingHeadClassifier(labels=ds["classes"], random_state=0)
            fit_with_pool(head, X_lab[tr], list(y_arr[tr]), X_rest, method=method, seed=seed)
            pred[ev] = np.asarray(ds["classes"], dtype=object)[head.predict_proba_embeddings(X_lab[ev]).argmax(1)]
        acc[method] = float((pred[rows] == y_arr[rows]).mean()) if len(rows) else 0.0
    return "self" if acc["self"] > acc["off"] else "off"


def run_key(dataset: str, strategy: str, seed: int, budgets: tuple[int, ...], params: dict, setting: str,
            pool_method: str = "off") -> str:
    p = json.dumps(params if strategy == "combined" else {}, sort_keys=True)
    h = hashlib.sha256(f"{budgets}|{p}|{setting}".encode()).hexdigest()[:10]
    return f"{dataset}/{row_name(strategy, pool_method)}/{seed}/{h}"


def row_name(strategy: str, pool_method: str) -> str:
    """``combined`` for the head on labels only, ``combined+self`` with pool pseudo-labels by self-training."""
    return strategy if pool_method == "off" else f"{strategy}+{pool_method}"


def summarize(curves: dict[int, dict]) -> dict:
    """Mean and spread over seeds of one (dataset, strategy), plus each seed's accuracy curve."""
    seeds = sorted(curves)
    cs = [curves[s] for s in seeds]
    acc = np.array([c["accuracy"] for c in cs])
    f1 = np.array([c["f1_macro"] for c in cs])
    rec = np.array([c["smallest_recall"] for c in cs])
    return {"labels": cs[0]["labels"], "seeds": len(cs), "seed_list": seeds,
            "accuracy_mean": acc.mean(0).round(4).tolist(), "accuracy_min": acc.min(0).tolist(),
            "accuracy_max": acc.max(0).tolist(), "f1_mean": f1.mean(0).round(4).tolist(),
            "f1_min": f1.min(0).tolist(), "f1_max": f1.max(0).tolist(),
            "smallest_recall_mean": rec.mean(0).round(4).tolist(),
            "smallest_class": cs[0]["smallest_class"],
            "select_s_mean": round(float(np.mean([np.mean(c["select_s"]) for c in cs])), 3),
            **({"train_s_mean": round(float(np.mean([np.mean(c["train_s"]) for c in cs])), 3)}
               if all("train_s" in c for c in cs) else {}),
            **({"pseudo_labels_mean": np.mean([c["pseudo_labels"] for c in cs], axis=0).round(0).tolist()}
               if all("pseudo_labels" in c for c in cs) else {}),
            "aulc": aulc(cs[0]["labels"], acc.mean(0).tolist()),
            **({"kappa_by_seed": {str(s): c["kappa"] for s, c in zip(seeds, cs)}}
               if all("kappa" in c for c in cs) else {}),
            **({"chosen_by_seed": {str(s): c["chosen"] for s, c in zip(seeds, cs)}}
               if all("chosen" in c for c in cs) else {}),
            "accuracy_by_seed": {str(s): c["accuracy"] for s, c in zip(seeds, cs)}}


def aulc(labels: list[int], acc: list[float]) -> float:
    """Area under the learning curve over log(labels), normalised to [0, 1] (mean accuracy, each doubling of the
    labels weighing the same)."""
    x = np.log(np.asarray(labels, dtype=np.float64))
    if len(x) < 2:
        return round(float(acc[0]), 4) if acc else 0.0
    a = np.asarray(acc, dtype=np.float64)
    return round(float(((a[1:] + a[:-1]) / 2 * np.diff(x)).sum() / (x[-1] - x[0])), 4)


def derive(doc: dict) -> None:
    """The headline comparisons with random, per dataset, from the merged rows."""
    for block in doc.get("datasets", {}).values():
        rows = block.get("rows", {})
        for k in ("labels_to_match_random_final", "random_final_accuracy", "combined_beats_random_up_to_1000"):
            block.pop(k, None)
        if "combined" in rows and "random" in rows:
            c, r = rows["combined"], rows["random"]
            target = r["accuracy_mean"][-1]
            block["labels_to_match_random_final"] = labels_to_reach(c["labels"], c["accuracy_mean"], target)
            block["random_final_accuracy"] = target
            block["combined_beats_random_up_to_1000"] = all(
                ca > ra for b, ca, ra in zip(c["labels"], c["accuracy_mean"], r["accuracy_mean"]) if b <= 1000)


def labels_to_reach(labels: list[int], acc: list[float], target: float) -> float | None:
    """Labels at which the (linearly interpolated) curve first reaches ``target``; None if it never does."""
    prev_b, prev_a = 0, 0.0
    for b, a in zip(labels, acc):
        if a >= target:
            return float(b) if a == prev_a else round(prev_b + (b - prev_b) * (target - prev_a) / (a - prev_a))
        prev_b, prev_a = b, a
    return None


def ordered_rows(block: dict) -> list[str]:
    rows = block.get("rows", {})
    return [s for s in STRATEGIES if s in rows] + [s for s in rows if s not in STRATEGIES]


def plot(doc: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(doc["datasets"])
    fig, axes = plt.subplots(len(datasets), 2, figsize=(12, 3.6 * len(datasets)), squeeze=False)
    for i, d in enumerate(datasets):
        block = doc["datasets"][d]
        acc_name = "micro-F1" if block.get("info", {}).get("multi_label") else "accuracy"
        for j, (metric, title) in enumerate((("accuracy", acc_name), ("f1", "macro-F1"))):
            ax = axes[i][j]
            for s in ordered_rows(block):
                res = block["rows"][s]
                x = res["labels"]
                ax.plot(x, res[f"{metric}_mean"], marker="o", ms=3, label=s,
                        lw=2.2 if s == "combined" else 1.2, ls="--" if s == "random" else "-")
                ax.fill_between(x, res[f"{metric}_min"], res[f"{metric}_max"], alpha=0.15)
            ax.set_xscale("log")
            ax.set_xlabel("labels")
            ax.set_title(f"{d}: test {title} (mean, min-max over seeds)")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _header(meta: dict) -> str:
    return (f"`benchmarks/active_learning.py`: logistic head on frozen {meta['encoder']} embeddings, retrained after "
            f"every batch; seeds {meta['seeds']}; pool = train split, metric on the test split; budgets "
            f"{list(meta['budgets'])}. Combined sampler weights: `{json.dumps(meta['combined_params'])}`. Plot: "
            "`results/active_learning.png`. The first batch (no labels) of model-based strategies uses the zero-shot "
            "model from the label descriptions; uncertainty sampling is then deterministic, so its seeds coincide. "
            "Selection seconds are wall time per round on the shared 2-core machine (one BLAS thread).")


def report_columns(labels: list[int]) -> tuple[list[int], int]:
    """Budgets shown in the README table (``REPORT_AT``, or the run's own when it has fewer than two of them) and the
    budget of the smallest-class recall column (500, or the middle one)."""
    cols = [b for b in REPORT_AT if b in labels]
    if len(cols) < 2:
        cols = list(labels) if len(labels) <= 6 else [labels[round(i * (len(labels) - 1) / 5)] for i in range(6)]
    return cols, 500 if 500 in labels else labels[len(labels) // 2]


def readme_section(doc: dict) -> str:
    blocks = doc["datasets"]
    metas = {d: {k: v for k, v in b["meta"].items() if k != "descriptions"} for d, b in blocks.items()}
    first = next(iter(metas.values()))
    lines = [_header(first), ""]
    for d, block in blocks.items():
        strategies = ordered_rows(block)
        if not strategies:
            continue
        multi = block.get("info", {}).get("multi_label")
        rows = block["rows"]
        note = ""
        if metas[d] != first:
            m = metas[d]
            note = f"; seeds {m['seeds']}, budgets {list(m['budgets'])}, weights `{json.dumps(m['combined_params'])}`"
        cols, at = report_columns(rows[strategies[0]]["labels"])
        n_seeds = rows[strategies[0]]["seeds"]
        lines += [f"**{d}** (test {'micro-F1' if multi else 'accuracy'}, mean of {n_seeds} "
                  f"seed{'s' if n_seeds != 1 else ''}{note})", "",
                  "| strategy | " + " | ".join(str(b) for b in cols) + f" | smallest class recall @{at} "
                  "| selection s/round |", "|---" * (len(cols) + 3) + "|"]
        for s in strategies:
            r = rows[s]
            acc = [f"{r['accuracy_mean'][r['labels'].index(b)]:.3f}" if b in r["labels"] else "-" for b in cols]
            rec = r["smallest_recall_mean"][r["labels"].index(at)] if at in r["labels"] else None
            lines.append(f"| {s} | " + " | ".join(acc) + f" | {'-' if rec is None else f'{rec:.2f}'} "
                         f"| {r['select_s_mean']:.2f} |")
        if "labels_to_match_random_final" in block:
            need = block["labels_to_match_random_final"]
            last = rows["random"]["labels"][-1]
            lines += ["", f"Smallest class: `{rows[strategies[0]]['smallest_class']}`. Random reaches "
                      f"{block['random_final_accuracy']:.3f} at {last} labels; the combined sampler "
                      + (f"reaches it at about **{need:.0f}** labels (Labelf's claim: 200)." if need is not None else
                         "does **not** reach it within the budget.")
                      + " Combined beats random at every budget up to 1,000: "
                      f"**{'yes' if block['combined_beats_random_up_to_1000'] else 'no'}**."]
        lines.append("")
    return "\n".join(lines)


def tuning_table(used: dict | None = None) -> str:
    """The weight variants tried on Banking77 (``--tag`` runs of the combined sampler), for the README."""
    rows = []
    variants = common.read_json(common.results_path(NAME, "tuning"), {}) or {}
    for tag, data in sorted(variants.items()):
        block = data.get("datasets", {}).get("banking77", {})
        res = block.get("rows", {}).get("combined")
        meta = block.get("meta", {})
        if not res or meta.get("budgets") and tuple(meta["budgets"]) != BUDGETS:
            continue
        p = meta["combined_params"]
        acc = [f"{res['accuracy_mean'][res['labels'].index(b)]:.3f}" for b in REPORT_AT]
        mark = " (used above)" if used and all(used.get(k) == p[k] for k in WEIGHTS) else ""
        rows.append(f"| `{tag}`{mark} | " + " | ".join(str(p[k]) for k in WEIGHTS)
                    + f" | {res['seeds']} | " + " | ".join(acc) + " |")
    if not rows:
        return ""
    return "\n".join(["Weight variants tried on Banking77 (combined sampler, mean test accuracy; `v0` is the first "
                      "version, whose cold start spent only half the first batch on label descriptions):", "",
                      "| run | " + " | ".join(WEIGHTS) + " | seeds | " + " | ".join(map(str, REPORT_AT)) + " |",
                      "|---" * (len(REPORT_AT) + len(WEIGHTS) + 2) + "|", *rows, ""])


#: Issue 14's goals: labels to reach random sampling's 2,000-label accuracy.
GOAL_LABELS = {"banking77": 500, "trec": 350, "bitext_customer_support": 300}


def goals_table(blocks: dict, published: dict) -> list[str]:
    """Each dataset's goal against the published combined sampler and the pool-learning rows."""
    lines = ["Goals (labels to reach the published random@2,000 accuracy; `>= random`: the row's mean is at least "
             "random's, same run, at every budget):", "",
             "| dataset | goal | combined (published, 3 seeds) | row | labels | met | >= random at every budget |",
             "|---" * 7 + "|"]
    for d, block in blocks.items():
        pub = published.get("datasets", {}).get(d, {})
        target, goal = pub.get("random_final_accuracy"), GOAL_LABELS.get(d)
        rows = block["rows"]
        rnd = rows.get("random")
        for name in [r for r in ("combined", "combined+self", "combined+auto") if r in rows]:
            r = rows[name]
            need = labels_to_reach(r["labels"], r["accuracy_mean"], target) if target else None
            ge = "-" if rnd is None else ("yes" if all(a >= b for a, b in zip(r["accuracy_mean"],
                                                                             rnd["accuracy_mean"])) else "no")
            met = "-" if goal is None or target is None else ("yes" if need is not None and need <= goal else "no")
            lines.append(f"| {d} | {goal or '-'} | {pub.get('labels_to_match_random_final') or '-'} | {name} "
                         f"({r['seeds']} seed{'s' if r['seeds'] != 1 else ''}) | "
                         f"{'-' if need is None else f'{need:.0f}'} | {met} | {ge} |")
    return lines + [""]


def stop_rounds(labels: list[int], acc: list[float], kappa: list[float | None]) -> dict:
    """The kappa rule against the truth on one curve: the round it first says stop (kappa >= STOP_KAPPA), the first
    round within one point of the final accuracy (the plateau), and the learning-curve gain predictor's error."""
    stop = next((i for i, k in enumerate(kappa) if k is not None and k >= STOP_KAPPA), None)
    plateau = next(i for i, a in enumerate(acc) if a >= acc[-1] - 0.01)
    errors = []
    for i in range(1, len(labels) - 1):  # predicted gain of the next batch from the curve so far vs the real one
        pred = expected_gain(list(zip(labels[:i + 1], acc[:i + 1])), labels[i + 1] - labels[i])
        if pred is not None:
            errors.append(abs(pred - (acc[i + 1] - acc[i])))
    return {"stop": stop, "plateau": plateau, "gain_mae": float(np.mean(errors)) if errors else None}


def stop_table(blocks: dict) -> list[str]:
    """Stop advice against the truth, per dataset and row of the pool runs (every seed's curve)."""
    lines = ["Stop advice against the truth (every seed's curve of the runs above): the kappa rule "
             f"(kappa >= {STOP_KAPPA} between consecutive rounds on a fixed 2,000-text pool sample) against the first "
             "budget within one point of the final (2,000-label) accuracy (`never` counts as the round after the last "
             "budget); `gain error`: mean absolute error of "
             "`loop/advice.py`'s expected gain of the next batch (log-linear fit of the curve so far; here on the test "
             "accuracy, so it measures the curve model, not the accuracy estimate).", "",
             "| dataset | strategy | runs | stop at (labels) | plateau at | within one round | points short at stop "
             "| gain error (points) |", "|---" * 8 + "|"]
    for d, block in blocks.items():
        for name, r in sorted(block["rows"].items()):
            if "kappa_by_seed" not in r:
                continue
            res, short = [], []
            for seed, kappa in r["kappa_by_seed"].items():
                acc = r["accuracy_by_seed"][seed]
                res.append(stop_rounds(r["labels"], acc, kappa))
                if res[-1]["stop"] is not None:
                    short.append(acc[-1] - acc[res[-1]["stop"]])
            stops = [x["stop"] for x in res]
            lab = r["labels"]
            # "never" is the round after the last: right when the curve still climbs at the last budget
            within = sum(abs((len(lab) if s is None else s) - x["plateau"]) <= 1 for s, x in zip(stops, res))
            stop_txt = ", ".join("never" if s is None else str(lab[s]) for s in stops)
            maes = [x["gain_mae"] for x in res if x["gain_mae"] is not None]
            lines.append(f"| {d} | {name} | {len(res)} | {stop_txt} | "
                         + ", ".join(str(lab[x['plateau']]) for x in res) + f" | {within}/{len(res)} | "
                         + (f"{100 * np.mean(short):.1f}" if short else "-") + " | "
                         + (f"{100 * np.mean(maes):.1f}" if maes else "-") + " |")
    return lines + [""]


def pool_section(pool_doc: dict, published: dict) -> str:
    """The unlabeled-pool table: every strategy with the head on labels only and with pool pseudo-labels, run side by
    side (same seeds, budgets, cold start), against the published random@2,000 accuracy."""
    blocks = pool_doc.get("datasets", {})
    if not blocks:
        return ""
    meta = next(iter(blocks.values()))["meta"]
    lines = ["### Learning from the unlabeled pool", "",
             f"`--pool-learning` runs (results/{POOL_NAME}.json): the head is also trained on pseudo-labels of the "
             "unlabeled pool (`labelf_trainer/loop/semi_supervised.py`) and the next batch is chosen with that "
             "model's scores. `+self`: class-balanced self-training, pseudo-labels weighted by the head's "
             "confidence, total weight at most 3x the labels; `+propagation`: label propagation over the pool's "
             "20-NN graph, kept where the head agrees. Rows without a suffix are the head on labels only, from the "
             f"same run. `+auto`: self or labels only, whichever has the better 5-fold accuracy on the labels each "
             f"round (what `labelf train` does by default). Budgets {meta['budgets']}. "
             "AULC: mean accuracy over log(labels). "
             "`to random@2000`: labels at which the mean curve reaches the published random@2,000 accuracy "
             "(3 seeds, table above; `>B`: not within the run's budgets).", ""]
    for d, block in blocks.items():
        rows = block["rows"]
        labels = next(iter(rows.values()))["labels"]
        cols = [b for b in (50, 100, 200, 500, 1000, 2000) if b in labels]
        target = published.get("datasets", {}).get(d, {}).get("random_final_accuracy")
        lines += [f"**{d}** (test accuracy, mean over the seeds)", "",
                  "| strategy | seeds | " + " | ".join(map(str, cols)) + " | AULC | to random@2000 | train s/round |",
                  "|---" * (len(cols) + 5) + "|"]
        for name in sorted(rows, key=lambda r: (r.split("+")[0] != "combined", r.split("+")[0], "+" in r, r)):
            r = rows[name]
            acc = [f"{r['accuracy_mean'][r['labels'].index(b)]:.3f}" for b in cols]
            need = labels_to_reach(r["labels"], r["accuracy_mean"], target) if target else None
            reach = "-" if target is None else (f"{need:.0f}" if need is not None else f">{r['labels'][-1]}")
            lines.append(f"| {name} | {r['seeds']} | " + " | ".join(acc) + f" | {r['aulc']:.3f} | {reach} | "
                         f"{r.get('train_s_mean', 0):.2f} |")
        lines.append("")
    return "\n".join(lines + goals_table(blocks, published) + stop_table(blocks))


SCHEDULE_TAGS = ("late6", "late13", "small-batches")


def schedule_table(pool_doc: dict, tags: tuple[str, ...] = SCHEDULE_TAGS) -> str:
    """The sampler schedule (``late_per_class``: uncertainty alone once labels average that many per label) against
    the combined sampler with the same seeds (the pool runs' labels-only rows)."""
    variants = common.read_json(common.results_path(NAME, "tuning"), {}) or {}
    blocks = [(d, block) for tag in tags for d, block in variants.get(tag, {}).get("datasets", {}).items()]
    lines = []
    for d, block in blocks:
        late = block.get("rows", {}).get("combined")
        base = pool_doc.get("datasets", {}).get(d, {}).get("rows", {}).get("combined")
        if not late or not base:
            continue
        seeds = [s for s in late["accuracy_by_seed"] if s in base["accuracy_by_seed"]]
        if not seeds:
            continue
        a = dict(zip(late["labels"], np.mean([late["accuracy_by_seed"][s] for s in seeds], axis=0)))
        b = dict(zip(base["labels"], np.mean([base["accuracy_by_seed"][s] for s in seeds], axis=0)))
        meta = block["meta"]
        variant = (f"late_per_class {meta['combined_params']['late_per_class']}"
                   if meta["combined_params"].get("late_per_class") else
                   f"batches {', '.join(map(str, np.diff([0, *meta['budgets'][:5]])))}, ...")
        lines.append(f"| {d} | {variant} | {len(seeds)} | " + " | ".join(
            f"{a[n]:.3f} ({100 * (a[n] - b[n]):+.1f})" if n in a and n in b else "-"
            for n in (100, 200, 500, 1000, 1500, 2000)) + " |")
    if not lines:
        return ""
    return "\n".join(["Sampler schedule (tuning variants " + ", ".join(f"`{t}`" for t in tags) + "): `late_per_class`: "
                      "once the labels average that many per label, the combined sampler ranks by uncertainty alone, "
                      "without density weight or cluster spread; `batches`: smaller batches early (25 labels a round "
                      "up to 200, the published run has 50). Test accuracy and the change in points against "
                      "`combined` (labels only, the pool runs above) on the same seeds:", "",
                      "| dataset | variant | seeds | 100 | 200 | 500 | 1000 | 1500 | 2000 |",
                      "|---" * 9 + "|", *lines, ""])


def multilabel_section(doc: dict) -> str:
    """Multi-label datasets run on a sample of their splits (``--pool-size``/``--test-size``, kept in
    results/active_learning.partial.json): micro- and macro-F1 per budget, AULC, and each strategy against random."""
    blocks = {d: b for d, b in doc.get("datasets", {}).items()
              if b.get("info", {}).get("multi_label") and "pool_size" in b.get("meta", {})}
    lines: list[str] = []
    for d, block in blocks.items():
        meta, rows = block["meta"], block["rows"]
        strategies = ordered_rows(block)
        labels = rows[strategies[0]]["labels"]
        info = block["info"]
        pool_n = min(meta["pool_size"], info["n_train"])
        test_n = min(meta.get("test_size", info["n_test"]), info["n_test"])
        whole = pool_n == info["n_train"] and test_n == info["n_test"]
        intro = (f"{'The whole splits' if whole else 'A sample of the splits'} (results/{NAME}.partial.json, plot "
                 f"results/{NAME}_multilabel.png): pool {pool_n} of {info['n_train']} training texts, test "
                 f"{test_n} of {info['n_test']}; {info['n_classes']} labels. Whole "
                 "conversations are embedded under the product's `long_texts: windows` policy (mean of the windows' "
                 "vectors); the head is trained and scored on that one vector per text (the product scores the best "
                 f"of the text, its windows and its turns; not measured here). Seeds {meta['seeds']}; budgets "
                 f"{meta['budgets']}. Same head (one-vs-rest logistic, threshold 0.5) and zero-shot cold start as "
                 "above. Cells: test micro-F1 / macro-F1, mean over the seeds; AULC over log(labels) on micro-F1.")
        zs = block.get("zero_shot")
        if zs:
            intro += (" Before any label, the zero-shot model from the label "
                      + ("names and descriptions" if info.get("descriptions") else "names alone (no descriptions file)")
                      + f" scores {zs['accuracy']:.3f} / {zs['f1_macro']:.3f} on the same test sample.")
        lines += [f"### Multi-label: {d}", "", intro, "",
                  "| strategy | " + " | ".join(map(str, labels)) + " | AULC | selection s/round |",
                  "|---" * (len(labels) + 3) + "|"]
        for name in strategies:
            r = rows[name]
            lines.append(f"| {name} | " + " | ".join(f"{a:.3f} / {f:.3f}" for a, f in zip(r["accuracy_mean"],
                                                                                       r["f1_mean"]))
                         + f" | {r['aulc']:.3f} | {r['select_s_mean']:.2f} |")
        lines += ["", *multilabel_verdict(rows, labels, block.get("zero_shot")), ""]
    return "\n".join(lines)


def multilabel_verdict(rows: dict, labels: list[int], zero_shot: dict | None = None) -> list[str]:
    """A plain verdict (best AULC; from which budget on the combined sampler stays ahead of random; budgets where
    no trained head beats the zero-shot model), the best strategy per budget, then one line per strategy: the
    budgets where its mean micro- and macro-F1 beat random's and where they lose."""
    rnd = rows.get("random")
    if rnd is None:
        return []
    by_aulc = sorted(rows, key=lambda n: -rows[n]["aulc"])
    verdict = [f"`{by_aulc[0]}` has the best AULC ({rows[by_aulc[0]]['aulc']:.3f}; "
               + ", ".join(f"`{n}` {rows[n]['aulc']:.3f}" for n in by_aulc[1:]) + ")"]
    for name in [n for n in ("combined", "uncertainty") if n in rows]:
        ahead = [a > b for a, b in zip(rows[name]["accuracy_mean"], rnd["accuracy_mean"])]
        start = next((i for i in range(len(ahead)) if all(ahead[i:])), None)
        verdict.append(f"`{name}` " + ("is behind random at the last budget" if start is None else
                                       f"stays ahead of random from {labels[start]} labels on" if start else
                                       "is ahead of random at every budget") + " (micro-F1)")
    if zero_shot:
        below = [b for i, b in enumerate(labels) if max(r["accuracy_mean"][i] for r in rows.values())
                 < zero_shot["accuracy"]]
        if below:
            verdict.append(f"every trained head is below the zero-shot model's {zero_shot['accuracy']:.3f} "
                           f"micro-F1 at {', '.join(map(str, below))} labels")
    out_verdict = ["**Verdict:** " + "; ".join(verdict) + ".", ""]
    best = []
    for i, b in enumerate(labels):
        tops = [max(r[key][i] for r in rows.values()) for key in ("accuracy_mean", "f1_mean")]
        best.append(f"{b}: " + " / ".join(", ".join(f"`{n}`" for n, r in rows.items() if r[key][i] == top)
                                          for key, top in zip(("accuracy_mean", "f1_mean"), tops)))
    out = [*out_verdict, "Best mean micro-F1 / macro-F1 per budget: " + "; ".join(best) + ".", ""]
    for name in [s for s in rows if s != "random"]:
        r = rows[name]
        parts = []
        for key, metric in (("accuracy_mean", "micro-F1"), ("f1_mean", "macro-F1")):
            diff = [round(100 * (a - b), 1) for a, b in zip(r[key], rnd[key])]
            win = [f"{b} ({x:+.1f})" for b, x in zip(labels, diff) if x > 0]
            lose = [f"{b} ({x:+.1f})" for b, x in zip(labels, diff) if x < 0]
            tie = [str(b) for b, x in zip(labels, diff) if x == 0]
            parts.append(f"{metric} ahead of random at {', '.join(win) or 'no budget'}; behind at "
                         f"{', '.join(lose) or 'no budget'}" + (f"; tied at {', '.join(tie)}" if tie else ""))
        out.append(f"- `{name}` vs `random` (points): " + "; ".join(parts) + ".")
    return out


def full_section(doc: dict) -> str:
    used = doc["datasets"].get("banking77", next(iter(doc["datasets"].values())))["meta"]["combined_params"]
    pool = common.load_results(POOL_NAME)
    return (readme_section(doc) + "\n" + tuning_table(used) + "\n" + pool_section(pool, doc) + "\n"
            + schedule_table(pool) + "\n" + multilabel_section(common.load_results(NAME, "partial")))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    common.add_dataset_args(ap, DEFAULT_DATASETS)
    ap.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--budgets", nargs="+", type=int, default=list(BUDGETS))
    ap.add_argument("--encoder", default="minilm")
    ap.add_argument("--long-texts", choices=("windows", "truncate"), default="windows",
                    help="texts longer than the encoder's window: mean of the windows (the product's default) or the "
                         "first window only")
    ap.add_argument("--pool-size", type=int, default=None,
                    help="a fixed random sample of the train split as the pool (a partial run: results go to "
                         f"results/{NAME}.partial.json and its own README table)")
    ap.add_argument("--test-size", type=int, default=None, help="a fixed random sample of the test split")
    ap.add_argument("--params", default="{}", help="JSON overrides of the combined sampler's weights")
    ap.add_argument("--pool-learning", nargs="+", choices=(*POOL_METHODS, "auto"), default=None, metavar="METHOD",
                    help=f"also learn from the unlabeled pool ({', '.join(POOL_METHODS)}, auto; `off` = labels only; "
                         "`auto`: self or off by k-fold accuracy on the labels, as `labelf train` decides): one row "
                         f"per strategy and method, written to results/{POOL_NAME}.json")
    ap.add_argument("--no-readme", action="store_true")
    ap.add_argument("--readme-only", action="store_true", help="rewrite the plot and README section from the JSON")
    common.add_publish_args(ap)
    args = ap.parse_args()
    common.apply_common_args(args)
    if not args.readme_only:
        params = json.loads(args.params)
        budgets = tuple(sorted(args.budgets))
        stem = NAME + (f"-{args.tag}" if args.tag else "") + ("-auto" if args.pool_learning == ["auto"] else "")
        SCRATCH.mkdir(parents=True, exist_ok=True)
        runs_file = SCRATCH / f"{stem}.runs.json"  # resume state, not a result (ignored by git)
        runs: dict = json.loads(runs_file.read_text()) if runs_file.is_file() else {}
        result: dict = {"datasets": {}}
        methods = list(dict.fromkeys(args.pool_learning or ["off"]))
        name = POOL_NAME if args.pool_learning else NAME
        for spec in args.datasets:
            ds = load(spec, args.encoder, args.long_texts, args.pool_size, args.test_size)
            meta = {"seeds": sorted(args.seeds), "budgets": list(budgets),
                    "combined_params": {**_combined_defaults(), **params}, "encoder": args.encoder, "model": MODEL,
                    "descriptions": ds["dataset"].descriptions_hash, **ds["sample"]}
            if args.long_texts != "windows":  # windows = the vectors the published runs had (their texts fit one)
                meta["long_texts"] = ds["long_texts"]
            setting = json.dumps({"encoder": args.encoder, "descriptions": meta["descriptions"],
                                  "data": ds["dataset"].info(), **ds["sample"],
                                  **({"long_texts": ds["long_texts"]} if "long_texts" in meta else {})},
                                 sort_keys=True)
            rows: dict = {}
            for s, method in [(s, m) for s in args.strategies for m in methods]:
                curves = {}
                for seed in args.seeds:
                    key = run_key(ds["name"], s, seed, budgets, params, setting, method)
                    if key not in runs:
                        t0 = time.perf_counter()
                        runs[key] = simulate(ds, s, seed, budgets, params, method)
                        c = runs[key]
                        print(f"{ds['name']:24s} {row_name(s, method):18s} seed {seed}: acc " + " ".join(
                            f"{b}:{a:.3f}" for b, a in zip(c["labels"], c["accuracy"]) if b in REPORT_AT)
                            + f"  ({time.perf_counter() - t0:.0f}s)", flush=True)
                        with atomic_writer(runs_file) as fh:
                            json.dump(runs, fh)
                    curves[seed] = runs[key]
                rows[row_name(s, method)] = summarize(curves)
            result["datasets"][ds["name"]] = {"meta": meta, "info": ds["dataset"].info(), "rows": rows,
                                              "zero_shot": zero_shot_scores(ds)}
        sampled = "" if args.pool_size is None and args.test_size is None else (
            f"a sample of the splits (pool {args.pool_size or 'all'}, test {args.test_size or 'all'})")
        path, published = common.write_results(name, result, publish=args.publish, tag=args.tag or None,
                                               coverage=("seeds", "budgets"), finalize=derive,
                                               partial=sampled or None)
        doc = common.read_json(path)
        doc = doc[args.tag] if args.tag else doc
        for d in result["datasets"]:
            block = doc["datasets"][d]
            if "labels_to_match_random_final" in block:
                print(f"{d}: combined reaches random@{budgets[-1]} ({block['random_final_accuracy']:.3f}) at "
                      f"{block['labels_to_match_random_final']} labels; beats random up to 1000: "
                      f"{block['combined_beats_random_up_to_1000']}")
        if not published:
            print(readme_section({"datasets": {d: doc["datasets"][d] for d in result["datasets"]}}))
            if not sampled:  # a sampled run has its own README table (multilabel_section); others stop here
                return
    doc = common.load_results(NAME)
    plot(doc, RESULTS / f"{NAME}.png")
    if common.load_results(POOL_NAME).get("datasets"):
        plot(common.load_results(POOL_NAME), RESULTS / f"{POOL_NAME}.png")
    sampled_ml = {d: b for d, b in common.load_results(NAME, "partial").get("datasets", {}).items()
                  if b.get("info", {}).get("multi_label") and "pool_size" in b.get("meta", {})}
    if sampled_ml:
        plot({"datasets": sampled_ml}, RESULTS / f"{NAME}_multilabel.png")
    if not args.no_readme:
        common.write_section(NAME, full_section(doc))


if __name__ == "__main__":
    main()

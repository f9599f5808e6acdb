"""Active-learning curves: every sampler against random, with simulated annotators (the datasets' gold labels).

Start from zero labels; each round a strategy picks the next batch from the training split (the pool), the
"annotator" labels it with the gold label, a logistic head is retrained on frozen all-MiniLM-L6-v2 embeddings
(``EmbeddingHeadClassifier.fit_embeddings``, cached once per dataset) and evaluated on the test split. The first
round has no labels: strategies that need a model see the zero-shot model built from the label descriptions in
``benchmarks/data/`` (what a user of ``labelf init`` has), random sees nothing.

Usage:
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/active_learning.py                 # all datasets, 3 seeds
    .venv/bin/python benchmarks/active_learning.py --datasets banking77 --seeds 0 --strategies combined random \\
        --params '{"density_weight": 1.0}' --tag tune-d1 --no-readme                  # a tuning variant

Writes benchmarks/results/active_learning.json and .png and (unless --no-readme) the ``active_learning`` section of
benchmarks/README.md; a --tag variant goes into results/active_learning_tuning.json instead. Runs are saved as they
finish (results/cache/, ignored) and reused by a later call with the same settings, so an interrupted benchmark
resumes where it stopped.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # the machine is shared: one core for the rounds
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score, recall_score  # noqa: E402

from labelf_trainer.config import LabelSpec, SamplerConfig  # noqa: E402
from labelf_trainer.io_utils import atomic_writer  # noqa: E402
from labelf_trainer.models.embedding_head import EmbeddingHeadClassifier  # noqa: E402
from labelf_trainer.models.zero_shot import DEFAULT_TEMPERATURE, softmax  # noqa: E402
from labelf_trainer.strategies import CombinedSampler, Pool, make_strategy  # noqa: E402

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1] / "shared" / "data"
RESULTS = HERE / "results"
CACHE = RESULTS / "cache"
DATASETS = ("banking77", "trec", "bitext_customer_support")
STRATEGIES = ("combined", "uncertainty", "diversity", "rare", "random")
BUDGETS = (50, 100, 150, 200, 300, 400, 500, 750, 1000, 1500, 2000)
REPORT_AT = (100, 200, 500, 1000, 2000)
WEIGHTS = ("uncertainty_weight", "density_weight", "diversity_weight", "rare_quota", "rare_target")
DESCRIPTIONS = {"banking77": "banking77_descriptions.yaml", "bitext_customer_support": "bitext_descriptions.yaml"}
TREC = {  # the six coarse TREC question types
    "ABBR": "The question asks what an abbreviation or acronym stands for, or for the short form of something.",
    "DESC": "The question asks for a description, definition, reason or manner: what is, why, how does.",
    "ENTY": "The question asks for an entity such as an animal, product, colour, event, food, sport or term.",
    "HUM": "The question asks about a person or group of people: who, which company, whose name.",
    "LOC": "The question asks for a location: a city, country, mountain, state or other place.",
    "NUM": "The question asks for a number: a date, count, distance, price, percentage or period.",
}


def load_dataset(name: str, encoder: str = "minilm") -> dict:
    """Texts, labels, label descriptions and minilm embeddings of a dataset (embedded once, then cached)."""
    from labelf_trainer.embeddings import Embedder, load_encoder

    train = pd.read_csv(DATA / name / "train.csv", keep_default_na=False)
    test = pd.read_csv(DATA / name / "test.csv", keep_default_na=False)
    classes = sorted(train["label"].unique())
    desc = TREC if name == "trec" else yaml.safe_load((HERE / "data" / DESCRIPTIONS[name]).read_text("utf-8"))
    emb = Embedder(load_encoder(encoder), CACHE)
    specs = [LabelSpec(name=c, description=desc.get(c, "")) for c in classes]
    index = {c: i for i, c in enumerate(classes)}
    return {
        "name": name, "classes": classes,
        "X": emb.embed(train["text"].tolist(), description=f"{name} train"),
        "y": np.array([index[c] for c in train["label"]]),
        "X_test": emb.embed(test["text"].tolist(), description=f"{name} test"),
        "y_test": np.array([index[c] for c in test["label"]]),
        "protos": emb.embed([s.prompt for s in specs]),
    }


def build_strategy(name: str, params: dict, seed: int):
    if name == "combined" and params:
        return CombinedSampler(**{**_combined_defaults(), **params}, random_state=seed)
    return make_strategy(name, SamplerConfig(), random_state=seed)


def _combined_defaults() -> dict:
    cfg = SamplerConfig()
    return {"uncertainty_weight": cfg.uncertainty_weight, "density_weight": cfg.density_weight,
            "diversity_weight": cfg.diversity_weight, "rare_quota": cfg.rare_quota, "rare_target": cfg.rare_target,
            "near_duplicate_threshold": cfg.near_duplicate_threshold}


def simulate(ds: dict, strategy: str, seed: int, budgets: tuple[int, ...], params: dict) -> dict:
    """One learning curve: labels -> accuracy, macro-F1, smallest class's recall, selection seconds."""
    X, y, classes = ds["X"], ds["y"], ds["classes"]
    smallest = int(np.bincount(y, minlength=len(classes)).argmin())
    proba = softmax((X @ ds["protos"].T).astype(np.float64) / DEFAULT_TEMPERATURE)  # zero-shot model
    labeled = np.zeros(0, dtype=np.int64)
    curve: dict[str, list] = {"labels": [], "accuracy": [], "f1_macro": [], "smallest_recall": [], "select_s": []}
    for rnd, budget in enumerate(budgets):
        unlabeled = np.setdiff1d(np.arange(len(y)), labeled)
        pool = Pool(X, classes, proba=proba, labels={int(r): (classes[y[r]],) for r in labeled},
                    label_embeddings=ds["protos"])
        t0 = time.perf_counter()
        sel = build_strategy(strategy, params, seed * 1000 + rnd).query(pool, unlabeled, labeled, budget - len(labeled))
        curve["select_s"].append(round(time.perf_counter() - t0, 3))
        labeled = np.concatenate([labeled, sel.indices])
        head = EmbeddingHeadClassifier(labels=classes, random_state=seed)
        head.fit_embeddings(X[labeled], [classes[i] for i in y[labeled]])
        proba = head.predict_proba_embeddings(X)
        pred = head.predict_proba_embeddings(ds["X_test"]).argmax(axis=1)
        curve["labels"].append(int(len(labeled)))
        curve["accuracy"].append(round(float(accuracy_score(ds["y_test"], pred)), 4))
        curve["f1_macro"].append(round(float(f1_score(ds["y_test"], pred, average="macro", zero_division=0)), 4))
        curve["smallest_recall"].append(round(float(recall_score(ds["y_test"], pred, labels=[smallest],
                                                                 average="macro", zero_division=0)), 4))
    curve["smallest_class"] = classes[smallest]
    return curve


def run_key(dataset: str, strategy: str, seed: int, budgets: tuple[int, ...], params: dict) -> str:
    p = json.dumps(params if strategy == "combined" else {}, sort_keys=True)
    h = hashlib.sha256(f"{budgets}|{p}".encode()).hexdigest()[:10]
    return f"{dataset}/{strategy}/{seed}/{h}"


def summarize(runs: dict, datasets: list[str], strategies: list[str], budgets: tuple[int, ...]) -> dict:
    """Mean and spread per (dataset, strategy, budget), plus the headline comparisons with random."""
    out: dict = {}
    for d in datasets:
        out[d] = {}
        for s in strategies:
            curves = [r for k, r in runs.items() if k.startswith(f"{d}/{s}/")]
            if not curves:
                continue
            acc = np.array([c["accuracy"] for c in curves])
            f1 = np.array([c["f1_macro"] for c in curves])
            rec = np.array([c["smallest_recall"] for c in curves])
            out[d][s] = {"labels": curves[0]["labels"], "seeds": len(curves),
                         "accuracy_mean": acc.mean(0).round(4).tolist(), "accuracy_min": acc.min(0).tolist(),
                         "accuracy_max": acc.max(0).tolist(), "f1_mean": f1.mean(0).round(4).tolist(),
                         "f1_min": f1.min(0).tolist(), "f1_max": f1.max(0).tolist(),
                         "smallest_recall_mean": rec.mean(0).round(4).tolist(),
                         "smallest_class": curves[0]["smallest_class"],
                         "select_s_mean": round(float(np.mean([np.mean(c["select_s"]) for c in curves])), 3)}
        if "combined" in out[d] and "random" in out[d]:
            c, r = out[d]["combined"], out[d]["random"]
            target = r["accuracy_mean"][-1]
            out[d]["labels_to_match_random_final"] = labels_to_reach(c["labels"], c["accuracy_mean"], target)
            out[d]["random_final_accuracy"] = target
            out[d]["combined_beats_random_up_to_1000"] = all(
                ca > ra for b, ca, ra in zip(c["labels"], c["accuracy_mean"], r["accuracy_mean"]) if b <= 1000)
    return out


def labels_to_reach(labels: list[int], acc: list[float], target: float) -> float | None:
    """Labels at which the (linearly interpolated) curve first reaches ``target``; None if it never does."""
    prev_b, prev_a = 0, 0.0
    for b, a in zip(labels, acc):
        if a >= target:
            return float(b) if a == prev_a else round(prev_b + (b - prev_b) * (target - prev_a) / (a - prev_a))
        prev_b, prev_a = b, a
    return None


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(summary)
    fig, axes = plt.subplots(len(datasets), 2, figsize=(12, 3.6 * len(datasets)), squeeze=False)
    for i, d in enumerate(datasets):
        for j, (metric, title) in enumerate((("accuracy", "accuracy"), ("f1", "macro-F1"))):
            ax = axes[i][j]
            for s, res in summary[d].items():
                if not isinstance(res, dict) or "labels" not in res:
                    continue
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


def readme_section(summary: dict, meta: dict) -> str:
    lines = [f"`benchmarks/active_learning.py`: logistic head on frozen minilm embeddings, retrained after every "
             f"batch; "
             f"seeds {meta['seeds']}; pool = train split, metric on the test split; budgets {list(meta['budgets'])}. "
             f"Combined sampler weights: `{json.dumps(meta['combined_params'])}`. Plot: `results/active_learning.png`. "
             "The first batch (no labels) of model-based strategies uses the zero-shot model from the label "
             "descriptions; uncertainty sampling is then deterministic, so its seeds coincide. Selection seconds "
             "are wall time per round on the shared 2-core machine (one BLAS thread).", ""]
    for d, res in summary.items():
        strategies = [s for s in res if isinstance(res[s], dict) and "labels" in res[s]]
        lines += [f"**{d}** (test accuracy, mean of {res[strategies[0]]['seeds']} seeds)", "",
                  "| strategy | " + " | ".join(str(b) for b in REPORT_AT) + " | smallest class recall @500 "
                  "| selection s/round |", "|---" * (len(REPORT_AT) + 3) + "|"]
        for s in strategies:
            r = res[s]
            acc = [f"{r['accuracy_mean'][r['labels'].index(b)]:.3f}" if b in r["labels"] else "-" for b in REPORT_AT]
            rec = r["smallest_recall_mean"][r["labels"].index(500)] if 500 in r["labels"] else None
            lines.append(f"| {s} | " + " | ".join(acc) + f" | {'-' if rec is None else f'{rec:.2f}'} "
                         f"| {r['select_s_mean']:.2f} |")
        if "labels_to_match_random_final" in res:
            need = res["labels_to_match_random_final"]
            lines += ["", f"Smallest class: `{res[strategies[0]]['smallest_class']}`. Random reaches "
                      f"{res['random_final_accuracy']:.3f} at {meta['budgets'][-1]} labels; the combined sampler "
                      + (f"reaches it at about **{need:.0f}** labels (Labelf's claim: 200)." if need is not None else
                         "does **not** reach it within the budget.")
                      + f" Combined beats random at every budget up to 1,000: "
                      f"**{'yes' if res['combined_beats_random_up_to_1000'] else 'no'}**."]
        lines.append("")
    return "\n".join(lines)


TUNING = RESULTS / "active_learning_tuning.json"


def merge_tuning(tag: str, result: dict) -> None:
    """Keep a ``--tag`` variant's results in one file, ``results/active_learning_tuning.json``."""
    data = json.loads(TUNING.read_text(encoding="utf-8")) if TUNING.is_file() else {}
    data[tag] = result
    with atomic_writer(TUNING) as fh:
        json.dump(data, fh, indent=1, sort_keys=True)


def tuning_table(used: dict | None = None) -> str:
    """The weight variants tried on Banking77 (``--tag`` runs of the combined sampler), for the README."""
    rows = []
    variants = json.loads(TUNING.read_text(encoding="utf-8")) if TUNING.is_file() else {}
    for tag, data in sorted(variants.items()):
        res = data["summary"].get("banking77", {}).get("combined")
        if not res or data["meta"].get("budgets") and tuple(data["meta"]["budgets"]) != BUDGETS:
            continue
        p = data["meta"]["combined_params"]
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


def write_section(name: str, body: str) -> None:
    readme = HERE / "README.md"
    text = readme.read_text(encoding="utf-8")
    start, end = f"<!-- section:{name} -->", f"<!-- /section:{name} -->"
    new = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: f"{start}\n{body.strip()}\n{end}", text,
                 flags=re.S)
    with atomic_writer(readme) as fh:
        fh.write(new)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS))
    ap.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--budgets", nargs="+", type=int, default=list(BUDGETS))
    ap.add_argument("--params", default="{}", help="JSON overrides of the combined sampler's weights")
    ap.add_argument("--tag", default="", help="name of a variant: results go to active_learning-TAG.*")
    ap.add_argument("--no-readme", action="store_true")
    ap.add_argument("--readme-only", action="store_true", help="rewrite the README section from the saved JSON")
    args = ap.parse_args()
    if args.readme_only:
        data = json.loads((RESULTS / "active_learning.json").read_text(encoding="utf-8"))
        body = readme_section(data["summary"], data["meta"])
        write_section("active_learning", body + "\n" + tuning_table(data["meta"]["combined_params"]))
        return
    params = json.loads(args.params)
    budgets = tuple(sorted(args.budgets))
    stem = "active_learning" + (f"-{args.tag}" if args.tag else "")
    RESULTS.mkdir(parents=True, exist_ok=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    runs_file = CACHE / f"{stem}.runs.json"  # resume state, not a result (ignored by git)
    runs: dict = json.loads(runs_file.read_text()) if runs_file.is_file() else {}
    keys: dict[str, str] = {}
    for d in args.datasets:
        ds = load_dataset(d)
        for seed in args.seeds:
            for s in args.strategies:
                key = run_key(d, s, seed, budgets, params)
                keys[f"{d}/{s}/{seed}"] = key
                if key in runs:
                    continue
                t0 = time.perf_counter()
                runs[key] = simulate(ds, s, seed, budgets, params)
                c = runs[key]
                print(f"{d:24s} {s:12s} seed {seed}: acc " + " ".join(
                    f"{b}:{a:.3f}" for b, a in zip(c["labels"], c["accuracy"]) if b in REPORT_AT)
                    + f"  ({time.perf_counter() - t0:.0f}s)", flush=True)
                with atomic_writer(runs_file) as fh:
                    json.dump(runs, fh)
    chosen = {k: runs[v] for k, v in keys.items()}
    summary = summarize(chosen, args.datasets, args.strategies, budgets)
    meta = {"seeds": args.seeds, "budgets": budgets, "combined_params": {**_combined_defaults(), **params},
            "encoder": "minilm", "model": "EmbeddingHeadClassifier (logistic regression, C=10)"}
    if not args.tag:
        with atomic_writer(RESULTS / f"{stem}.json") as fh:
            json.dump({"meta": meta, "summary": summary}, fh, indent=1)
    if not args.tag:
        plot(summary, RESULTS / f"{stem}.png")
    else:
        merge_tuning(args.tag, {"meta": meta, "summary": summary})
    for d, res in summary.items():
        if "labels_to_match_random_final" in res:
            print(f"{d}: combined reaches random@{budgets[-1]} ({res['random_final_accuracy']:.3f}) at "
                  f"{res['labels_to_match_random_final']} labels; beats random up to 1000: "
                  f"{res['combined_beats_random_up_to_1000']}")
    if not args.no_readme and not args.tag:
        body = readme_section(summary, meta)
        write_section("active_learning", body + "\n" + tuning_table(meta["combined_params"]))


if __name__ == "__main__":
    main()

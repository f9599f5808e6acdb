"""Training benchmarks against published anchors: embedding-head, SetFit and fine-tuned on all-MiniLM-L6-v2.

Rows: Banking77 10 per class (3 seeds) and full; SST-5 8 and 64 per class; TREC and Bitext 10 per class. Each row
trains the library's model class with its defaults (what `labelf train` does) on a class-balanced sample of the
training set and evaluates on the full test set: accuracy, macro-F1, training wall time (embedding included for the
embedding-head on a cold cache is not counted: embeddings are cached once per text, as in a workspace).

Usage:
  HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/train.py                 # every row, resumes from results
  HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/train.py --only banking77 --types embedding-head
  HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/train.py --report        # only rebuild PNG + README table
Writes benchmarks/results/train.json (one record per row, written after each row) and train.png, and the table in
the `train` section of benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1] / "shared" / "data"
RESULTS = HERE / "results"
CACHE = RESULTS / "cache"
OUT = RESULTS / "train.json"

#: (dataset, examples per class or None for the full set, model types, seeds, published anchor)
ROWS: list[tuple[str, int | None, tuple[str, ...], tuple[int, ...], str]] = [
    ("banking77", 10, ("embedding-head", "setfit", "fine-tuned"), (0, 1, 2),
     "Casanueva et al. 2020, 10/class: best 85.19 acc, BERT fine-tuned 83.42"),
    ("sst5", 8, ("embedding-head", "setfit"), (0,), "SetFit paper (MPNet), 8/class: 43.6 acc"),
    ("sst5", 64, ("embedding-head", "setfit"), (0,), "SetFit paper (MPNet), 64/class: 51.9 acc"),
    ("trec", 10, ("embedding-head", "setfit"), (0,), "no published 10/class anchor for this body"),
    ("bitext_customer_support", 10, ("embedding-head", "setfit"), (0,), "no published anchor"),
    ("banking77", None, ("embedding-head", "setfit", "fine-tuned"), (0,), "full-data anchors: about 93 acc"),
]


def load(name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    tr = pd.read_csv(DATA / name / "train.csv", keep_default_na=False)[["text", "label"]]
    te = pd.read_csv(DATA / name / "test.csv", keep_default_na=False)[["text", "label"]]
    return tr, te


def sample(train: pd.DataFrame, per_class: int | None, seed: int) -> pd.DataFrame:
    if per_class is None:
        return train
    rng = np.random.default_rng(seed)
    idx = [i for _, rows in sorted(train.groupby("label").indices.items())
           for i in rng.choice(rows, size=min(per_class, len(rows)), replace=False)]
    return train.iloc[sorted(idx)].reset_index(drop=True)


def run_row(name: str, per_class: int | None, model_type: str, seed: int, threads: int, hyper: dict) -> dict:
    import torch

    from labelf_trainer.loop.trainer import build_model

    torch.set_num_threads(threads)
    train, test = load(name)
    sub = sample(train, per_class, seed)
    classes = sorted(train["label"].unique())
    model = build_model(model_type, labels=classes, multi_label=False, encoder="minilm", seed=seed,
                        progress=True, cache_dir=CACHE, **hyper)
    if model_type == "embedding-head":  # the workspace cache: each text is embedded once, training is the head
        model.embed(sub["text"].tolist())
        model.embed(test["text"].tolist())
    t0, c0 = time.perf_counter(), time.process_time()
    model.fit(sub["text"].tolist(), sub["label"].tolist())
    train_s, train_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    proba = model.predict_proba(test["text"].tolist())
    pred_s = time.perf_counter() - t0
    pred = [classes[i] for i in proba.argmax(axis=1)]
    return {"dataset": name, "per_class": per_class, "type": model_type, "seed": seed, "n_train": len(sub),
            "n_test": len(test), "accuracy": round(float(accuracy_score(test["label"], pred)), 4),
            "f1_macro": round(float(f1_score(test["label"], pred, average="macro")), 4),
            "train_seconds": round(train_s, 1), "train_cpu_seconds": round(train_cpu, 1),
            "predict_seconds": round(pred_s, 1),
            "params": model.get_params(), "threads": threads, "hyper": hyper}


#: the settings that tell SetFit runs apart (defaults changed during tuning, so rows carry their own values)
SETFIT_KNOBS = ("body_learning_rate", "num_iterations", "max_steps")


def key(r: dict) -> tuple:
    return (r["dataset"], r["per_class"], r["type"], r["seed"], json.dumps(r.get("hyper", {}), sort_keys=True))


def shown_hyper(r: dict) -> dict:
    """Hyperparameters shown in the table: the run's own for SetFit, else what was passed with --hyper."""
    if r["type"] == "setfit":
        return {k: r["params"][k] for k in SETFIT_KNOBS}
    if r["type"] == "fine-tuned":  # the epochs actually run (the default picks them from the data size)
        from labelf_trainer.models.fine_tuned import auto_epochs

        p = r["params"]
        return {"num_epochs": p["num_epochs"] or auto_epochs(r["n_train"], p["batch_size"])}
    return r.get("hyper", {})


def load_results() -> list[dict]:
    return json.loads(OUT.read_text()) if OUT.is_file() else []


def save_results(rows: list[dict]) -> None:
    from labelf_trainer.io_utils import atomic_writer

    with atomic_writer(OUT) as fh:
        json.dump(rows, fh, indent=1)


def summarize(rows: list[dict]) -> list[dict]:
    """Mean and std over seeds per (dataset, per_class, type, hyper)."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(key(r)[:3] + (json.dumps(shown_hyper(r), sort_keys=True),), []).append(r)
    out = []
    for (ds, k, t, hyper), rs in groups.items():
        acc = np.array([r["accuracy"] for r in rs]) * 100
        f1 = np.array([r["f1_macro"] for r in rs]) * 100
        out.append({"dataset": ds, "per_class": k, "type": t, "hyper": json.loads(hyper), "seeds": len(rs),
                    "n_train": rs[0]["n_train"], "acc": acc.mean(), "acc_std": acc.std(), "f1": f1.mean(),
                    "f1_std": f1.std(), "train_s": float(np.mean([r["train_seconds"] for r in rs])),
                    "cpu_s": (float(np.mean([r["train_cpu_seconds"] for r in rs]))
                              if all("train_cpu_seconds" in r for r in rs) else None)})
    order = {(ds, k): i for i, (ds, k, *_rest) in enumerate(ROWS)}
    types = {"embedding-head": 0, "setfit": 1, "fine-tuned": 2}
    out.sort(key=lambda s: (order.get((s["dataset"], s["per_class"]), 99), types[s["type"]], not is_default(s),
                            json.dumps(s["hyper"])))
    return out


def anchor(ds: str, k: int | None) -> str:
    return next((a for d, kk, _, _, a in ROWS if d == ds and kk == k), "")


SHORT = {"body_learning_rate": "lr", "num_iterations": "iters", "num_epochs": "epochs"}


def is_default(s: dict) -> bool:
    if s["type"] == "setfit":
        from labelf_trainer.models.args import SetFitArgs

        defaults = SetFitArgs().to_dict()
        return all(s["hyper"][k] == defaults[k] for k in SETFIT_KNOBS)
    if s["type"] == "fine-tuned":
        from labelf_trainer.models.args import FineTuneArgs
        from labelf_trainer.models.fine_tuned import auto_epochs

        return s["hyper"]["num_epochs"] == auto_epochs(s["n_train"], FineTuneArgs().batch_size)
    return not s["hyper"]


def model_label(s: dict) -> str:
    knobs = ", ".join(f"{SHORT.get(a, a)}={b:g}" if isinstance(b, float) else f"{SHORT.get(a, a)}={b}"
                      for a, b in s["hyper"].items())
    return f"**{s['type']}**" + (f" ({knobs})" if knobs else "") if is_default(s) else f"{s['type']} ({knobs})"


def table(summary: list[dict]) -> str:
    lines = ["| dataset | train set | model | seeds | accuracy % | macro-F1 % | train wall s | train CPU s | anchor |",
             "|---|---|---|---|---|---|---|---|---|"]
    for s in summary:
        k = "full" if s["per_class"] is None else f"{s['per_class']}/class"
        model = model_label(s)
        pm = lambda m, sd: f"{m:.1f}" + (f" ± {sd:.1f}" if s["seeds"] > 1 else "")  # noqa: E731
        lines.append(f"| {s['dataset']} | {k} ({s['n_train']}) | {model} | {s['seeds']} | {pm(s['acc'], s['acc_std'])}"
                     f" | {pm(s['f1'], s['f1_std'])} | {s['train_s']:.0f} | "
                     f"{'' if s['cpu_s'] is None else format(s['cpu_s'], '.0f')} | {anchor(s['dataset'], s['per_class'])} |")
    return "\n".join(lines)


def plot(summary: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(13, 0.45 * len(summary) + 1.5))
    labels = [f"{s['dataset']} {'full' if s['per_class'] is None else str(s['per_class']) + '/cl'} "
              f"{model_label(s).replace('**', '')}{' *' if is_default(s) else ''}" for s in summary]
    colors = {"embedding-head": "#4C72B0", "setfit": "#DD8452", "fine-tuned": "#55A868"}
    y = np.arange(len(summary))
    ax.barh(y, [s["acc"] for s in summary], xerr=[s["acc_std"] for s in summary],
            color=[colors[s["type"]] for s in summary])
    for i, s in enumerate(summary):
        ax.text(s["acc"] + 1, i, f"{s['acc']:.1f}%  ({s['train_s']:.0f}s)", va="center", fontsize=8)
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 110)
    ax.set_xlabel("test accuracy (%)  -  label: accuracy (training wall seconds);  * = current defaults")
    ax.set_title("labelf train on all-MiniLM-L6-v2, 2-core CPU")
    fig.tight_layout()
    fig.savefig(RESULTS / "train.png", dpi=110)


NOTES = """**Bold** = the current defaults of that model type; other rows are tuning runs. What the numbers say:

- **Banking77, 10/class**: the embedding-head (85.0 ± 0.7 over 3 seeds, 9 s) matches the best published few-shot
  result (85.19, Casanueva et al. 2020, itself a classifier on *frozen* sentence encoders) and beats their BERT
  fine-tune (83.42). The anchor's own finding holds here: on intent data a head on a good frozen encoder beats tuning
  the encoder. SetFit with the defaults reaches 81.6 ± 0.1 (3 seeds), with the gentler lr 2e-5 / 5 iterations
  84.1 ± 0.4 (3 seeds; `--learning-rate 2e-5 --num-iterations 5`); the fine-tune 82.3 ± 0.4. So for intent-style data the embedding-head is the right model (and `labelf
  train`'s default, and what the sampler retrains every round).
- **SST-5 and TREC**, where the SetFit paper says contrastive tuning should win because a frozen embedding does not
  encode the task (sentiment degree, question type), SetFit wins: SST-5 8/class 28.1 ± 1.5 vs 26.7 ± 0.2 (3 seeds
  each), 64/class 41.1 vs 32.4, TREC 10/class 86.0 vs 62.8. SST-5 stays below the paper's 43.6 / 51.9: that is
  MPNet-base (110M parameters, 20 iterations, a GPU) against MiniLM-L6 (22M) capped at 500 steps on a CPU.
- **Bitext, 10/class**: both near the ceiling (embedding-head 93.0, SetFit 93.8).
- **Full Banking77** (10,003 texts), against published full-data anchors of ~93: embedding-head 92.9 in a minute,
  fine-tuned 92.9 with the default 3 epochs (12 minutes on 2 threads), SetFit 91.6 (its 500-step cap sees 8,000
  pairs, under one pair per text).
- **fine-tuned** needs steps on few-shot data: at 10/class 55.5 with 3 epochs (147 steps), 82.3 ± 0.4 with 10
  (490 steps). The default epoch count is picked from the data size: enough epochs for ~500 steps, between 3 and 10
  (`models/fine_tuned.py: auto_epochs`), so full Banking77 gets 3.
- The default C=10 of the logistic head is within 1.8 points of the best of {1, 10, 100} on each dataset.
- Wall times: rows run on a quiet machine used 2 torch threads (load ~2); older rows ran with 1 thread while up to
  eight other jobs shared the two cores (load 6-10). CPU seconds are the steadier measure.
"""


def write_readme(summary: list[dict], rows: list[dict]) -> None:
    readme = HERE / "README.md"
    threads = sorted({r["threads"] for r in rows})
    body = (
        "### Training (`benchmarks/train.py`)\n\n"
        "Each row trains the library's model class (what `labelf train --type T` builds) on a class-balanced sample "
        "of the training set, all on all-MiniLM-L6-v2, and scores the full test set. "
        f"Train time is wall time on the shared 2-core CPU with torch at {' or '.join(map(str, threads))} threads "
        "(per row in `results/train.json`; see the last note); the embedding-head's time excludes embedding, "
        "which the workspace cache does once per text.\n\n"
        + table(summary) + "\n\n" + NOTES + "\n\n![training benchmark](results/train.png)\n\nRaw rows: `results/train.json`. "
        "Reproduce: `HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/train.py`.\n")
    text = readme.read_text(encoding="utf-8")
    new = re.sub(r"(<!-- section:train -->\n).*?(<!-- /section:train -->)", lambda m: m.group(1) + body + m.group(2),
                 text, flags=re.S)
    readme.write_text(new, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", help="datasets to run")
    ap.add_argument("--per-class", nargs="*", help="per-class sizes to run (or 'full')")
    ap.add_argument("--types", nargs="*", help="model types to run")
    ap.add_argument("--seeds", type=int, nargs="*", help="override seeds")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--hyper", default="{}", help="JSON hyperparameters for the model (tuning runs)")
    ap.add_argument("--report", action="store_true", help="only rebuild the plot and README table")
    ap.add_argument("--no-readme", action="store_true")
    args = ap.parse_args()
    rows = load_results()
    hyper = json.loads(args.hyper)
    if not args.report:
        done = {key(r) for r in rows}
        for ds, k, types, seeds, _ in ROWS:
            if args.only and ds not in args.only:
                continue
            if args.per_class and ("full" if k is None else str(k)) not in args.per_class:
                continue
            for t in types:
                if args.types and t not in args.types:
                    continue
                for seed in args.seeds if args.seeds is not None else seeds:
                    probe = {"dataset": ds, "per_class": k, "type": t, "seed": seed, "hyper": hyper}
                    if key(probe) in done:
                        continue
                    print(f"== {ds} {k or 'full'}/class {t} seed {seed} {hyper or ''}", flush=True)
                    r = run_row(ds, k, t, seed, args.threads, hyper)
                    r["machine"] = f"{platform.machine()} {os.cpu_count()} cpu"
                    print(f"   acc {r['accuracy']:.4f} f1 {r['f1_macro']:.4f} train {r['train_seconds']}s", flush=True)
                    rows = load_results()  # another run may have added rows meanwhile
                    rows.append(r)
                    save_results(rows)
    summary = summarize(rows)
    if summary:
        plot(summary)
        if not args.no_readme:
            write_readme(summary, rows)
        print(table(summary))


if __name__ == "__main__":
    main()

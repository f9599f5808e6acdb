"""Zero-shot "describe and classify" on Banking77 and Bitext, and the embedding layer's overhead and cache speedup.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/zero_shot.py [--encoder minilm]
Writes benchmarks/results/zero_shot.json and zero_shot.png.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from sklearn.metrics import accuracy_score, f1_score

from labelf_trainer.config import LabelSpec
from labelf_trainer.embeddings import Embedder, load_encoder
from labelf_trainer.models import ZeroShotClassifier
from labelf_trainer.models.zero_shot import DEFAULT_TEMPERATURE, softmax

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1] / "shared" / "data"
RESULTS = HERE / "results"
DATASETS = {"banking77": "banking77_descriptions.yaml", "bitext_customer_support": "bitext_descriptions.yaml"}


def humanize(name: str) -> str:
    return name.replace("_", " ").replace("-", " ").strip()


def ece(proba: np.ndarray, y: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error of the top prediction."""
    conf, pred = proba.max(axis=1), proba.argmax(axis=1)
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            total += m.mean() * abs((pred[m] == y[m]).mean() - conf[m].mean())
    return float(total)


def log_loss(proba: np.ndarray, y: np.ndarray) -> float:
    return float(-np.log(proba[np.arange(len(y)), y] + 1e-12).mean())


def evaluate(name: str, encoder: str, cache: Path, calib_n: int, seed: int) -> dict:
    train = pd.read_csv(DATA / name / "train.csv", keep_default_na=False)
    test = pd.read_csv(DATA / name / "test.csv", keep_default_na=False)
    classes = sorted(train["label"].unique())
    desc = yaml.safe_load((HERE / "data" / DATASETS[name]).read_text(encoding="utf-8"))
    variants = {
        "names": [LabelSpec(name=c, description="") for c in classes],
        "descriptions": [LabelSpec(name=c, description=desc[c]) for c in classes],
    }
    emb = Embedder(load_encoder(encoder), cache)
    X_test = emb.embed(test["text"].tolist(), description=f"{name} test")
    y_test = np.array([classes.index(c) for c in test["label"]])
    calib = train.sample(n=min(calib_n, len(train)), random_state=seed)
    X_cal = emb.embed(calib["text"].tolist(), description=f"{name} calibration")
    y_cal = [c for c in calib["label"]]
    out: dict = {"n_test": len(test), "n_classes": len(classes)}
    for variant, specs in variants.items():
        # names only: the prompt is the humanized label name
        if variant == "names":
            specs = [LabelSpec(name=s.name, description="") for s in specs]
        zs = ZeroShotClassifier(specs, encoder=encoder)
        zs.use_cache(cache, progress=False)
        if variant == "names":
            zs.labels = [LabelSpec(name=s.name) for s in specs]
            protos = emb.embed([humanize(s.name) for s in specs])
            zs.fit()
            zs.prototypes_ = protos
        else:
            zs.fit()
        sims = zs.similarities(X_test).astype(np.float64)
        pred = sims.argmax(axis=1)
        p_default = softmax(sims / DEFAULT_TEMPERATURE)
        fitted_t = zs.calibrate(X_cal, y_cal)
        p_fitted = softmax(sims / fitted_t)
        out[variant] = {
            "accuracy": round(float(accuracy_score(y_test, pred)), 4),
            "f1_macro": round(float(f1_score(y_test, pred, average="macro")), 4),
            "fitted_temperature": round(fitted_t, 4),
            "ece_default_t": round(ece(p_default, y_test), 4),
            "ece_fitted_t": round(ece(p_fitted, y_test), 4),
            "log_loss_default_t": round(log_loss(p_default, y_test), 4),
            "log_loss_fitted_t": round(log_loss(p_fitted, y_test), 4),
        }
        print(name, variant, out[variant], flush=True)
    return out


def throughput(encoder: str, texts: list[str]) -> dict:
    """Embedding layer vs sentence-transformers called directly, same texts, same run, interleaved."""
    enc = load_encoder(encoder)
    st = enc.model
    st.encode(texts[:64], batch_size=64)  # warm up
    direct, layer, cold, warm = [], [], [], []
    for _ in range(2):
        t = time.perf_counter()
        st.encode(texts, batch_size=enc.batch_size, convert_to_numpy=True, normalize_embeddings=True,
                  show_progress_bar=False)
        direct.append(time.perf_counter() - t)
        t = time.perf_counter()
        Embedder(enc, None, progress=False).embed(texts)
        layer.append(time.perf_counter() - t)
        with tempfile.TemporaryDirectory() as d:
            t = time.perf_counter()
            Embedder(enc, Path(d), progress=False).embed(texts)
            cold.append(time.perf_counter() - t)
            t = time.perf_counter()
            Embedder(enc, Path(d), progress=False).embed(texts)  # a second command: all cached
            warm.append(time.perf_counter() - t)
    n = len(texts)
    res = {
        "n_texts": n,
        "direct_texts_per_s": round(n / min(direct), 1),
        "layer_no_cache_texts_per_s": round(n / min(layer), 1),
        "layer_cold_cache_texts_per_s": round(n / min(cold), 1),
        "layer_warm_cache_texts_per_s": round(n / min(warm), 1),
        "overhead_ratio_no_cache": round(min(layer) / min(direct), 3),
        "overhead_ratio_cold_cache": round(min(cold) / min(direct), 3),
        "second_run_cache_speedup": round(min(cold) / min(warm), 1),
    }
    print("throughput", res, flush=True)
    return res


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results["datasets"])
    fig, ax = plt.subplots(figsize=(7, 4))
    w = 0.35
    for i, variant in enumerate(["names", "descriptions"]):
        acc = [results["datasets"][n][variant]["accuracy"] for n in names]
        bars = ax.bar(np.arange(len(names)) + i * w, acc, w, label=f"label {variant}")
        ax.bar_label(bars, fmt="%.2f")
    ax.set_xticks(np.arange(len(names)) + w / 2, names)
    ax.set_ylabel("accuracy (test split)")
    ax.set_ylim(0, 1)
    ax.set_title(f"Zero-shot accuracy, {results['encoder']}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--encoder", default="minilm")
    ap.add_argument("--calibration-texts", type=int, default=1000)
    ap.add_argument("--throughput-texts", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    cache = RESULTS / "cache"
    results: dict = {"encoder": args.encoder, "default_temperature": DEFAULT_TEMPERATURE, "datasets": {}}
    for name in DATASETS:
        results["datasets"][name] = evaluate(name, args.encoder, cache, args.calibration_texts, args.seed)
    texts = pd.read_csv(DATA / "banking77" / "train.csv")["text"].sample(
        n=args.throughput_texts, random_state=args.seed).tolist()
    results["throughput"] = throughput(args.encoder, texts)
    (RESULTS / "zero_shot.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    plot(results, RESULTS / "zero_shot.png")
    print(f"wrote {RESULTS / 'zero_shot.json'}")


if __name__ == "__main__":
    main()

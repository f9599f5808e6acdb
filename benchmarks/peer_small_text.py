"""Peer comparison: small-text's query strategies against ours, on the same head, embeddings and cold start.

The round loop is ``active_learning.simulate`` unchanged: frozen MiniLM embeddings (benchmark cache), a logistic
head (``EmbeddingHeadClassifier.fit_embeddings``) retrained after every batch, budgets 50..2,000, test accuracy per
round. Only the sampler differs. small-text's strategies (the library's own code, ``small-text==1.4.1``) pick every
batch after the first; the first batch (no labels yet) is the zero-shot cold-start pick of our combined sampler, the
same rows for every model-based strategy of a seed. They see our head through a small adapter (:class:`HeadAdapter`:
``predict_proba`` = the head's probabilities on the pool rows, ``embed`` = the frozen embeddings). ``random`` is
plain random sampling (first batch included), as in active_learning.py.

ClassBalancer is not in small-text 1.4.1: it first appears in 2.0.0 (pre-releases only). Its module
(``small_text/query_strategies/class_balancing.py`` of ``small-text==2.0.0.dev4``, fetched once into
``results/cache/`` with ``pip download``) runs on top of 1.4.1, around 1.4.1's BreakingTies.

``combined+auto`` (pool learning, what ``labelf train`` does) is ~15 s a round: its rows come from
results/active_learning_pool.json (same seeds, budgets, head and cold start) unless ``--run-auto``.

Usage:
    HF_HUB_OFFLINE=1 nice -n 5 .venv/bin/python benchmarks/peer_small_text.py                # 3 datasets, 3 seeds
    .venv/bin/python benchmarks/peer_small_text.py --datasets trec --seeds 0 --strategies combined breaking_ties
    .venv/bin/python benchmarks/peer_small_text.py --readme-only --section-out /tmp/peer_section.md

Results: results/peer_small_text.json (+ .png); runs are saved as they finish (results/cache/, ignored) and reused,
so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import types
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import active_learning as al  # noqa: E402
import common  # noqa: E402
import numpy as np  # noqa: E402
from common import RESULTS, SCRATCH  # noqa: E402

from labelf_trainer.io_utils import atomic_writer  # noqa: E402
from labelf_trainer.strategies.base import Pool, Selection  # noqa: E402

NAME = "peer_small_text"
SMALL_TEXT = "1.4.1"
CLASS_BALANCER_FROM = "2.0.0.dev4"
#: small-text strategies: row name -> display name
PEERS = {"breaking_ties": "BreakingTies", "class_balancer": "ClassBalancer(BreakingTies)",
         "embedding_kmeans": "EmbeddingKMeans", "greedy_coreset": "GreedyCoreset",
         "lightweight_coreset": "LightweightCoreset"}
OURS = ("combined", "random")
#: run order: the slow greedy coreset last
STRATEGIES = ("combined", "random", "breaking_ties", "class_balancer", "embedding_kmeans", "lightweight_coreset",
              "greedy_coreset")
AUTO = "combined+auto"
ROW_ORDER = ("combined", AUTO, *PEERS, "random")


# -- small-text side ------------------------------------------------------------------------------------------
class RowsDataset:
    """The pool as small-text sees it: row indices into the frozen embeddings (indexing returns a subset)."""

    is_multi_label = False

    def __init__(self, rows: np.ndarray, embeddings: np.ndarray) -> None:
        self.rows, self._emb = np.asarray(rows, dtype=np.int64), embeddings

    def __getitem__(self, idx) -> RowsDataset:
        return RowsDataset(self.rows[idx], self._emb)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def x(self) -> np.ndarray:
        return self._emb[self.rows]


def head_adapter(pool: Pool):
    """A small-text ``Classifier`` over our head: the round loop trained it and put its probabilities on every pool
    row in ``pool.proba`` (``head.predict_proba_embeddings(X)``); ``embed`` returns the frozen embeddings."""
    from small_text.classifiers import Classifier

    class HeadAdapter(Classifier):
        num_classes = len(pool.classes)

        def fit(self, train_set, weights=None):  # the round loop trains the head
            raise NotImplementedError

        def predict_proba(self, data_set: RowsDataset) -> np.ndarray:
            return pool.proba[data_set.rows]

        def predict(self, data_set: RowsDataset, return_proba: bool = False):
            proba = self.predict_proba(data_set)
            return (proba.argmax(1), proba) if return_proba else proba.argmax(1)

        def embed(self, data_set: RowsDataset, return_proba: bool = False, pbar=None, **_):
            emb = pool.embeddings[data_set.rows]
            return (emb, self.predict_proba(data_set)) if return_proba else emb

    return HeadAdapter()


def class_balancer_class() -> type:
    """small-text 2.0's ``ClassBalancer`` (its module, unchanged) on top of the installed 1.4.1."""
    import small_text.query_strategies.base as st_base
    from small_text.query_strategies import QueryStrategy

    wheel = SCRATCH / f"small_text-{CLASS_BALANCER_FROM}-py3-none-any.whl"
    if not wheel.is_file():
        SCRATCH.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(SCRATCH),
                        f"small-text=={CLASS_BALANCER_FROM}"], check=True)
    src = zipfile.ZipFile(wheel).read("small_text/query_strategies/class_balancing.py").decode()
    if not hasattr(st_base, "QueryStrategy"):  # 2.0 moved QueryStrategy into query_strategies.base
        st_base.QueryStrategy = QueryStrategy
    mod = types.ModuleType("small_text_class_balancing")
    exec(compile(src, f"{wheel.name}/small_text/query_strategies/class_balancing.py", "exec"), mod.__dict__)  # noqa: S102
    # 2.0 wraps the class in its single-label check, whose 1.4.1 version accepts only strings: take the class itself
    # (the labels passed here are single-label class indices)
    return mod.ClassBalancer.__bases__[0]


def greedy_coreset_strategy(batch_size: int = 2000):
    """1.4.1's ``GreedyCoreset`` (defaults: euclidean on L2-normalized embeddings) with its ``batch_size`` passed on
    to ``greedy_coreset``: 1.4.1's ``sample`` drops it and the function's default of 100 rows makes a 2,000-label run
    overhead-bound (tens of minutes a seed). The batch size only splits the distance computation: same picks."""
    from sklearn.preprocessing import normalize
    from small_text.query_strategies import GreedyCoreset, greedy_coreset

    class BatchedGreedyCoreset(GreedyCoreset):
        def sample(self, clf, dataset, indices_unlabeled, indices_labeled, y, n, embeddings, embeddings_proba=None):
            if self.normalize:
                embeddings = normalize(embeddings, axis=1)
            return greedy_coreset(embeddings, indices_unlabeled, indices_labeled, n,
                                  distance_metric=self.distance_metric, batch_size=self.batch_size,
                                  normalized=self.normalize)

    return BatchedGreedyCoreset(distance_metric="euclidean", batch_size=batch_size)


def make_peer(name: str):
    from small_text.query_strategies import BreakingTies, EmbeddingKMeans, LightweightCoreset

    if name == "breaking_ties":
        return BreakingTies()
    if name == "class_balancer":
        return class_balancer_class()(BreakingTies())
    if name == "embedding_kmeans":
        return EmbeddingKMeans()
    if name == "greedy_coreset":
        return greedy_coreset_strategy()
    if name == "lightweight_coreset":
        return LightweightCoreset()
    raise ValueError(f"unknown small-text strategy {name!r}")


class PeerStrategy:
    """Our strategy interface (``query(pool, unlabeled, labeled, n) -> Selection``) around a small-text strategy;
    without labels it is the combined sampler's zero-shot cold start (the same first batch as ``combined``)."""

    def __init__(self, name: str, seed: int) -> None:
        self.name, self.seed = name, seed

    def query(self, pool: Pool, unlabeled: np.ndarray, labeled: np.ndarray, n: int) -> Selection:
        if len(labeled) == 0:
            return al.build_strategy("combined", {}, self.seed).query(pool, unlabeled, labeled, n)
        np.random.seed(self.seed)  # small-text draws from numpy's global generator (k-means, ties, coresets)
        index = {c: i for i, c in enumerate(pool.classes)}
        y = np.array([index[pool.labels[int(r)][0]] for r in labeled])
        picked = make_peer(self.name).query(head_adapter(pool), RowsDataset(np.arange(len(pool)), pool.embeddings),
                                            np.asarray(unlabeled), np.asarray(labeled), y, n=n)
        picked = np.unique(np.asarray(picked, dtype=np.int64))
        if len(picked) < n:  # never seen; keep the budgets exact and say so
            print(f"  {self.name}: {len(picked)} of {n} rows picked, the rest at random", flush=True)
            rest = np.setdiff1d(unlabeled, picked)
            picked = np.concatenate([picked, np.random.choice(rest, n - len(picked), replace=False)])
        return Selection(picked, np.zeros(len(picked)), [{"summary": self.name}] * len(picked))


@contextmanager
def peer_strategies() -> Iterator[None]:
    """``active_learning.simulate`` builds small-text strategies for the peer names (its round loop unchanged)."""
    original = al.build_strategy

    def build(name: str, params: dict, seed: int):
        return PeerStrategy(name, seed) if name in PEERS else original(name, params, seed)

    al.build_strategy = build
    try:
        yield
    finally:
        al.build_strategy = original


# -- runs -----------------------------------------------------------------------------------------------------
def published_auto(dataset: str, seeds: list[int], budgets: tuple[int, ...]) -> dict | None:
    """``combined+auto`` from results/active_learning_pool.json when it covers these seeds and budgets."""
    row = common.load_results(al.POOL_NAME).get("datasets", {}).get(dataset, {}).get("rows", {}).get(AUTO)
    if not row or row["labels"] != list(budgets) or not all(str(s) in row["accuracy_by_seed"] for s in seeds):
        return None
    return {**row, "source": f"results/{al.POOL_NAME}.json"}


def save_run(path: Path, key: str, curve: dict) -> None:
    """Add one finished run to the resume file (re-read first: another process may be filling it too)."""
    runs = json.loads(path.read_text()) if path.is_file() else {}
    runs[key] = curve
    with atomic_writer(path) as fh:
        json.dump(runs, fh)


def run_dataset(spec: common.DatasetSpec, strategies: list[str], seeds: list[int], budgets: tuple[int, ...],
                run_auto: bool, cached_only: bool = False) -> dict:
    """Every (strategy, seed) run of one dataset (from the resume file when done before; ``cached_only``: only
    those), summarised per row."""
    ds = al.load(spec)
    name = ds["name"]
    setting = json.dumps({"encoder": "minilm", "descriptions": ds["dataset"].descriptions_hash,
                          "data": ds["dataset"].info(), "small_text": SMALL_TEXT}, sort_keys=True)
    runs_file = SCRATCH / f"{NAME}.{name}.runs.json"  # resume state (ignored by git)
    runs: dict = json.loads(runs_file.read_text()) if runs_file.is_file() else {}
    rows: dict = {}
    todo = [(s, "off") for s in strategies] + ([("combined", "auto")] if run_auto else [])
    with peer_strategies():
        for s, method in todo:
            curves = {}
            for seed in seeds:
                key = al.run_key(name, s, seed, budgets, {}, setting, method)
                if key not in runs and cached_only:
                    continue
                if key not in runs:
                    t0 = time.perf_counter()
                    runs[key] = al.simulate(ds, s, seed, budgets, {}, method)
                    c = runs[key]
                    print(f"{name:24s} {al.row_name(s, method):20s} seed {seed}: acc " + " ".join(
                        f"{b}:{a:.3f}" for b, a in zip(c["labels"], c["accuracy"]) if b in al.REPORT_AT)
                        + f"  ({time.perf_counter() - t0:.0f}s)", flush=True)
                    save_run(runs_file, key, runs[key])
                curves[seed] = runs[key]
            if not curves:
                continue
            rows[al.row_name(s, method)] = {**al.summarize(curves),
                                            **({"small_text": s} if s in PEERS else {})}
    if not run_auto and "combined" in strategies:
        auto = published_auto(name, seeds, budgets)
        if auto:
            rows[AUTO] = auto
    published = common.load_results(al.NAME).get("datasets", {}).get(name, {})
    return {"meta": {"seeds": sorted(seeds), "budgets": list(budgets), "encoder": "minilm", "model": al.MODEL,
                     "small_text": SMALL_TEXT, "class_balancer_from": CLASS_BALANCER_FROM,
                     "descriptions": ds["dataset"].descriptions_hash},
            "info": ds["dataset"].info(), "rows": rows, "zero_shot": al.zero_shot_scores(ds),
            "random_final_accuracy_published": published.get("random_final_accuracy")}


def derive(doc: dict) -> None:
    """Per row: labels to reach the published random@2000 accuracy; per small-text row: budgets where its mean beats
    (or trails) combined's, in points."""
    for block in doc.get("datasets", {}).values():
        target = block.get("random_final_accuracy_published")
        rows = block.get("rows", {})
        comb = rows.get("combined")
        for name, r in rows.items():
            r["labels_to_random_final"] = (al.labels_to_reach(r["labels"], r["accuracy_mean"], target)
                                           if target else None)
            if comb and name != "combined" and r["labels"] == comb["labels"]:
                seeds = [s for s in r["accuracy_by_seed"] if s in comb["accuracy_by_seed"]]
                if not seeds:
                    continue
                mine = np.mean([r["accuracy_by_seed"][s] for s in seeds], axis=0)
                theirs = np.mean([comb["accuracy_by_seed"][s] for s in seeds], axis=0)
                r["vs_combined_points"] = [round(100 * (a - b), 1) for a, b in zip(mine, theirs)]
                r["vs_combined_seeds"] = sorted(int(s) for s in seeds)
                r["combined_aulc_same_seeds"] = al.aulc(r["labels"], theirs.tolist())


# -- README ---------------------------------------------------------------------------------------------------
def display(name: str) -> str:
    if name in PEERS:
        return f"small-text {PEERS[name]}"
    return {"combined": "ours: combined", AUTO: "ours: combined+auto", "random": "random"}.get(name, name)


def ordered(rows: dict) -> list[str]:
    return [r for r in ROW_ORDER if r in rows] + [r for r in rows if r not in ROW_ORDER]


def ordered_blocks(doc: dict) -> dict:
    """The datasets of a results document, the published ones first in their usual order."""
    blocks = doc.get("datasets", {})
    default = list(al.DEFAULT_DATASETS)
    return {d: blocks[d] for d in sorted(blocks, key=lambda d: (default.index(d) if d in default else len(default),
                                                                 d))}


def section(doc: dict) -> str:
    blocks = ordered_blocks(doc)
    if not blocks:
        return ""
    meta = next(iter(blocks.values()))["meta"]
    cols = list(al.REPORT_AT)
    lines = ["## Peer comparison: small-text (benchmarks/peer_small_text.py)", "",
             (f"Same loop as `active_learning` (logistic head on frozen {meta['encoder']} embeddings, retrained after "
             f"every batch; budgets {meta['budgets']}; seeds {meta['seeds']}), only the sampler changes: after the "
             f"first batch, small-text {meta['small_text']}'s own strategy code picks each batch, seeing our head "
             "through an adapter (`predict_proba` = the head's probabilities, `embed` = the frozen embeddings). The "
             "first batch is the same zero-shot cold-start pick (label descriptions) for every model-based row of a "
             "seed; `random` is random throughout. ClassBalancer is not in 1.4.1: its module from small-text "
             f"{meta['class_balancer_from']} runs on top of 1.4.1 around BreakingTies; GreedyCoreset uses 1.4.1's "
             "defaults (euclidean on normalized embeddings; its `batch_size`, which 1.4.1 does not pass on, set to "
             "2,000 rows: same picks, less overhead). Cells: test accuracy, mean of the seeds; AULC: mean "
             "accuracy over log(labels); `to random@2000`: labels at which the mean curve reaches the published "
             "random@2,000 accuracy (`active_learning` table; `>2000`: not reached). `combined+auto` (pool learning, "
             f"the product default) is taken from results/{al.POOL_NAME}.json (same seeds, budgets, head, cold "
             "start; not re-run here). Plot: `results/peer_small_text.png`."), ""]
    verdict = []
    for d, block in blocks.items():
        rows = block["rows"]
        target = block.get("random_final_accuracy_published")
        names = ordered(rows)
        n_seeds = max(r["seeds"] for r in rows.values())
        lines += [f"**{d}** (test accuracy, mean of {n_seeds} seed{'s' if n_seeds != 1 else ''}; published "
                  f"random@2000 = {target:.3f})" if target else f"**{d}**", "",
                  "| strategy | " + " | ".join(map(str, cols)) + " | AULC | to random@2000 | selection s/round |",
                  "|---" * (len(cols) + 4) + "|"]
        for name in names:
            r = rows[name]
            acc = [f"{r['accuracy_mean'][r['labels'].index(b)]:.3f}" if b in r["labels"] else "-" for b in cols]
            need = r.get("labels_to_random_final")
            reach = "-" if not target else (f"{need:.0f}" if need is not None else f">{r['labels'][-1]}")
            sel = "-" if "source" in r else f"{r['select_s_mean']:.2f}"
            note = " (published)" if "source" in r else ""
            if r["seeds"] != n_seeds:
                note += f" ({r['seeds']} seed{'s' if r['seeds'] != 1 else ''}: {', '.join(map(str, r['seed_list']))})"
            lines.append(f"| {display(name)}{note} | " + " | ".join(acc)
                         + f" | {r['aulc']:.3f} | {reach} | {sel} |")
        note = drift_note(d, rows) if "source" in rows.get(AUTO, {}) else ""
        missing = [PEERS[p] for p in PEERS if p not in rows]
        if missing:
            note += (" " if note else "") + f"Not measured on {d}: {', '.join(missing)}" + (
                " (out of time: 1.4.1's `greedy_coreset` recomputes every unlabeled row's distance to the whole "
                "labeled set for each pick, tens of minutes per 2,000-label run on the shared 2-core machine)"
                if "GreedyCoreset" in missing else "") + "."
        lines += ["", note, ""] if note else [""]
        comb = rows.get("combined")
        if comb:
            lines.append("Small-text against `combined` (mean accuracy over the same seeds, points; budgets where it "
                         "is ahead / behind):")
            lines.append("")
            for name in [n for n in names if n in PEERS]:
                diff = rows[name].get("vs_combined_points") or []
                ahead = [f"{b} ({x:+.1f})" for b, x in zip(rows[name]["labels"], diff) if x > 0]
                behind = [f"{b} ({x:+.1f})" for b, x in zip(rows[name]["labels"], diff) if x < 0]
                same = rows[name].get("vs_combined_seeds", [])
                only = f" (seed {', '.join(map(str, same))} only)" if len(same) < comb["seeds"] else ""
                lines.append(f"- {display(name)}{only}: ahead at {', '.join(ahead) or 'no budget'}; behind at "
                             f"{', '.join(behind) or 'no budget'}.")
            lines.append("")
            verdict.append(dataset_verdict(d, rows))
    if verdict:
        lines += ["**Verdict:** " + " ".join(verdict), "",
                  "The like-for-like comparison is against `combined`: small-text's rows learn from the labels only, "
                  "like it. `combined+auto` adds pool learning (self-training), which could be put on top of any "
                  "sampler; BreakingTies with it was not measured.", ""]
    return "\n".join(lines)


def dataset_verdict(d: str, rows: dict) -> str:
    """One plain sentence per dataset: the best AULC, the small-text rows above ``combined`` in AULC (with the
    number of later budgets where they are ahead), and how they fare against ``combined+auto``."""
    comb, auto = rows["combined"], rows.get(AUTO)
    best = max(rows, key=lambda n: rows[n]["aulc"])
    out = f"{d}: best AULC `{display(best)}` ({rows[best]['aulc']:.3f})"

    def base(n: str) -> float:  # combined's AULC on the row's seeds
        return rows[n].get("combined_aulc_same_seeds", comb["aulc"])

    peers = sorted((n for n in rows if n in PEERS), key=lambda n: -(rows[n]["aulc"] - base(n)))
    above = [n for n in peers if rows[n]["aulc"] > base(n)]
    if not peers:
        return out + "."

    def ahead(n: str) -> str:
        diff = (rows[n].get("vs_combined_points") or [])[1:]  # the first batch is the same cold-start pick
        few = rows[n]["seeds"] < comb["seeds"]
        return (f"ahead at {sum(x > 0 for x in diff)} of the {len(diff)} later budgets"
                + (f"; seed {', '.join(map(str, rows[n]['seed_list']))} only, `combined` {base(n):.3f} there"
                   if few else ""))

    if above:
        out += (f"; small-text above `combined` ({comb['aulc']:.3f}): "
                + ", ".join(f"{PEERS[n]} {rows[n]['aulc']:.3f} ({ahead(n)})" for n in above))
    else:
        top = peers[0]
        out += (f"; no small-text strategy reaches `combined`'s AULC ({comb['aulc']:.3f}); the closest, "
                f"{PEERS[top]} ({rows[top]['aulc']:.3f}), is {ahead(top)}")
    if auto:
        beat = [n for n in peers if rows[n]["aulc"] > auto["aulc"]]
        out += (f"; against `combined+auto` ({auto['aulc']:.3f}): "
                + (", ".join(PEERS[n] for n in beat) + " above" if beat else "none above"))
    return out + "."


def drift_note(d: str, rows: dict) -> str:
    """How far the published pool run's labels-only ``combined`` (the run ``combined+auto`` comes from) is from this
    run's ``combined``: the code of the two runs may differ."""
    pub = common.load_results(al.POOL_NAME).get("datasets", {}).get(d, {}).get("rows", {}).get("combined")
    comb = rows.get("combined")
    if not pub or not comb or pub["labels"] != comb["labels"]:
        return ""
    gap = [100 * (a - b) for a, b in zip(comb["accuracy_mean"], pub["accuracy_mean"])]
    i = int(np.argmax(np.abs(gap)))
    return (f"`combined+auto` comes from the published pool run, whose labels-only `combined` row differs from this "
            f"run's by at most {abs(gap[i]):.1f} points (this run {gap[i]:+.1f} at {comb['labels'][i]} labels; AULC "
            f"{comb['aulc']:.3f} here, {pub['aulc']:.3f} there).")


def write_section_file(doc: dict, path: Path) -> None:
    body = section(doc)
    path.write_text(f"<!-- section:{NAME} -->\n{body.strip()}\n<!-- /section:{NAME} -->\n", encoding="utf-8")
    print(f"README section written to {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    common.add_dataset_args(ap, al.DEFAULT_DATASETS)
    ap.add_argument("--strategies", nargs="+", choices=STRATEGIES, default=list(STRATEGIES))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--budgets", nargs="+", type=int, default=list(al.BUDGETS))
    ap.add_argument("--run-auto", action="store_true",
                    help=f"also run {AUTO} (slow) instead of taking it from results/{al.POOL_NAME}.json")
    ap.add_argument("--cached-only", action="store_true",
                    help="run nothing: summarise the finished runs of the resume files (rows with fewer seeds say so)")
    ap.add_argument("--readme-only", action="store_true", help="only rebuild the plot and README block from the JSON")
    ap.add_argument("--section-out", type=Path, default=None,
                    help="write the README block (<!-- section:peer_small_text --> ...) to this file")
    args = ap.parse_args()
    common.apply_common_args(args)
    if not args.readme_only:
        budgets = tuple(sorted(args.budgets))
        SCRATCH.mkdir(parents=True, exist_ok=True)
        for spec in args.datasets:  # written per dataset, so an interrupted run keeps what it finished
            block = run_dataset(spec, args.strategies, args.seeds, budgets, args.run_auto, args.cached_only)
            common.write_results(NAME, {"datasets": {spec.key: block}}, coverage=("seeds", "budgets"),
                                 finalize=derive)
    doc = common.load_results(NAME)
    if doc.get("datasets"):
        al.plot({"datasets": {d: {**b, "rows": {display(n).replace("ours: combined", "combined"): b["rows"][n]
                                                for n in ordered(b["rows"])}}
                              for d, b in ordered_blocks(doc).items()}}, RESULTS / f"{NAME}.png")
        if args.section_out:
            write_section_file(doc, args.section_out)
        else:
            print(section(doc))


if __name__ == "__main__":
    main()

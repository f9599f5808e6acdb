"""Keyword rules at the cold start (issue 15): the first batch picked with and without the `rules:` block.

End to end on the product: per dataset and seed a real project (the dataset's label descriptions, encoder minilm)
whose pool is a seeded sample of the training split; `loop/suggest.py: suggest` picks the first batch (no label yet:
the zero-shot cold start; with rules, a text a label's rules mark is searched first for that label); the batch gets
its gold labels; `loop/trainer.py: train_and_register` trains the embedding-head. Reported: labels the first batch
covers, and the trained model's accuracy on a sample of the test split. The rules are those of
`benchmarks/quality.py` (written from the label descriptions before looking at the data).

Usage:
    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/rules_cold_start.py
    .venv/bin/python benchmarks/rules_cold_start.py --readme-only
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import common
import numpy as np
import yaml
from common import RESULTS
from quality import RULES

NAME = "rules_cold_start"
POOL = 3000
TEST = 1000
PER_LABEL = 3
"""First batch: this many texts per label (TREC 18, Bitext 81)."""


def run(ds: common.Dataset, seed: int, rules: bool) -> dict:
    from labelf_trainer.loop.project import Project
    from labelf_trainer.loop.suggest import suggest
    from labelf_trainer.loop.trainer import train_and_register
    from labelf_trainer.types import Annotation

    rng = np.random.default_rng(seed)
    train = ds.train.iloc[np.sort(rng.choice(len(ds.train), size=min(POOL, len(ds.train)), replace=False))]
    test = ds.test.iloc[np.sort(rng.choice(len(ds.test), size=min(TEST, len(ds.test)), replace=False))]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        train.assign(id=[f"t{i}" for i in range(len(train))])[["id", "text"]].to_csv(folder / "pool.csv", index=False)
        cfg = {"project": f"{ds.key}-{seed}", "encoder": "minilm", "workspace": "ws",
               "labels": [{"name": c, "description": ds.descriptions.get(c, "")} for c in ds.classes],
               "data": [{"path": "pool.csv", "id_column": "id"}]}
        if rules:
            cfg["rules"] = RULES[ds.key]
        (folder / "p.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
        gold = dict(zip([f"t{i}" for i in range(len(train))], train[ds.label_column].astype(str)))
        t0 = time.perf_counter()
        with Project.open(folder / "p.yaml", create=True) as project:
            project.import_sources()
            project.ensure_zero_shot()
            batch = suggest(project, n=PER_LABEL * len(ds.classes), seed=seed, progress=False)
            ids = [it.item_id for it in batch.items]
            by_rule = sum(1 for it in batch.items if "keyword rule" in json.dumps(it.reason))
            project.ws.annotations.add([Annotation(i, (gold[i],)) for i in ids])
            res = train_and_register(project, "embedding-head", deploy=True, progress=False, seed=seed)
            model = project.registry.load(res.model_id)
            pred = model.predict(list(test["text"]))
        acc = float(np.mean(np.asarray(pred, dtype=object) == test[ds.label_column].astype(str).to_numpy()))
    return {"batch": len(ids), "labels_covered": len({gold[i] for i in ids}), "classes": len(ds.classes),
            "picked_by_rule": by_rule, "accuracy": round(acc, 4), "seconds": round(time.perf_counter() - t0, 1)}


def section(doc: dict) -> str:
    lines = ["## Keyword rules at the cold start (`benchmarks/rules_cold_start.py`)",
             "", __doc__.split("\n\n")[1].replace("\n", " "), "",
             f"Pool {POOL:,} training texts, test sample {TEST:,}, first batch {PER_LABEL} texts per label; "
             f"seeds {doc['seeds']}.", "",
             "| dataset | first batch | labels covered: without → with rules | picked by a rule | accuracy after the "
             "first batch: without → with rules | difference (points) |", "|---|---|---|---|---|---|"]
    for key, d in doc["datasets"].items():
        off, on = d["off"], d["on"]
        cov = (np.mean([r["labels_covered"] for r in off]), np.mean([r["labels_covered"] for r in on]))
        acc = (np.mean([r["accuracy"] for r in off]), np.mean([r["accuracy"] for r in on]))
        per_seed = ", ".join(f"{100 * (b['accuracy'] - a['accuracy']):+.1f}" for a, b in zip(off, on))
        lines.append(f"| {key} | {off[0]['batch']} | {cov[0]:.1f} → {cov[1]:.1f} of {off[0]['classes']} | "
                     f"{np.mean([r['picked_by_rule'] for r in on]):.1f} | {acc[0]:.3f} → {acc[1]:.3f} | "
                     f"{100 * (acc[1] - acc[0]):+.1f} (per seed {per_seed}) |")
    lines += ["", doc.get("verdict", ""), "", "Raw runs: `results/rules_cold_start.json`."]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["trec", "bitext_customer_support"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--readme-only", action="store_true")
    args = ap.parse_args()
    path = RESULTS / f"{NAME}.json"
    if not args.readme_only:
        doc = {"seeds": args.seeds, "datasets": {}}
        for name in args.datasets:
            ds = common.load_dataset(name)
            doc["datasets"][ds.key] = {"off": [], "on": []}
            for seed in args.seeds:
                for rules, key in ((False, "off"), (True, "on")):
                    r = run(ds, seed, rules)
                    doc["datasets"][ds.key][key].append(r)
                    print(ds.key, seed, key, r, flush=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
        tmp.replace(path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    common.write_section(NAME, section(doc))


if __name__ == "__main__":
    main()

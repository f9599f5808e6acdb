"""The label-quality part of the demo: one review round on deliberately flipped labels, annotator agreement, keyword
rules and one discovery step, each a real `labelf` command (``docs/quality.md``).

Usage, from :mod:`labelf_trainer.demo` once a few rounds are labeled (``labelf`` runs one command in the demo folder
and returns its stdout)::

    demo_quality.run(labelf, OUT / "labelf.yaml", gold, labeled_ids(batches))
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

__all__ = ["run", "NORDTEL_RULES", "FLIP_SHARE"]

console = Console(highlight=False)

FLIP_SHARE = 0.1
"""Share of the labeled texts whose label the "sloppy annotator" flips."""

#: Rules written from the Nordtel label descriptions (configs/telecom.yaml); only labels the config has are used.
NORDTEL_RULES: dict[str, dict[str, list[str]]] = {
    "Billing": {"phrases": ["invoice", "refund", "direct debit", "charged", "bill"]},
    "Cancellation": {"phrases": ["cancel", "terminate", "end my contract", "switching to"]},
    "Technical Issue": {"phrases": ["no signal", "router", "outage", "keeps dropping"],
                        "patterns": [r"\b(internet|wifi|broadband)\b.*\b(down|slow|not working)\b"]},
    "Delivery": {"phrases": ["tracking", "courier", "not arrived", "parcel", "package"]},
    "Account Access": {"phrases": ["password", "log in", "locked out", "two-factor", "verification code"]},
    "Roaming": {"phrases": ["roaming", "abroad"], "patterns": [r"\bin (spain|france|germany|italy|the us)\b"]},
    "Upgrade": {"phrases": ["upgrade", "more data", "faster speed", "new phone"]},
}


def _write(path: Path, header: list[str], rows: Iterable[list[Any]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _add_rules(config: Path, rules: dict[str, dict[str, list[str]]]) -> int:
    """Give the demo's config copy a `rules:` block for the labels it has; returns the number of rules."""
    cfg = yaml.safe_load(config.read_text(encoding="utf-8"))
    names = {lab["name"] for lab in cfg["labels"]}
    cfg["rules"] = {k: v for k, v in rules.items() if k in names}
    config.write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return sum(len(v.get("phrases", [])) + len(v.get("patterns", [])) for v in cfg["rules"].values())


def run(labelf: Callable[..., str], config: Path, gold: dict[str, str], labeled: Iterable[str], *,
        rules: dict[str, dict[str, list[str]]] | None = None, discover: bool = True) -> dict[str, Any]:
    """Flip a share of the labels, review them, correct the flagged ones with gold, measure agreement (a second
    annotator, with some mistakes, on 40 texts; the reviewer then settles the disputed ones with gold), show the
    rules and cluster the texts that fit no label. Prints what it does; returns the figures. Afterwards the only
    wrong labels left are flipped ones the review missed (``figures["missed"]``)."""
    out = config.parent
    labels = sorted({lab for lab in gold.values() if lab})
    ids = sorted(i for i in labeled if gold.get(i))
    flipped = {i: labels[(labels.index(gold[i]) + 1) % len(labels)] for i in ids[::round(1 / FLIP_SHARE)]}
    console.rule("Label quality: a sloppy annotator flips labels; `labelf review` finds them")
    _write(out / "sloppy.csv", ["id", "label"], ([i, lab] for i, lab in flipped.items()))
    labelf("label", "sloppy.csv", "--annotator", "demo-sloppy")
    res = json.loads(labelf("review", "--format", "json", "--limit", "1000", "--output", "review.csv", echo=False))
    found = {s["item_id"] for s in res["suspects"]}
    hit = len(found & set(flipped))
    precision = hit / len(found) if found else 0.0
    recall = hit / len(flipped) if flipped else 1.0
    console.print(f"{len(flipped)} of {len(ids)} labels flipped; review flagged {len(found)}: {hit} of them flipped "
                  f"(precision {precision:.0%}, recall {recall:.0%})")
    for s in res["suspects"][:5]:
        console.print(f"  {s['item_id']}: given {'|'.join(s['given'])}, model says {'|'.join(s['suggested'])} "
                      f"(score {s['score']:.3f}){'  <- flipped' if s['item_id'] in flipped else ''}")
    with (out / "review.csv").open(encoding="utf-8", newline="") as fh:  # the reviewer fills in the right label
        rows = [[r["id"], gold[r["id"]]] for r in csv.DictReader(fh) if gold.get(r["id"])]
    _write(out / "reviewed.csv", ["id", "label"], rows)
    labelf("label", "reviewed.csv", "--annotator", "demo-reviewer")
    console.print(f"after one review round {len(set(flipped) - found)} flipped label(s) remain "
                  f"(of {len(flipped)}); the history keeps every annotator's answer")
    console.rule("Annotator agreement: a second annotator labels 40 of the texts again")
    second = ids[1::max(1, len(ids) // 40)][:40]
    wrong = set(second[::8])
    _write(out / "second.csv", ["id", "label", "annotator"],
           ([i, labels[(labels.index(gold[i]) + 2) % len(labels)] if i in wrong else gold[i], "demo-second"]
            for i in second))
    agr = json.loads(labelf("agreement", "second.csv", "--format", "json", "--limit", "100000", echo=False))
    console.print(f"Krippendorff's alpha {agr['krippendorff_alpha']} on {agr['texts']} texts with 2+ annotators; "
                  f"{agr['disputed_total']} disputed; consensus: {agr['consensus_method']}")
    for s in agr["annotator_stats"]:
        console.print(f"  {s['annotator']}: agreement with the consensus {s['agreement_with_consensus']}, "
                      f"quality {s['quality']}")
    settled = [[d["item_id"], gold[d["item_id"]]] for d in agr["disputed"] if gold.get(d["item_id"])]
    _write(out / "settled.csv", ["id", "label"], settled)  # the reviewer settles the disputed texts
    if settled:
        labelf("label", "settled.csv", "--annotator", "demo-reviewer")
    console.rule("Keyword rules: coverage of the pool and precision on the labeled texts")
    n_rules = _add_rules(config, rules if rules is not None else NORDTEL_RULES)
    rep = json.loads(labelf("rules", "--format", "json", echo=False))
    for r in rep["per_label"]:
        prec = "no labeled hit" if r["precision"] is None else f"precision {r['precision']:.0%} " \
                                                               f"({r['correct']}/{r['labeled_hits']})"
        console.print(f"  {r['label']}: {r['pool_hits']} texts ({r['coverage']:.1%} of the pool), "
                      f"{r['unlabeled_hits']} unlabeled; {prec}")
    figures: dict[str, Any] = {"flipped": len(flipped), "flagged": len(found), "precision": precision,
                               "recall": recall, "missed": len(set(flipped) - found),
                               "alpha": agr["krippendorff_alpha"], "rules": n_rules}
    if discover:
        console.rule("Discover: texts that fit no label, clustered")
        disc = json.loads(labelf("discover", "--min-size", "2", "--format", "json", echo=False))
        console.print(f"{len(disc['clusters'])} cluster(s) of {disc['texts']} texts ({disc['source']})")
        for c in disc["clusters"][:5]:
            console.print(f"  #{c['id']} {c['name']!r} ({c['size']} texts): {', '.join(c['terms'][:5])}; "
                          f"e.g. {c['representatives'][0]['text'][:70]!r}")
        figures["clusters"] = len(disc["clusters"])
        if disc["clusters"]:  # the team names the biggest cluster and adds it to the label set
            top = max(disc["clusters"], key=lambda c: c["size"])
            name = " ".join(w.capitalize() for w in re.findall(r"[A-Za-z0-9]+", top["name"])[:3]) or "New Topic"
            sync = "--sync" if os.environ.get("LABEL_STUDIO_URL") else "--no-sync"  # files only: no server
            added = json.loads(labelf("labels", "add", name, "--from-cluster", str(top["id"]), sync, "--format",
                                      "json"))
            console.print(f"label {name!r} added from cluster #{top['id']} ({top['size']} texts): labels now "
                          f"{', '.join(added['labels'])}; its texts are queued for labeling, and the next "
                          "`labelf train` learns it")
            figures["added_label"] = name
    return figures

"""The demo's whole-calls step: conversation flags on Nordtel call transcripts of 2,000-10,000 characters.

The multi-label flags project (``configs/telecom-multilabel.yaml``: Churn Risk, Repeat Contact, Frustrated, Praise)
learns from the example's messages and calls (flagged ones, and "no flag applies" on the others), then classifies
held-out calls whose flag is raised only in their last turns, far past the encoder's 256-token window, with
``labelf predict --input``. Each late flag comes with the turn or window that decided it
(:mod:`labelf_trainer.explain`), and the same model reading only each call's first window shows what truncation
misses. Called by :func:`labelf_trainer.demo.main` (``demo.OUT`` set)::

    summary_line = whole_calls()   # "whole calls: 5 of 7 flags raised only in a call's last turns found by ..."
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from . import demo

ASSETS = Path(__file__).resolve().parent / "assets"  # not demo.ASSETS: demo.py may import this module first
FLAGS_CONFIG = ASSETS / "configs" / "telecom-multilabel.yaml"
CALLS = ASSETS / "examples" / "telecom" / "calls.csv"
MESSAGES = ASSETS / "examples" / "telecom" / "messages.csv"
HELD_OUT = ("call-006", "call-015", "call-018", "call-023", "call-029", "call-033", "call-039")
"""Calls nobody labels: each raises a flag only in its last turns (the ``late`` column of calls.csv)."""


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _flags(value: str) -> set[str]:
    return {f for f in value.split("|") if f}


def whole_calls() -> str:
    """Run the step (commands printed as they run); returns the demo summary's line."""
    demo.console.rule("6. Whole calls: flags raised anywhere in a 2,000-10,000-character transcript")
    out = demo.OUT
    cfg = demo.copy_config(FLAGS_CONFIG, out / "calls.yaml", out / "calls-workspace")
    calls = {r["id"]: r for r in _rows(CALLS)}
    labeled = out / "calls-labels.csv"
    with labeled.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "label"])
        w.writerows([r["id"], r["tags"]] for r in _rows(MESSAGES) + list(calls.values())
                    if r["tags"] and r["id"] not in HELD_OUT)
    demo.labelf("init", str(cfg))
    demo.labelf("label", str(labeled), "--annotator", "demo-gold", "-c", str(cfg))
    unflagged = [r["id"] for r in _rows(MESSAGES) + list(calls.values()) if not r["tags"] and r["id"] not in HELD_OUT]
    _no_flag(cfg, unflagged)
    demo.console.print(f"[dim](the annotator also answered 'no flag applies' on {len(unflagged)} messages and calls: "
                       "a label file cannot say that yet, so the demo records it through the Python API)[/]")
    res = json.loads(demo.labelf("train", "--deploy", "--quiet", "--format", "json", "-c", str(cfg), echo=False))
    model_id = int(res["model_id"])
    held = out / "calls-held-out.csv"
    with held.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text"])
        w.writerows([i, calls[i]["text"]] for i in HELD_OUT)
    sizes = ", ".join(f"{len(calls[i]['text']):,}" for i in HELD_OUT)
    demo.console.print(f"\n[dim](classifying {len(HELD_OUT)} held-out calls of {sizes} characters)[/]")
    preds = out / "calls-predictions.jsonl"
    demo.labelf("predict", str(model_id), "--input", str(held), "--id-column", "id", "--output", str(preds),
                "--no-text", "-c", str(cfg))
    with preds.open(encoding="utf-8") as fh:
        flags = {r["id"]: set(r["labels"]) for r in map(json.loads, fh)}
    found, found_truncated, n_late = _report(cfg, model_id, flags, calls)
    return (f"whole calls: {found} of {n_late} flags raised only in a call's last turns found by model {model_id} "
            f"(reading the first window only, it finds {found_truncated})")


def _no_flag(cfg: Path, item_ids: list[str]) -> None:
    """Record "no flag applies" (an empty label set, a valid multi-label answer) for ``item_ids``: without these
    negatives every trained flag fires on ordinary turns (3x the false flags on the held-out calls)."""
    from .loop.project import Project
    from .types import Annotation

    with Project.open(cfg) as project:
        project.ws.annotations.add([Annotation(i, (), annotator="demo-gold", source="file",
                                               external_id=f"demo-gold:{i}") for i in item_ids])


def _report(cfg: Path, model_id: int, flags: dict[str, set[str]], calls: dict[str, dict]) -> tuple[int, int, int]:
    """Print each held-out call's flags, gold flags and the excerpts that decided its late flags; count the late
    flags found, and those the same model finds when it reads only each call's first window."""
    from .embeddings.long_texts import ModelLongTexts
    from .embeddings.windows import TRUNCATE
    from .explain import explain
    from .loop.project import Project

    texts = [calls[i]["text"] for i in HELD_OUT]
    with Project.open(cfg) as project:
        model = project.registry.load(model_id)
        excerpts = explain(model, texts)
        model.long_ = ModelLongTexts(TRUNCATE)  # type: ignore[attr-defined]  # the same head, first window only
        truncated = model.predict(texts)
    found = found_truncated = n_late = 0
    for call_id, ex, short in zip(HELD_OUT, excerpts, truncated):
        got, gold, late = flags[call_id], _flags(calls[call_id]["tags"]), _flags(calls[call_id]["late"])
        n_late += len(late)
        found += len(late & got)
        found_truncated += len(late & set(short))
        demo.console.print(f"{call_id} ({len(calls[call_id]['text']):,} chars): flags {sorted(got)}; gold "
                           f"{sorted(gold)}, raised late: {sorted(late)}; first window only: {sorted(short)}")
        for e in ex:
            if e.label in late & got:
                demo.console.print(f"   {e.label} {e.score:.2f} <- {e.unit} at characters {e.start}-{e.end} of "
                                   f"{len(texts[HELD_OUT.index(call_id)]):,}: “{e.excerpt[:110]}”")
    return found, found_truncated, n_late

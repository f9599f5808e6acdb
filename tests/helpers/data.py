"""Small labeled data sets shared by the tests: 12 (+18) telecom texts over three labels, held-out texts."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from labelf_trainer.loop.project import Project

TELECOM_LABELS = [
    {"name": "Billing", "description": "invoice, charges, payments, refunds or the price on the bill"},
    {"name": "Technical Issue", "description": "internet, signal, router or phone not working, outages"},
    {"name": "Cancellation", "description": "the customer wants to cancel or end the contract"},
]
LABELS = [lab["name"] for lab in TELECOM_LABELS]

TELECOM_ROWS = [
    ("b1", "My invoice is much higher than last month", "Billing"),
    ("b2", "Why was I charged twice for the same bill?", "Billing"),
    ("b3", "I need a refund for the overcharge on my invoice", "Billing"),
    ("b4", "The direct debit took the wrong amount from my account", "Billing"),
    ("t1", "My internet keeps dropping every evening", "Technical Issue"),
    ("t2", "No signal on my phone since yesterday", "Technical Issue"),
    ("t3", "The router lights are red and nothing connects", "Technical Issue"),
    ("t4", "Broadband is down again in my area", "Technical Issue"),
    ("c1", "I want to cancel my contract", "Cancellation"),
    ("c2", "Please terminate my subscription at the end of the month", "Cancellation"),
    ("c3", "How do I end my plan and leave your service?", "Cancellation"),
    ("c4", "Cancel my account, I am switching providers", "Cancellation"),
]

# 18 more, so that ROWS has 30 texts, 10 per label
EXTRA_ROWS = [
    ("b5", "You billed me for a service I never ordered", "Billing"),
    ("b6", "Can I get an itemised invoice for March?", "Billing"),
    ("b7", "The late payment fee on my bill is wrong", "Billing"),
    ("b8", "Please refund the deposit you kept", "Billing"),
    ("b9", "My monthly price went up without notice", "Billing"),
    ("b10", "The payment page rejects my card", "Billing"),
    ("t5", "Wifi is extremely slow in the evenings", "Technical Issue"),
    ("t6", "Calls drop after ten seconds", "Technical Issue"),
    ("t7", "The TV box shows error 504", "Technical Issue"),
    ("t8", "I cannot send text messages since the update", "Technical Issue"),
    ("t9", "Fibre installation left me without any connection", "Technical Issue"),
    ("t10", "My modem keeps rebooting by itself", "Technical Issue"),
    ("c5", "I am moving abroad and need to close my account", "Cancellation"),
    ("c6", "What is the notice period to quit my contract?", "Cancellation"),
    ("c7", "Stop my plan, I found a cheaper offer", "Cancellation"),
    ("c8", "I would like to terminate the broadband contract", "Cancellation"),
    ("c9", "Please do not renew my subscription", "Cancellation"),
    ("c10", "End my mobile contract today", "Cancellation"),
]
ROWS = TELECOM_ROWS + EXTRA_ROWS
GOLD = {i: lab for i, _t, lab in ROWS}
TEXT = {i: t for i, t, _lab in ROWS}

#: (text, label) pairs to train on, and six texts none of them contains
TRAIN = [(t, lab) for _, t, lab in TELECOM_ROWS]
HELD_OUT = [
    ("I was billed the wrong amount on my invoice this month", "Billing"),
    ("Please refund the extra payment you took", "Billing"),
    ("The wifi router does not connect to the internet", "Technical Issue"),
    ("My phone has no signal at all", "Technical Issue"),
    ("I would like to terminate my contract now", "Cancellation"),
    ("I am leaving, close my account please", "Cancellation"),
]


def write_csv(path: Path, rows: list[tuple], header: tuple = ("id", "text", "label")) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def write_project_config(folder: Path, *, name: str = "labelf", project: str = "demo", encoder: str = "static",
                         rows: list[tuple] | None = None, labels: list[dict] | None = None, task: str = "single-label",
                         workspace: str = "ws", data_name: str | None = None, **extra: Any) -> Path:
    """``folder/<name>.yaml`` (and its data CSV) for a project on ``rows``; returns the config path."""
    data = write_csv(folder / (data_name or f"{name}.csv"), TELECOM_ROWS if rows is None else rows)
    cfg = {"project": project, "task": task, "encoder": encoder, "workspace": workspace,
           "labels": labels or TELECOM_LABELS,
           "data": [{"path": data.name, "id_column": "id", "label_column": "label"}], **extra}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


def open_project(config: Path) -> "Project":
    """Open (create) the project, import its data and deploy the zero-shot model: what `labelf init` does."""
    from labelf_trainer.loop.project import Project

    project = Project.open(config, create=True)
    project.import_sources()
    project.ensure_zero_shot()
    return project


def annotate_all(project: "Project") -> int:
    """Record every item's gold label (the data file's label column) as an annotation."""
    from labelf_trainer.types import Annotation

    items = project.ws.items.all()
    return project.ws.annotations.add([Annotation(it.id, it.gold, annotator="gold") for it in items if it.gold])

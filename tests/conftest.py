"""Shared fixtures: temporary projects on real SQLite files, offline models only."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]

TELECOM_LABELS = [
    {"name": "Billing", "description": "invoice, charges, payments, refunds or the price on the bill"},
    {"name": "Technical Issue", "description": "internet, signal, router or phone not working, outages"},
    {"name": "Cancellation", "description": "the customer wants to cancel or end the contract"},
]

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


def write_csv(path: Path, rows: list[tuple], header: tuple = ("id", "text", "label")) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a project config (and its data CSV) into tmp_path; returns the config path."""

    def _make(*, encoder: str = "static", rows: list[tuple] | None = None, labels: list[dict] | None = None,
              task: str = "single-label", name: str = "demo", **extra: object) -> Path:
        data = write_csv(tmp_path / f"{name}.csv", rows if rows is not None else TELECOM_ROWS)
        cfg = {
            "project": name,
            "task": task,
            "encoder": encoder,
            "workspace": f"ws-{name}",
            "labels": labels or TELECOM_LABELS,
            "data": [{"path": data.name, "id_column": "id", "label_column": "label"}],
            **extra,
        }
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
        return path

    return _make


@pytest.fixture
def tmp_project(make_config: Callable[..., Path]):
    """An initialised project (static encoder): pool imported, zero-shot model deployed."""
    from labelf_trainer.loop.project import Project

    project = Project.open(make_config(), create=True)
    project.import_sources()
    project.ensure_zero_shot()
    yield project
    project.close()


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 300,
            input: str | None = None) -> subprocess.CompletedProcess:
    """Run `labelf ARGS...` in a subprocess, as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "labelf_trainer.cli.main", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout, input=input)

"""The stop advice (loop/advice.py): the learning-curve gain, and the advice of a real project after each training
round, in `suggest`'s summary and `labelf suggest`'s output (SQLite workspace, the "static" encoder)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from helpers.data import EXTRA_ROWS, TELECOM_ROWS, open_project

from labelf_trainer.loop.advice import DEFAULT_BATCH, StopAdvice, expected_gain, status_advice, stop_advice
from labelf_trainer.loop.labels import import_labels
from labelf_trainer.loop.project import Project
from labelf_trainer.loop.suggest import suggest
from labelf_trainer.loop.trainer import train_and_register


def test_expected_gain_follows_a_log_linear_learning_curve() -> None:
    curve = [(50, 0.6), (100, 0.7), (200, 0.8)]  # +10 points per doubling
    assert expected_gain(curve, 200) == pytest.approx(0.1, abs=1e-4)
    assert expected_gain(curve, 100) == pytest.approx(0.1 * math.log2(1.5), abs=1e-4)
    assert expected_gain(curve[:1], 50) is None  # one version: no curve yet
    assert expected_gain([(50, 0.8), (100, 0.7)], 50) == 0.0  # a falling curve promises nothing
    assert expected_gain([(10, 0.5), (20, 0.99)], 1000) == pytest.approx(0.01)  # never past 100%
    assert expected_gain([(50, 0.6), (50, 0.6), (100, None)], 50) is None  # repeated or missing points ignored


@pytest.fixture
def rounds_project(make_config) -> tuple[Path, StopAdvice]:
    """(config) of a project of 30 texts: 12 labeled and trained (v1), then 6 more labeled and trained (v2); and
    the advice after v1."""
    cfg = make_config(rows=TELECOM_ROWS + EXTRA_ROWS)
    with open_project(cfg) as project:
        assert stop_advice(project) is None  # only the zero-shot model: nothing to advise yet
        import_labels(project, [{"id": i, "label": lab} for i, _t, lab in TELECOM_ROWS], where="round1.csv")
        first = train_and_register(project, progress=False, deploy=True)
        adv1 = stop_advice(project)
        import_labels(project, [{"id": i, "label": lab} for i, _t, lab in EXTRA_ROWS[:6]], where="round2.csv")
        train_and_register(project, progress=False, deploy=True, model_id=first.model_id)
    assert adv1 is not None
    return cfg, adv1


def test_advice_after_each_round_gives_accuracy_gain_weak_labels_and_a_recommendation(rounds_project) -> None:
    cfg, adv1 = rounds_project
    assert adv1.labels == 12 and adv1.kappa is None
    assert adv1.expected_gain is None and adv1.next_batch == DEFAULT_BATCH
    assert adv1.recommendation.startswith("keep labeling: the stop advice compares two trained rounds")
    with Project.open(cfg) as project:
        adv = stop_advice(project)
        v1 = stop_advice(project, version=1)
        status = status_advice(project)
        names = project.config.label_names
    assert adv is not None and adv.labels == 18
    assert adv.accuracy is not None and adv.accuracy_method
    assert adv.next_batch == 6 and adv.expected_gain is not None and 0.0 <= adv.expected_gain <= 1 - adv.accuracy
    assert adv.gain_basis == "learning curve of the last 2 versions"
    assert adv.kappa is not None and adv.stop == (adv.kappa >= 0.95)
    assert adv.recommendation.startswith("stop:" if adv.stop else "keep labeling")
    for w in adv.weakest_labels:
        assert w["label"] in names and w["f1"] < 0.9
        assert w["label"] in adv.recommendation
    lines = adv.lines()
    assert lines[0].startswith("estimated accuracy: ") and lines[-1] == f"recommendation: {adv.recommendation}"
    assert any(line.startswith("expected gain of the next 6 labels: +") for line in lines)
    assert v1 is not None and v1.to_dict() == adv1.to_dict()  # an earlier version's advice is its own
    fields, printed = status
    assert fields == {**adv.to_dict(), "advice": adv.recommendation} and printed == lines


def test_suggest_summary_carries_the_advice_for_the_batch_size(rounds_project, cli) -> None:
    cfg, _ = rounds_project
    with Project.open(cfg) as project:
        pr = suggest(project, n=4, progress=False).progress
    assert pr["next_batch"] == 4 and pr["labels"] == 18
    assert pr["recommendation"] == pr["advice"] and pr["recommendation"]
    assert set(pr) >= {"accuracy", "accuracy_interval", "expected_gain", "weakest_labels", "kappa", "stop"}
    out = cli("suggest", "-n", "3", "--config", str(cfg))
    assert out.returncode == 0, out.stderr
    assert "recommendation: " in out.stderr and "expected gain of the next 3 labels" in out.stderr

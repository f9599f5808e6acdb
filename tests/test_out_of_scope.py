"""Out of scope end to end on real projects (SQLite workspace, static encoder): the config's "Other" label in the
zero-shot and trained models, label and test files with its aliases, `labelf evaluate`, and the v2 API over a real
HTTP server (label list, ranked answers, max_predictions, label_filter, bands), for single- and multi-label. On the
packaged MiniLM: the static test encoder puts too little meaning in a sentence to tell a recipe from a bill."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from helpers.cli import error_line
from helpers.data import ROWS, annotate_all, open_project, write_csv
from helpers.service import uvicorn_server

from labelf_trainer.loop.trainer import train_and_register
from labelf_trainer.service.app import create_app
from labelf_trainer.service.settings import ServiceSettings

OOS = {"label": "Other", "description": "the text is not about the telecom service at all"}
#: out-of-scope texts: far from every telecom label
OTHER_ROWS = [
    ("o1", "Photosynthesis turns sunlight into chemical energy in green plants", "Other"),
    ("o2", "The recipe needs two eggs, flour and a pinch of salt", "Other"),
    ("o3", "Who won the football world cup in 1998?", "Other"),
    ("o4", "The cathedral was built in the thirteenth century", "Other"),
]
PROBES = ["Volcanoes erupt when magma rises through the crust",
          "Bake the cake for forty minutes at 180 degrees"]


@pytest.fixture
def oos_project(make_config: Callable[..., Path]) -> Path:
    """An initialised single-label project with an out-of-scope label, every text annotated, trained and deployed."""
    cfg = make_config(rows=ROWS + OTHER_ROWS, out_of_scope=OOS, encoder="minilm")
    with open_project(cfg) as project:
        annotate_all(project)
        res = train_and_register(project, "embedding-head", deploy=True, progress=False)
        assert res.model_id == 2
    return cfg


def test_zero_shot_has_the_label_from_the_start(make_config: Callable[..., Path]) -> None:
    cfg = make_config(rows=ROWS + OTHER_ROWS, out_of_scope=OOS, encoder="minilm")
    with open_project(cfg) as project:
        rec = project.registry.get(project.active_model_id())
        assert rec.type == "zero-shot" and rec.labels == ["Billing", "Technical Issue", "Cancellation", "Other"]
        model = project.registry.load(rec.id)
        assert model.out_of_scope_ is not None and model.out_of_scope_.info_["n_labeled"] == 0
        proba = model.predict_proba([t for _, t, _ in OTHER_ROWS + ROWS[:4]])
        assert proba.shape == (8, 4)
        # the pool's most distant texts are "Other" before any label: at least one of the out-of-scope ones
        assert (proba[:4].argmax(axis=1) == 3).any() and not (proba[4:].argmax(axis=1) == 3).any()


def test_trained_model_answers_other_over_http_in_the_v2_shape(oos_project: Path) -> None:
    with open_project(oos_project) as project:
        version = project.registry.get(2).current
        assert version is not None
        stored = json.loads((version.path / "labelf_model.json").read_text())
        assert stored["calibration"]["kind"] in ("temperature", "identity") and "out_of_scope" in stored
        assert not list(version.path.rglob("*.pkl"))  # JSON and safetensors only
        app = create_app(project, settings=ServiceSettings(auth=False, reload_interval_s=0))
        with uvicorn_server(app) as base:
            model = httpx.get(f"{base}/v2/models/2").json()
            assert model["labels"][-1] == "Other" and len(model["labels"]) == 4
            assert {"accuracy", "f1_macro", "per_class", "accuracy_method", "accuracy_n"} <= set(model["metrics"])
            body = {"texts": PROBES + ["My invoice is much higher than last month"], "max_predictions": 2}
            r = httpx.post(f"{base}/v2/models/2/inference", json=body)
            assert r.status_code == 200, r.text
            preds = r.json()["predictions"]
            assert [p[0]["label"] for p in preds] == ["Other", "Other", "Billing"]
            for ranked in preds:
                assert len(ranked) == 2 and set(ranked[0]) >= {"label", "confidence"}
                assert ranked[0]["confidence"] >= ranked[1]["confidence"]
            r = httpx.post(f"{base}/v2/models/2/inference",
                           json={"texts": PROBES[:1], "label_filter": ["Billing", "Cancellation"]})
            assert {p["label"] for p in r.json()["predictions"][0]} <= {"Billing", "Cancellation"}
            r = httpx.post(f"{base}/v2/models/2/inference", json={"texts": PROBES[:1], "label_filter": ["Other"]})
            assert [p["label"] for p in r.json()["predictions"][0]] == ["Other"]


def test_label_files_and_test_files_map_aliases_to_the_label(oos_project: Path, cli: Callable[..., object],
                                                              tmp_path: Path) -> None:
    test = write_csv(tmp_path / "test.csv", [
        ("x1", PROBES[0], "oos"), ("x2", PROBES[1], "OOS"),
        ("x3", "I was charged twice on my bill", "Billing"), ("x4", "Terminate my plan please", "Cancellation"),
        ("x5", "The router keeps dropping the connection", "Technical Issue")])
    r = cli("evaluate", "2", "--data", str(test), "--format", "json", "--config", str(oos_project))
    assert r.returncode == 0, r.stderr
    oos = json.loads(r.stdout)["metrics"]["out_of_scope"]
    assert oos["label"] == "Other" and oos["n_out_of_scope"] == 2 and oos["recall"] == 1.0
    assert oos["in_scope_accuracy"] is not None and oos["auroc"] is not None
    bad = write_csv(tmp_path / "bad.csv", [("y1", "hello", "Weather")])
    r = cli("evaluate", "2", "--data", str(bad), "--config", str(oos_project))
    assert r.returncode != 0 and "Weather" in error_line(r, r.returncode)
    labels = write_csv(tmp_path / "labels.csv", [("b1", "", "none")], header=("id", "text", "label"))
    r = cli("label", str(labels), "--config", str(oos_project))
    assert r.returncode == 0, r.stderr
    with open_project(oos_project) as project:
        assert project.ws.annotations.labeled()["b1"] == ("Other",)


def test_evaluate_prints_trust_figures(oos_project: Path, cli: Callable[..., object]) -> None:
    r = cli("evaluate", "2", "--config", str(oos_project))
    assert r.returncode == 0, r.stderr
    assert "calibration:" in r.stderr and "out of scope 'Other'" in r.stderr
    assert "accuracy" in r.stderr and "held out" in r.stderr


def test_multi_label_other_means_no_label_applies(make_config: Callable[..., Path]) -> None:
    rows = [(i, t, lab) for i, t, lab in ROWS + OTHER_ROWS]
    cfg = make_config(rows=rows, out_of_scope=OOS, task="multi-label", encoder="minilm")
    with open_project(cfg) as project:
        annotate_all(project)
        res = train_and_register(project, "embedding-head", deploy=True, progress=False)
        model = project.registry.load(res.model_id)
        assert model.classes_[-1] == "Other"
        predicted = model.predict(PROBES + ["No signal on my phone since yesterday"])
        assert predicted[0] == ("Other",) and predicted[1] == ("Other",)
        assert "Other" not in predicted[2] and "Technical Issue" in predicted[2]


def test_annotators_choose_other_in_label_studio(label_studio, ls_config) -> None:
    from helpers.label_studio import annotate, annotator_ids, sdk_client

    from labelf_trainer.connectors import pull, push_batch
    from labelf_trainer.connectors.label_studio.schema import ID_FIELD, parse_labeling_config
    from labelf_trainer.loop.suggest import suggest

    with open_project(ls_config(rows=ROWS[:6] + OTHER_ROWS, out_of_scope=OOS)) as project:
        batch = suggest(project, n=10, progress=False)
        pushed = push_batch(project, batch.batch_id, progress=False)
        client = sdk_client(label_studio)
        schema = parse_labeling_config(client.projects.get(id=pushed.project_id).label_config)
        assert schema.labels[-1] == "Other" and "Billing" in schema.labels
        tasks = {t.data[ID_FIELD]: t.id for t in client.tasks.list(project=pushed.project_id)}
        ann = annotator_ids(label_studio)[0]
        annotate(client, tasks["o1"], "Other", ann)
        annotate(client, tasks["b1"], "Billing", ann)
        res = pull(project, progress=False)
        assert res.new == 2
        assert project.ws.annotations.labeled() == {"o1": ("Other",), "b1": ("Billing",)}

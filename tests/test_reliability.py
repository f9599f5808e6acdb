"""The defects of the service audit (issue 18), each against the real part: a workspace write lock held by another
process, logs of a real uvicorn server, routing quotas and the queue, request-cost limits, the one error body,
concurrent `labelf train --deploy` in two processes, and the third-party log level."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from helpers.data import ROWS, TELECOM_LABELS, TELECOM_ROWS, annotate_all, open_project, write_csv
from helpers.service import add_doc_models, uvicorn_server

from labelf_trainer.loop.project import Project
from labelf_trainer.service.app import create_app
from labelf_trainer.service.keys import ApiKeyStore
from labelf_trainer.service.settings import ServiceSettings

REPO = Path(__file__).resolve().parents[1]


def _project(root: Path) -> Project:
    import yaml

    write_csv(root / "d.csv", TELECOM_ROWS)
    (root / "c.yaml").write_text(yaml.safe_dump({
        "project": "rel", "encoder": "static", "workspace": "ws", "labels": TELECOM_LABELS,
        "data": [{"path": "d.csv", "id_column": "id", "label_column": "label"}]}), encoding="utf-8")
    project = Project.open(root / "c.yaml", create=True)
    project.import_sources()
    project.ensure_zero_shot()
    add_doc_models(project)
    project.registry.set_routing(87, True)
    project.registry.set_threshold(87, 0.99)  # every static-encoder guess is below this: every text is routed
    return project


def _assert_error_body(r: httpx.Response, status: int, field: str | None = None) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"detail", "errors", "request_id"} and isinstance(body["detail"], str)
    assert isinstance(body["errors"], list) and body["request_id"] == r.headers["x-request-id"]
    if field is not None:
        assert any(field in e["loc"] for e in body["errors"]) or field in body["detail"], body
    return body


# -- 1. scopes ---------------------------------------------------------------------------------------------------
def test_an_inference_key_can_neither_label_nor_retrain(tmp_path: Path) -> None:
    project = _project(tmp_path)
    _, key = ApiKeyStore(project.ws).create("svc")  # the default scope: inference
    before = project.ws.annotations.count(), len(project.registry.list())
    event = {"action": "ANNOTATION_CREATED", "project": {"id": 1},
             "task": {"id": 7, "data": {"text": "My invoice is wrong"}},
             "annotation": {"id": 9, "result": [{"from_name": "label", "to_name": "text", "type": "choices",
                                                 "value": {"choices": ["Billing"]}}]}}
    with TestClient(create_app(project, settings=ServiceSettings(reload_interval_s=0))) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        for body in (event, {"action": "START_TRAINING"}):
            _assert_error_body(client.post("/ml-backend/webhook", json=body), 403)
        assert client.post("/v2/models/87/inference", json={"texts": ["hello"]}).status_code == 200
    assert (project.ws.annotations.count(), len(project.registry.list())) == before
    project.close()


# -- 2. a write lock held by another process ---------------------------------------------------------------------
HOLD = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=30)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
db.rollback()
"""


def test_requests_never_wait_on_another_process_write_lock_and_routed_texts_arrive_after(tmp_path: Path) -> None:
    project = _project(tmp_path)
    _, key = ApiKeyStore(project.ws).create("svc")
    db = project.ws.root / "labelf.sqlite"
    assert db.is_file(), list(project.ws.root.iterdir())
    app = create_app(project, settings=ServiceSettings(reload_interval_s=0))
    texts = [f"unrelated text number {i} about gardening" for i in range(6)]
    with uvicorn_server(app) as base, httpx.Client(base_url=base, timeout=60,
                                                    headers={"Authorization": f"Bearer {key}"}) as http:
        assert http.post("/v2/models/87/inference", json={"texts": ["warm up"]}).status_code == 200
        holder = subprocess.Popen([sys.executable, "-c", HOLD, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True)
        try:
            assert holder.stdout.readline().strip() == "locked"
            answers = [http.get("/ready"), http.get("/v2/models"),
                       http.post("/v2/models/87/inference", json={"texts": texts[:3]}),
                       http.post("/v2/models/87/inference", json={"texts": texts[3:]})]
            assert [r.status_code for r in answers] == [200, 200, 200, 200]
            assert holder.poll() is None  # every answer came while the other process still held the lock
            routed = {it.text for it in project.ws.items.all(origin="traffic")}
            assert not routed & set(texts)  # nothing could be written yet ...
            assert "labelf_routing_pending 6" in http.get("/metrics").text  # ... and nothing was dropped
        finally:
            holder.stdin.write("\n")
            holder.stdin.flush()
            holder.wait(timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and {it.text for it in project.ws.items.all(origin="traffic")} < set(texts):
            time.sleep(0.2)
        assert {it.text for it in project.ws.items.all(origin="traffic")} >= set(texts)
        assert "labelf_routing_pending 0" in http.get("/metrics").text
    project.close()


# -- 3. log forgery ----------------------------------------------------------------------------------------------
def test_a_newline_in_the_path_never_reaches_the_log(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    from labelf_trainer.service.logs import configure_logging

    project = _project(tmp_path)
    configure_logging("info", fmt="json")
    try:
        with uvicorn_server(create_app(project, settings=ServiceSettings(auth=False))) as base:
            forged = "/health%0A2030-01-01 00:00:00,000 ERROR labelf.service FORGED-LINE"
            httpx.get(base + forged)
            httpx.get(base + "/health%0D%0AFORGED-TOO")
        out = capfd.readouterr()
    finally:
        logging.getLogger().handlers.clear()
    lines = [ln for ln in (out.out + out.err).splitlines() if ln.strip()]
    assert lines and not any(ln.startswith("2030-01-01") or ln.startswith("FORGED") for ln in lines)
    records = [json.loads(ln) for ln in lines if ln.startswith("{")]
    paths = [r.get("path", "") for r in records if r.get("path", "").startswith("/health")]
    assert len(paths) == 2 and all("\n" not in p and "\r" not in p for p in paths)
    assert all(r.get("request_id") for r in records if "path" in r)
    project.close()


# -- 5. one error body, as the schema says -----------------------------------------------------------------------
def test_every_error_has_the_documented_body(tmp_path: Path) -> None:
    project = _project(tmp_path)
    _, key = ApiKeyStore(project.ws).create("svc")
    _, labeling = ApiKeyStore(project.ws).create("ls", "labeling")
    with TestClient(create_app(project, settings=ServiceSettings(reload_interval_s=0))) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        _assert_error_body(client.get("/v2/models/-1"), 422, "model_id")
        _assert_error_body(client.get("/v2/models/abc"), 422, "model_id")
        _assert_error_body(client.post("/v2/models/2/inference", json={"texts": ["x"]}), 404)
        _assert_error_body(client.post("/v2/multi-model/inference", json={"texts": ["x"], "model_ids": [2 ** 53]}),
                           422, "model_ids")
        bad = client.post("/v2/models/87/inference", content=b'{"texts": ["\xff\xfe"]}',
                          headers={"content-type": "application/json"})
        assert "not UTF-8" in _assert_error_body(bad, 422, "body")["detail"]
        schema = client.get("/openapi.json").json()
        assert "422" in schema["paths"]["/v2/models/{model_id}/inference"]["post"]["responses"]
        # a blank text is refused (422 naming it), so the schema says so: schemathesis never sends one as valid
        pattern = re.compile(schema["components"]["schemas"]["MultiModelRequest"]["properties"]["texts"]["items"][
            "pattern"])
        for blank in ("\n", "\x1e", "\u3000 \t"):  # U+001E: blank in Python, not in an ECMA regex's \s
            assert not pattern.search(blank)
            body = {"texts": ["ok", blank], "model_ids": [87]}
            _assert_error_body(client.post("/v2/multi-model/inference", json=body), 422, "texts")
        assert pattern.search("\ufeffok") and pattern.search("\ufeff")  # not blank for Python either: accepted
        r = client.options("/v2/models/inference")
        assert r.status_code == 405 and r.headers["allow"] == "POST"
        _assert_error_body(client.post("/ml-backend/predict", json={"tasks": "nope"},
                                       headers={"Authorization": f"Bearer {labeling}"}), 422, "tasks")
        _assert_error_body(client.get("/v2/models", headers={"Authorization": "Bearer nope"}), 401)
    project.close()


# -- 10. costs a key holder can cause ----------------------------------------------------------------------------
def test_routing_quota_per_key_and_dedupe_are_counted_not_stored(tmp_path: Path) -> None:
    project = _project(tmp_path)
    _, key = ApiKeyStore(project.ws).create("svc")
    settings = ServiceSettings(reload_interval_s=0, routing_quota_per_hour=3)
    with TestClient(create_app(project, settings=settings)) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        texts = [f"a question about knitting patterns {i}" for i in range(5)]
        assert client.post("/v2/models/87/inference", json={"texts": texts + texts[:1]}).status_code == 200
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(project.ws.items.all(origin="traffic")) < 3:
            time.sleep(0.1)
        time.sleep(0.5)
        assert len(project.ws.items.all(origin="traffic")) == 3  # the key's hourly quota
        metrics = client.get("/metrics").text
    assert 'labelf_routing_texts_total{outcome="over_quota"} 2' in metrics, metrics
    project.close()


def test_a_routing_write_that_fails_for_good_is_counted_and_the_writer_goes_on(tmp_path: Path) -> None:
    project = _project(tmp_path)
    _, key = ApiKeyStore(project.ws).create("svc")
    with project.ws.transaction() as c:  # a write error that is not a lock: retrying would never end
        c.execute("CREATE TRIGGER no_traffic BEFORE INSERT ON items WHEN NEW.origin = 'traffic' "
                  "BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END")
    with TestClient(create_app(project, settings=ServiceSettings(reload_interval_s=0))) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        assert client.post("/v2/models/87/inference", json={"texts": ["first text about gardening"]}).status_code == 200
        deadline = time.monotonic() + 20
        while 'outcome="failed"} 1' not in (metrics := client.get("/metrics").text):
            assert time.monotonic() < deadline, metrics
            time.sleep(0.1)
        assert "labelf_routing_pending 0" in metrics
        with project.ws.transaction() as c:
            c.execute("DROP TRIGGER no_traffic")
        assert client.post("/v2/models/87/inference", json={"texts": ["second text about birds"]}).status_code == 200
        while "second text about birds" not in {it.text for it in project.ws.items.all(origin="traffic")}:
            assert time.monotonic() < deadline + 20, "the routing writer stopped after a failed write"
            time.sleep(0.1)
    project.close()


def test_classify_caps_inline_labels_and_examples(tmp_path: Path) -> None:
    project = _project(tmp_path)
    _, key = ApiKeyStore(project.ws).create("svc")
    settings = ServiceSettings(classify_max_labels=5, classify_max_examples=4)
    with TestClient(create_app(project, settings=settings)) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        many = {"text": "x", "labels": [f"label {i}" for i in range(6)]}
        _assert_error_body(client.post("/v1/classify", json=many), 413, "labels")
        examples = {"text": "x", "labels": ["a", "b"], "examples": {"a": ["1", "2", "3"], "b": ["4", "5"]}}
        _assert_error_body(client.post("/v1/classify", json=examples), 413, "examples")
        assert client.post("/v1/classify", json={"text": "x", "labels": ["a", "b"]}).status_code == 200
    project.close()


# -- 4. two trainings at once ------------------------------------------------------------------------------------
def test_two_concurrent_train_deploy_commands_both_register(make_config) -> None:
    cfg = make_config(rows=ROWS)
    with open_project(cfg) as project:
        annotate_all(project)
    cmd = [sys.executable, "-m", "labelf_trainer.cli.main", "train", "--deploy", "--quiet", "--config", str(cfg)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    with Project.open(cfg) as project:
        rec = next(r for r in project.registry.list() if r.type == "embedding-head")
        assert [v.version for v in rec.versions] == [1, 2]
        for v in rec.versions:
            assert project.registry.load(rec.id, v.version).predict(["my bill is wrong"])
        models_dir = project.ws.root / "models"
        leftovers = [p.name for p in models_dir.rglob("*") if p.name.startswith(".tmp") or "orphan" in p.name]
        assert leftovers == []


# -- 9. third-party chatter --------------------------------------------------------------------------------------
def test_language_detection_does_not_flood_the_log(caplog: pytest.LogCaptureFixture) -> None:
    from labelf_trainer.embeddings.langid import detect_languages

    with caplog.at_level(logging.INFO):
        detect_languages(["Hello, I would like to cancel my contract please"] * 5 + ["Hej, jag vill säga upp"] * 5)
    assert not [r for r in caplog.records if r.levelno < logging.WARNING and not r.name.startswith("labelf")]


# -- the API contract, fuzzed ------------------------------------------------------------------------------------
def test_bounded_schemathesis_run_finds_no_server_error_or_contract_failure(tmp_path: Path) -> None:
    project = _project(tmp_path)
    _, key = ApiKeyStore(project.ws).create("fuzz", "admin")
    exe = Path(sys.executable).with_name("schemathesis")
    with uvicorn_server(create_app(project, settings=ServiceSettings(reload_interval_s=0))) as base:
        r = subprocess.run([str(exe), "--config-file", str(REPO / "tests" / "data" / "schemathesis.toml"), "run",
                            f"{base}/openapi.json", "-H", f"Authorization: Bearer {key}", "--checks", "all",
                            "--max-examples", "15", "--seed", "1", "--no-color"],
                           capture_output=True, text=True, timeout=600)
    project.close()
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "No issues found" in r.stdout or "passed" in r.stdout, r.stdout[-2000:]

"""The Label Studio ML backend, served by uvicorn on 127.0.0.1 and called by a real Label Studio server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from helpers.data import ROWS, open_project
from helpers.label_studio import annotate, annotator_ids, sdk_client

from labelf_trainer.cli.main import main as cli_main
from labelf_trainer.connectors.base import ConnectorError
from labelf_trainer.connectors.label_studio.connector import LabelStudioConnector
from labelf_trainer.connectors.label_studio.schema import labeling_config
from labelf_trainer.connectors.label_studio.convert import SOURCE
from labelf_trainer.service.app import create_app
from labelf_trainer.service.ml_backend import COUNTER_KEY
from labelf_trainer.service.settings import ServiceSettings
from labelf_trainer.loop.project import Project

pytestmark = pytest.mark.labelstudio


class ServerThread:
    """uvicorn serving an app on a free port of 127.0.0.1 in a thread."""

    def __init__(self, app: Any) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:  # noqa: PYI034
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "uvicorn did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def wait_for(check: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.fixture
def backend(ls_config) -> Iterator[tuple[Project, ServerThread]]:
    project = open_project(ls_config(rows=ROWS, label_studio_extra={"retrain_every": 4}))
    with ServerThread(create_app(project, settings=ServiceSettings(auth=False, reload_interval_s=0.2))) as server:
        yield project, server
    project.close()


def test_endpoints_answer_in_label_studio_shapes(backend) -> None:
    project, server = backend
    base = f"{server.url}/ml-backend"
    health = httpx.get(f"{base}/health").json()
    model_id = project.registry.active_model_id()
    assert health["status"] == "UP" and health["model_version"] == f"labelf-{model_id}@1"
    xml = labeling_config(project.config)
    assert httpx.post(f"{base}/setup", json={"project": "1.1", "schema": xml}).json() == \
        {"model_version": f"labelf-{model_id}@1"}
    texts = [t for _i, t, _lab in ROWS[:5]]
    r = httpx.post(f"{base}/predict", json={"tasks": [{"id": i, "data": {"text": t}} for i, t in enumerate(texts)],
                                            "label_config": xml})
    assert r.status_code == 200
    results = r.json()["results"]
    expected = project.registry.load(model_id).predict(texts)
    assert [res["result"][0]["value"]["choices"] for res in results] == [[lab] for lab in expected]  # in order
    assert all(res["result"][0]["from_name"] == "label" and res["result"][0]["to_name"] == "text" for res in results)
    assert all(0 < res["score"] <= 1 and res["model_version"] == f"labelf-{model_id}@1" for res in results)
    # bad input: 4xx JSON naming the field, never a traceback
    bad = httpx.post(f"{base}/predict", json={"tasks": "nope"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == "tasks"
    assert bad.json()["detail"].startswith("tasks")
    bad = httpx.post(f"{base}/predict", json={"tasks": [{"id": 1, "data": {}}]})
    assert bad.status_code == 422 and "no text" in bad.json()["detail"]
    bad = httpx.post(f"{base}/setup", json={"schema": xml.replace('"Billing"', '"Invoices"')})
    assert bad.status_code == 422 and "'Invoices'" in bad.json()["detail"]
    bad = httpx.post(f"{base}/webhook", json={"annotation": {}})
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == "action"
    assert bad.json()["detail"].startswith("action")
    assert httpx.post(f"{base}/webhook", json={"action": "PROJECT_UPDATED"}).json()["status"] == "ignored"


def test_label_studio_calls_backend_and_webhook_retrains(backend, label_studio) -> None:
    """Connect through Label Studio's API: its predictions appear on new tasks; annotations arrive by webhook at
    once; every 4 annotations the model retrains and the new model_version makes Label Studio predict again."""
    project, server = backend
    client = sdk_client(label_studio)
    conn = LabelStudioConnector(project)
    pid = conn.ensure_project()
    first_version = f"labelf-{project.registry.active_model_id()}@1"
    # tasks as a user imports them into Label Studio: no labelf id, no predictions
    rows = ROWS[:3] + ROWS[12:15] + ROWS[24:27]
    client.projects.import_tasks(id=pid, request=[{"text": t} for _i, t, _lab in rows])
    ml_id = conn.connect_ml_backend(f"{server.url}/ml-backend")
    assert conn.connect_ml_backend(f"{server.url}/ml-backend") == ml_id  # idempotent
    ml = client.ml.get(id=ml_id)
    assert ml.state == "CO" and ml.model_version == first_version  # Label Studio called /health and /setup

    conn.request_predictions()
    tasks = wait_for(lambda: [t for t in client.tasks.list(project=pid, fields="all") if t.predictions] or None,
                     what="predictions")
    tasks = list(client.tasks.list(project=pid, fields="all"))
    model = project.registry.load(project.registry.active_model_id())
    assert len(tasks) == 9 and all(len(t.predictions) == 1 for t in tasks)
    for t in tasks:
        pred = t.predictions[0]
        assert pred.model_version == first_version
        assert pred.result[0]["value"]["choices"] == [model.predict([t.data["text"]])[0]]

    # annotations reach the store through the webhook, without a pull
    by_text = {t.data["text"]: t.id for t in tasks}
    user = annotator_ids(label_studio)[0]
    labeled_rows = [rows[0], rows[3], rows[6], rows[1]]  # three labels, 4 annotations = retrain_every
    for n, (_i, text, label) in enumerate(labeled_rows[:3], 1):
        annotate(client, by_text[text], label, user)
        wait_for(lambda n=n: project.ws.query("SELECT COUNT(*) AS n FROM annotations WHERE source = ?",
                                              (SOURCE,))[0]["n"] == n, timeout=20, what=f"webhook {n}")
    assert project.ws.kv.get(COUNTER_KEY) == 3
    assert {project.ws.items.get([i])[0].text: labs for i, labs in project.ws.annotations.labeled().items()} == \
        {text: (label,) for _i, text, label in labeled_rows[:3]}
    annotate(client, by_text[labeled_rows[3][1]], labeled_rows[3][2], user)

    new_version = wait_for(lambda: (v := httpx.get(f"{server.url}/ml-backend/health").json()["model_version"])
                           != first_version and v, timeout=120, what="retraining")
    active = project.registry.get(project.registry.active_model_id())
    assert active.type == "embedding-head" and new_version == f"labelf-{active.id}@{active.current.version}"
    assert project.ws.kv.get(COUNTER_KEY) == 0

    # the bumped model_version: Label Studio asks again, for old and new tasks
    client.projects.import_tasks(id=pid, request=[{"text": "My bill shows a roaming charge I did not make"}])
    conn.request_predictions()

    def versions() -> set[str] | None:
        got = [{p.model_version for p in t.predictions} for t in client.tasks.list(project=pid, fields="all")]
        return set.intersection(*got) if len(got) == 10 and all(new_version in g for g in got) else None

    assert new_version in wait_for(versions, timeout=60, what="predictions of the retrained model")
    assert client.ml.get(id=ml_id).model_version == new_version

    # an edit and a deletion in Label Studio reach the store through the webhook too
    def stored() -> dict[str, tuple[str, str]]:
        return {r["external_id"]: (r["labels"], r["status"]) for r in project.ws.query(
            "SELECT external_id, labels, status FROM annotations WHERE source = ?", (SOURCE,))}

    edited = client.tasks.get(id=str(by_text[labeled_rows[0][1]])).annotations[0]
    removed = client.tasks.get(id=str(by_text[labeled_rows[1][1]])).annotations[0]
    client.annotations.update(id=edited["id"], result=[{"from_name": "label", "to_name": "text", "type": "choices",
                                                        "value": {"choices": ["Cancellation"]}}])
    client.annotations.delete(id=removed["id"])
    wait_for(lambda: any(v == ('["Cancellation"]', "active") for k, v in stored().items()
                         if k.endswith(f":{edited['id']}")), timeout=20, what="ANNOTATION_UPDATED")
    wait_for(lambda: any(v[1] == "deleted" for k, v in stored().items() if k.endswith(f":{removed['id']}")),
             timeout=20, what="ANNOTATIONS_DELETED")
    labeled = project.ws.annotations.labeled()
    texts = {project.ws.items.get([i])[0].text: labs for i, labs in labeled.items()}
    assert texts[labeled_rows[0][1]] == ("Cancellation",) and labeled_rows[1][1] not in texts

    # Settings > Model > Start Training: Label Studio sends START_TRAINING to /webhook
    annotate(client, by_text[rows[2][1]], rows[2][2], user)
    annotate(client, by_text[rows[4][1]], rows[4][2], user)
    wait_for(lambda: project.ws.kv.get(COUNTER_KEY) == 3, timeout=20, what="webhooks")  # edit + 2 new < 4
    assert httpx.get(f"{server.url}/ml-backend/health").json()["model_version"] == new_version
    client.ml.train(id=ml_id)
    wait_for(lambda: httpx.get(f"{server.url}/ml-backend/health").json()["model_version"] not in
             (first_version, new_version), timeout=600, what="START_TRAINING")  # a training: minutes on a loaded machine


def test_served_by_labelf_serve_with_api_key(ls_config, label_studio, monkeypatch) -> None:
    """The inference service mounts the router under /ml-backend behind its API keys: Label Studio connects with
    the key (HTTP Basic for the ML backend, Bearer for the webhook); without it the backend is refused."""
    from labelf_trainer.service.app import create_app as create_service
    from labelf_trainer.service.keys import ApiKeyStore
    from labelf_trainer.service.settings import ServiceSettings

    config = ls_config(rows=ROWS)
    project = open_project(config)
    _key_id, key = ApiKeyStore(project.ws).create("label-studio", "labeling")
    client = sdk_client(label_studio)
    with ServerThread(create_service(project, settings=ServiceSettings(auth=True))) as server:
        base = f"{server.url}/ml-backend"
        assert httpx.get(f"{base}/health").status_code == 401
        conn = LabelStudioConnector(project)
        pid = conn.ensure_project()
        client.projects.import_tasks(id=pid, request=[{"text": t} for _i, t, _lab in ROWS[:2]])
        monkeypatch.setenv("LABELF_API_KEY", key)  # what `labelf labelstudio connect-ml URL` reads
        assert cli_main(["labelstudio", "connect-ml", base, "--config", str(config)]) == 0
        ml_id = next(iter(client.ml.list(project=pid))).id
        assert client.ml.get(id=ml_id).state == "CO"
        conn.request_predictions()
        version = f"labelf-{project.registry.active_model_id()}@1"
        wait_for(lambda: all(any(p.model_version == version for p in t.predictions)
                             for t in client.tasks.list(project=pid, fields="all")), timeout=30, what="predictions")
        task = next(iter(client.tasks.list(project=pid)))
        annotate(client, task.id, ROWS[0][2], annotator_ids(label_studio)[0])
        wait_for(lambda: project.ws.query("SELECT COUNT(*) AS n FROM annotations WHERE source = ?",
                                          (SOURCE,))[0]["n"] == 1, timeout=20, what="the webhook")
        with pytest.raises(ConnectorError, match="HTTP 400.*authentication parameters"):
            conn.connect_ml_backend(base)  # without the key, Label Studio itself reports that it was refused
    project.close()

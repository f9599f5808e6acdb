"""The Label Studio connector against a real Label Studio server (one per test process, see helpers/label_studio.py)."""

from __future__ import annotations

import json
import socket
import sqlite3
from pathlib import Path

import httpx
import pytest
from helpers.cli import error_line
from helpers.data import GOLD, ROWS, TEXT, open_project, write_csv
from helpers.label_studio import TOKEN_ENV, annotate, annotator_ids, sdk_client

from labelf_trainer.connectors.base import ConnectorAuthError, ConnectorUnreachableError, LabelMismatchError
from labelf_trainer.connectors import pull, push_batch
from labelf_trainer.connectors.label_studio.connector import LabelStudioConnector
from labelf_trainer.connectors.label_studio.schema import ID_FIELD, labeling_config, parse_labeling_config
from labelf_trainer.connectors.ingest import resolve
from labelf_trainer.exceptions import DataError, UnknownLabelError
from labelf_trainer.loop.project import Project
from labelf_trainer.loop.suggest import suggest

pytestmark = pytest.mark.labelstudio


def ls_tasks(client, project_id: int) -> list:
    return list(client.tasks.list(project=project_id, fields="all"))


def db_rows(project: Project) -> list[tuple]:
    return [tuple(r) for r in project.ws.query(
        "SELECT item_id, labels, annotator, source, external_id, status, updated_at FROM annotations ORDER BY id")]


# -- pure parts -----------------------------------------------------------------------------------------------
def test_resolve_policies() -> None:
    a, b, c = ("k1", ("Billing",), "2026-01-01T00:00:01Z"), ("k2", ("Cancellation",), "2026-01-01T00:00:02Z"), \
        ("k3", ("Billing",), "2026-01-01T00:00:03Z")
    assert resolve([a, b], "latest") == {"k1": "superseded", "k2": "active"}
    assert resolve([a, b], "majority") == {"k1": "conflict", "k2": "conflict"}  # a tie is a conflict
    assert resolve([a, b, c], "majority") == {"k1": "superseded", "k2": "superseded", "k3": "active"}
    assert resolve([a, b, c], "conflict") == {"k1": "conflict", "k2": "conflict", "k3": "conflict"}
    assert resolve([a, c], "conflict") == {"k1": "superseded", "k3": "active"}  # agreement is no conflict
    assert resolve([], "majority") == {}


def test_labeling_config_round_trip(make_config) -> None:
    from labelf_trainer.config import load_config

    cfg = load_config(make_config(task="multi-label", labels=[
        {"name": "A & B", "description": 'quotes " and <tags>'}, {"name": "C"}]))
    schema = parse_labeling_config(labeling_config(cfg))
    assert schema.labels == ("A & B", "C") and schema.multiple and schema.from_name == "label"
    assert schema.labels_of(schema.result(["C", "A & B"])) == ("A & B", "C")


# -- against the server ---------------------------------------------------------------------------------------
def test_round_trip_push_annotate_pull(label_studio, ls_config) -> None:
    """Suggest 20 -> push with pre-annotations -> annotators label (two disagree) -> pull: exactly the right pairs."""
    project = open_project(ls_config(rows=ROWS))
    batch = suggest(project, n=20, strategy="combined", progress=False)
    result = push_batch(project, batch.batch_id, chunk_size=7, progress=False)
    assert (result.created, result.already_there, result.total) == (20, 0, 20)

    client = sdk_client(label_studio)
    tasks = ls_tasks(client, result.project_id)
    assert len(tasks) == 20 and {t.data[ID_FIELD] for t in tasks} == {s.item_id for s in batch.items}
    first = next(t for t in tasks if t.data[ID_FIELD] == batch.items[0].item_id)
    assert first.data["text"] == batch.items[0].text
    pred = first.predictions[0]
    assert pred.model_version == f"labelf-{batch.model_id}@{batch.model_version}"
    assert pred.result[0]["value"]["choices"][0] in GOLD.values() and 0 < pred.score <= 1
    assert first.meta["labelf"]["batch_id"] == batch.batch_id and first.meta["labelf"]["rank"] == 1
    assert set(first.meta["labelf"]["scores"]) == set(GOLD.values())

    ann1, ann2, ann3 = annotator_ids(label_studio)
    by_item = {t.data[ID_FIELD]: t.id for t in tasks}
    ids = sorted(by_item)
    disputed, skipped = ids[0], ids[1]
    wrong = next(lab for lab in sorted(set(GOLD.values())) if lab != GOLD[disputed])
    for item_id in ids[2:]:
        annotate(client, by_item[item_id], GOLD[item_id], ann1)
    annotate(client, by_item[disputed], GOLD[disputed], ann1)
    late_wrong = annotate(client, by_item[disputed], wrong, ann2)
    annotate(client, by_item[skipped], None, ann2, cancelled=True)

    res = pull(project, progress=False)
    expected = {TEXT[i]: (GOLD[i],) for i in ids[2:]}
    assert (res.new, res.skipped, res.conflicts, res.deleted) == (20, 1, 1, 0)
    labeled = project.ws.annotations.labeled()
    assert {TEXT[i]: labs for i, labs in labeled.items()} == expected  # majority tie: the disputed text waits
    assert dict(res.pairs) == expected
    print("\npulled (text, label) pairs:\n" + "\n".join(f"  {labs[0]:<16} {text}" for text, labs in res.pairs))
    assert project.ws.query("SELECT COUNT(*) AS n FROM batch_items WHERE batch_id = ? AND status = 'labeled'",
                            (batch.batch_id,))[0]["n"] == 18

    # pulling (and pushing) again changes nothing
    before = db_rows(project)
    again = pull(project, progress=False)
    assert not again.changed and db_rows(project) == before
    assert push_batch(project, batch.batch_id, progress=False).created == 0
    assert len(ls_tasks(client, result.project_id)) == 20

    # policy latest (re-read in full): the later, wrong annotation wins
    latest = pull(project, full=True, policy="latest", progress=False)
    assert latest.updated == 2 and project.ws.annotations.labeled()[disputed] == (wrong,)
    # a third annotator breaks the tie for the majority
    annotate(client, by_item[disputed], GOLD[disputed], ann3)
    res = pull(project, policy="majority", progress=False)
    assert res.new == 1 and project.ws.annotations.labeled()[disputed] == (GOLD[disputed],)
    # an annotator changes their mind, another annotation is deleted
    changed_item = ids[2]
    other = next(lab for lab in sorted(set(GOLD.values())) if lab != GOLD[changed_item])
    ann_id = next(a["id"] for a in client.tasks.get(id=str(by_item[changed_item])).annotations)
    client.annotations.update(id=ann_id, result=[{"from_name": "label", "to_name": "text", "type": "choices",
                                                  "value": {"choices": [other]}}])
    client.annotations.delete(id=late_wrong)
    res = pull(project, progress=False)
    assert (res.new, res.updated, res.deleted) == (0, 1, 1)
    labeled = project.ws.annotations.labeled()
    assert labeled[changed_item] == (other,) and labeled[disputed] == (GOLD[disputed],)
    assert not pull(project, progress=False).changed
    project.close()


def test_unknown_labels_write_nothing(label_studio, ls_config) -> None:
    project = open_project(ls_config(rows=ROWS))
    conn = LabelStudioConnector(project, progress=False)
    pushed = conn.push_items(["b1", "t1", "c1"])
    client = sdk_client(label_studio)
    annotate(client, pushed.task_ids["b1"], "Billing", annotator_ids(label_studio)[0])
    annotate(client, pushed.task_ids["t1"], "Roaming", annotator_ids(label_studio)[0])  # not in the config
    before = db_rows(project)
    with pytest.raises(UnknownLabelError, match="'Roaming'") as info:
        conn.pull()
    assert f"task {pushed.task_ids['t1']}" in str(info.value)
    assert db_rows(project) == before and project.ws.annotations.labeled() == {}
    annotate(client, pushed.task_ids["t1"], "Technical Issue", annotator_ids(label_studio)[0])
    client.annotations.delete(id=next(a["id"] for a in client.tasks.get(id=str(pushed.task_ids["t1"])).annotations
                                      if a["result"][0]["value"]["choices"] == ["Roaming"]))
    annotate(client, pushed.task_ids["c1"], ["Billing", "Cancellation"], annotator_ids(label_studio)[0])
    with pytest.raises(DataError, match=f"annotations with several labels on task {pushed.task_ids['c1']}, "
                                        "but the project is single-label"):
        conn.pull()
    assert db_rows(project) == before and project.ws.annotations.labeled() == {}
    project.close()


def test_label_mismatch_is_reported(label_studio, ls_config) -> None:
    project = open_project(ls_config(rows=ROWS))
    conn = LabelStudioConnector(project, progress=False)
    pid = conn.ensure_project()
    client = sdk_client(label_studio)
    xml = labeling_config(project.config).replace('<Choice value="Cancellation"', '<Choice value="Churn"')
    client.projects.update(id=pid, label_config=xml)
    with pytest.raises(LabelMismatchError) as info:
        LabelStudioConnector(project, progress=False).push_items(["b1"])
    assert info.value.missing == ["Cancellation"] and info.value.extra == ["Churn"]
    lines = LabelStudioConnector(project, progress=False).check()
    assert [(x.name, x.ok) for x in lines] == [("connection", True), ("token", True), ("project", True),
                                               ("label config", False)]
    project.close()


class CutConnection(httpx.BaseTransport):
    """A real transport to the real server that loses the connection on the Nth import request:
    ``after_send`` the server got the chunk but the answer is lost; otherwise the chunk never arrives."""

    def __init__(self, fail_on: int, after_send: bool) -> None:
        self.inner = httpx.HTTPTransport()
        self.fail_on, self.after_send, self.imports = fail_on, after_send, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/import"):
            self.imports += 1
            if self.imports == self.fail_on:
                if self.after_send:
                    self.inner.handle_request(request).read()
                    raise httpx.ReadError("connection reset by peer", request=request)
                raise httpx.ConnectError("connection refused", request=request)
        return self.inner.handle_request(request)


@pytest.mark.parametrize("after_send", [False, True], ids=["lost-request", "lost-answer"])
def test_interrupted_push_then_repeat_has_no_duplicates(label_studio, ls_config, after_send) -> None:
    project = open_project(ls_config(rows=ROWS))
    ids = [i for i, _t, _lab in ROWS][:20]
    broken = LabelStudioConnector(project, progress=False, chunk_size=5, max_retries=0,
                                  httpx_client=httpx.Client(transport=CutConnection(2, after_send)))
    with pytest.raises(ConnectorUnreachableError, match="5 of 20 new task.*push again"):
        broken.push_items(ids)
    again = LabelStudioConnector(project, progress=False, chunk_size=5).push_items(ids)
    sent_before = 10 if after_send else 5
    assert (again.created, again.already_there) == (20 - sent_before, sent_before)
    tasks = ls_tasks(sdk_client(label_studio), again.project_id)
    assert sorted(t.data[ID_FIELD] for t in tasks) == sorted(ids)  # each item exactly once, none lost
    assert set(again.task_ids) == set(ids)
    project.close()


# -- CLI: one line per error, non-zero exit, store untouched ---------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dump(db: Path) -> str:
    with sqlite3.connect(db) as conn:  # reads the WAL too
        return "\n".join(conn.iterdump())


def test_cli_push_pull_check_and_errors(label_studio, ls_config, tmp_path, cli) -> None:
    config = ls_config(rows=ROWS)
    project = open_project(config)
    suggest(project, n=6, strategy="random", progress=False)
    project.close()
    r = cli("labelstudio", "check", "--config", str(config))
    assert r.returncode == 1
    assert "no project titled" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = cli("push", "--config", str(config), "--format", "json")
    assert r.returncode == 0, r.stderr
    pushed = json.loads(r.stdout)
    assert pushed["created"] == 6 and "6 new task(s)" in r.stderr
    r = cli("labelstudio", "check", "--config", str(config))
    assert r.returncode == 0 and "ok   label config: 3 labels match" in r.stdout
    batch_file = write_csv(tmp_path / "batch.csv", [("b1", TEXT["b1"]), ("new1", "Roaming charges in Spain")],
                           header=("id", "text"))
    r = cli("push", str(batch_file), "--config", str(config))
    assert r.returncode == 0 and "new task(s)" in r.stderr
    client = sdk_client(label_studio)
    in_ls = [t.data[ID_FIELD] for t in client.tasks.list(project=pushed["project_id"], include="id,data")]
    assert len(in_ls) == len(set(in_ls)) == 6 + ("b1" not in pushed["task_ids"]) + 1 and "new1" in in_ls
    # the sampler's `labelf suggest --push` goes through push_batch
    r = cli("suggest", "--n", "3", "--strategy", "random", "--push", "--config", str(config), "--format", "json")
    assert r.returncode == 0, r.stderr
    batch = json.loads(r.stdout)
    assert f"pushed batch {batch['batch_id']} to Label Studio project {pushed['project_id']}:" in r.stderr
    in_ls = [t.data[ID_FIELD] for t in client.tasks.list(project=pushed["project_id"], include="id,data")]
    assert len(in_ls) == len(set(in_ls)) and {it["id"] for it in batch["items"]} <= set(in_ls)

    task = next(t for t in client.tasks.list(project=pushed["project_id"], include="id,data")
                if t.data[ID_FIELD] == "new1")
    annotate(client, task.id, "Billing", annotator_ids(label_studio)[0])
    db = Path(config).parent / "ws-demo" / "labelf.sqlite"
    snapshot = dump(db)

    # the server unreachable, the token wrong, no token: one line that says which; exit 1; store untouched
    dead = f"http://127.0.0.1:{_free_port()}"
    for args, token, needle in [
        (("pull", "--url", dead), label_studio.token, "unreachable"),
        (("push", "--url", dead), label_studio.token, "unreachable"),
        (("pull",), "not-the-token", "refused the token"),
        (("push",), "not-the-token", "refused the token"),
        (("pull",), "", f"no Label Studio token: export {TOKEN_ENV}"),
        (("labelstudio", "check", "--url", dead), label_studio.token, "connection check failed"),
        (("labelstudio", "check"), "not-the-token", "token check failed"),
    ]:
        r = cli(*args, "--config", str(config), env={TOKEN_ENV: token})
        assert r.returncode == 1, (args, r)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], (args, r.stderr)
        assert "Traceback" not in r.stderr
        assert dump(db) == snapshot
    assert error_line(cli("pull", "--url", dead, "--config", str(config))).startswith("error: Label Studio at")

    r = cli("pull", "--config", str(config), "--format", "json")
    assert r.returncode == 0, r.stderr
    pulled = json.loads(r.stdout)
    assert pulled["new"] == 1 and pulled["pairs"] == [{"text": "Roaming charges in Spain", "labels": ["Billing"]}]
    r = cli("pull", "--config", str(config))
    assert r.returncode == 0 and "nothing new" in r.stderr


def test_wrong_token_and_unreachable_errors_name_the_cause(label_studio, ls_config) -> None:
    project = open_project(ls_config(rows=ROWS))
    with pytest.raises(ConnectorAuthError, match=f"refused the token from \\${TOKEN_ENV} \\(HTTP 401\\)"):
        LabelStudioConnector(project, progress=False, token="wrong").pull()
    with pytest.raises(ConnectorUnreachableError, match="unreachable"):
        LabelStudioConnector(project, progress=False, url=f"http://127.0.0.1:{_free_port()}").push_items(["b1"])
    project.close()


def test_server_failures_midway_are_one_line_errors(make_config, monkeypatch) -> None:
    """5xx and timeouts cannot be provoked on a healthy server: httpx's MockTransport answers for it."""
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "some-token")
    project = open_project(make_config())

    def failing(kind: str) -> httpx.Client:
        def handler(request: httpx.Request) -> httpx.Response:
            if kind == "timeout":
                raise httpx.ReadTimeout("timed out", request=request)
            return httpx.Response(502, json={"detail": "bad gateway"})
        return httpx.Client(transport=httpx.MockTransport(handler))

    with pytest.raises(ConnectorUnreachableError, match=r"failed while listing projects \(HTTP 502\)"):
        LabelStudioConnector(project, progress=False, httpx_client=failing("5xx"), max_retries=0).push_items(["b1"])
    with pytest.raises(ConnectorUnreachableError, match="did not answer in time while listing projects"):
        LabelStudioConnector(project, progress=False, httpx_client=failing("timeout"), max_retries=0).pull()
    assert project.ws.annotations.count() == 0
    project.close()


def test_multi_label_round_trip(label_studio, ls_config) -> None:
    project = open_project(ls_config(rows=ROWS, task="multi-label"))
    conn = LabelStudioConnector(project, progress=False)
    pushed = conn.push_items(["b1", "c1"])
    assert conn.schema is not None and conn.schema.multiple
    client = sdk_client(label_studio)
    task = client.tasks.get(id=str(pushed.task_ids["b1"]))
    assert task.predictions[0].result[0]["value"]["choices"]  # one or more labels above the model's threshold
    client.annotations.create(id=pushed.task_ids["b1"], result=conn.schema.result(["Billing", "Cancellation"]))
    client.annotations.create(id=pushed.task_ids["c1"], result=conn.schema.result([]))  # "none of these" is a label set
    res = conn.pull()
    assert res.new == 2 and project.ws.annotations.labeled() == {"b1": ("Billing", "Cancellation"), "c1": ()}
    project.close()


def test_sampler_overlap_sets_two_annotators_on_that_share_of_tasks(label_studio, ls_config) -> None:
    """sampler.overlap is Label Studio's overlap setting (2 annotations on that share of the tasks), on a new project
    and after the config changes; the agreement figures are measured on those tasks."""
    import yaml

    cfg = ls_config(rows=ROWS[:6], sampler={"overlap": 0.1})
    client = sdk_client(label_studio)

    def settings(share: float | None = None) -> tuple[int, int]:
        if share is not None:
            raw = yaml.safe_load(cfg.read_text(encoding="utf-8"))
            raw["sampler"]["overlap"] = share
            cfg.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
        with open_project(cfg) as project:
            pid = LabelStudioConnector(project, progress=False).ensure_project()
        p = client.projects.get(id=pid)
        return p.maximum_annotations, p.overlap_cohort_percentage

    assert settings() == (2, 10)  # created with it
    assert settings(0.5) == (2, 50)  # the config changed: the next push brings Label Studio along
    assert settings(0.0) == (1, 0)

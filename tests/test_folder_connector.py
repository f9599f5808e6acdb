"""The folder connector (labeling without a server) through the `labelf` command: push writes CSV files, annotators
fill in `label` (and `annotator`), pull records them. Real workspace, real files, the static encoder."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
from pathlib import Path

import pytest
from helpers.cli import error_line
from helpers.data import GOLD, ROWS

from labelf_trainer.loop.project import Project


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def write_rows(path: Path, rows: list[dict[str, str]], *, mtime: float | None = None) -> Path:
    """Save a labeling file as a spreadsheet would (same columns, in order); ``mtime`` sets when it was saved."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def fill(rows: list[dict[str, str]], annotator: str, labels: dict[str, str] | None = None) -> list[dict[str, str]]:
    """The rows with ``label`` filled in (``labels`` per id, else the gold label) by ``annotator``."""
    labels = labels or {}
    return [{**r, "label": labels.get(r["id"], GOLD[r["id"]]), "annotator": annotator} for r in rows]


def dump(db: Path) -> str:
    with sqlite3.connect(db) as conn:  # reads the WAL too
        return "\n".join(conn.iterdump())


def folder_annotations(project_dir: Path) -> list[tuple]:
    with Project.open(project_dir / "folder.yaml") as p:
        return [tuple(r) for r in p.ws.query(
            "SELECT item_id, labels, annotator, external_id, status FROM annotations WHERE source = 'folder' "
            "ORDER BY item_id, external_id")]


def labeled(project_dir: Path) -> dict[str, tuple[str, ...]]:
    with Project.open(project_dir / "folder.yaml") as p:
        return p.ws.annotations.labeled()


@pytest.fixture
def folder_project(cli, make_config, tmp_path: Path) -> Path:
    """An initialised project whose config says ``labeling: {connector: folder, folder: to-label}``."""
    cfg = make_config(rows=ROWS, name="folder", labeling={"connector": "folder", "folder": "to-label",
                                                          "conflict_policy": "majority"})
    r = cli("init", str(cfg), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return tmp_path


def test_suggest_push_then_pull_records_the_labels(cli, folder_project: Path) -> None:
    d = folder_project
    r = cli("suggest", "--n", "6", "--seed", "0", "--push", "--format", "json", cwd=d)
    assert r.returncode == 0, r.stderr
    assert "pushed batch 1 to labeling folder" in r.stderr and "6 new task(s)" in r.stderr
    folder = d / "to-label"  # the config's labeling.folder, relative to the config file
    batch_file = folder / "batch-1.csv"
    rows = read_rows(batch_file)
    assert list(rows[0]) == ["id", "text", "predicted", "confidence", "reason", "label", "annotator"]
    assert len(rows) == 6 and all(r["label"] == "" and r["annotator"] == "" for r in rows)
    assert all(r["predicted"] in GOLD.values() and 0 < float(r["confidence"]) <= 1 for r in rows)
    assert all(r["text"] == dict((i, t) for i, t, _ in ROWS)[r["id"]] for r in rows)
    labels_md = (folder / "LABELS.md").read_text(encoding="utf-8")
    assert all(f"**{name}**" in labels_md for name in ("Billing", "Technical Issue", "Cancellation"))
    assert labeled(d) == {}  # nothing labeled before the file is filled in

    # an annotator fills in four rows (two left blank) and saves the file
    done = fill(rows[:4], "anna") + rows[4:]
    write_rows(batch_file, done)
    r = cli("pull", "--format", "json", cwd=d)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert (res["new"], res["updated"], res["deleted"], res["conflicts"]) == (4, 0, 0, 0)
    expected = {row["id"]: (GOLD[row["id"]],) for row in done[:4]}
    assert labeled(d) == expected
    assert {(a[0], a[2]) for a in folder_annotations(d)} == {(i, "anna") for i in expected}
    with Project.open(d / "folder.yaml") as p:  # the batch knows which of its items are labeled now
        status = {r["item_id"]: r["status"] for r in p.ws.batches.items(1)}
    assert sorted(i for i, s in status.items() if s == "labeled") == sorted(expected)

    # pulling again changes nothing
    before = dump(d / "ws-folder" / "labelf.sqlite")
    r = cli("pull", cwd=d)
    assert r.returncode == 0 and "nothing new" in r.stderr, r.stderr
    assert dump(d / "ws-folder" / "labelf.sqlite") == before


def test_push_connector_folder_writes_each_item_once(cli, make_config, tmp_path: Path) -> None:
    """`labelf push --connector folder` on a project whose config names Label Studio; `labeling.folder` defaults to
    ``labeling/`` next to the config."""
    cfg = make_config(rows=ROWS, name="plain")
    assert cli("init", str(cfg), cwd=tmp_path).returncode == 0
    assert cli("suggest", "--n", "5", "--seed", "1", cwd=tmp_path).returncode == 0
    r = cli("push", "--connector", "folder", "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    first = read_rows(next((tmp_path / "labeling").glob("pending-*.csv")))
    assert len(first) == 5
    # pushing again, and pushing the batch by id, write no item a second time
    r = cli("push", "--connector", "folder", cwd=tmp_path)
    assert r.returncode == 0 and "0 new task(s), 5 already there" in r.stderr, r.stderr
    r = cli("push", "--connector", "folder", "--batch", "1", cwd=tmp_path)
    assert r.returncode == 0 and "0 new task(s), 5 already there" in r.stderr, r.stderr
    assert cli("suggest", "--n", "4", "--seed", "1", cwd=tmp_path).returncode == 0
    r = cli("push", "--connector", "folder", "--batch", "2", cwd=tmp_path)
    assert r.returncode == 0 and "4 new task(s)" in r.stderr, r.stderr
    files = sorted((tmp_path / "labeling").glob("*.csv"))
    ids = [row["id"] for f in files for row in read_rows(f)]
    assert len(ids) == len(set(ids)) == 9 and (tmp_path / "labeling" / "batch-2.csv") in files
    # filled in, the files are read back by `labelf pull --connector folder`
    f = tmp_path / "labeling" / "batch-2.csv"
    write_rows(f, fill(read_rows(f), "anna"))
    r = cli("pull", "--connector", "folder", "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["new"] == 4
    with Project.open(cfg) as p:
        assert p.ws.annotations.labeled() == {row["id"]: (GOLD[row["id"]],) for row in read_rows(f)}
    # the Label Studio-only --url is refused for the folder connector
    assert "--url applies to Label Studio" in error_line(
        cli("push", "--connector", "folder", "--url", "http://127.0.0.1:9", cwd=tmp_path))
    assert "unknown connector 'dropbox'" in error_line(cli("pull", "--connector", "dropbox", cwd=tmp_path))


@pytest.mark.parametrize("policy, winner", [("majority", None), ("latest", "ben"), ("conflict", None)])
def test_two_annotators_disagree_resolved_by_the_conflict_policy(cli, make_config, tmp_path: Path, policy: str,
                                                                 winner: str | None) -> None:
    cfg = make_config(rows=ROWS, name="folder", labeling={"connector": "folder", "folder": "to-label",
                                                          "conflict_policy": policy})
    assert cli("init", str(cfg), cwd=tmp_path).returncode == 0
    assert cli("suggest", "--n", "3", "--seed", "0", "--push", cwd=tmp_path).returncode == 0
    folder = tmp_path / "to-label"
    rows = read_rows(folder / "batch-1.csv")
    disputed = rows[0]["id"]
    wrong = next(lab for lab in ("Billing", "Technical Issue", "Cancellation") if lab != GOLD[disputed])
    # two copies of the batch: anna's (saved first) and ben's, who disagrees on the first text only
    write_rows(folder / "batch-1.csv", fill(rows, "anna"), mtime=1_700_000_000)
    write_rows(folder / "batch-1-ben.csv", fill(rows, "ben", {disputed: wrong}), mtime=1_700_000_100)
    r = cli("pull", "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    got = labeled(tmp_path)
    agreed = {row["id"] for row in rows[1:]}
    assert {i: got[i] for i in agreed} == {i: (GOLD[i],) for i in agreed}  # agreement is no conflict
    if winner is None:  # majority (a tie) and conflict: the disputed text waits for someone to settle it
        assert disputed not in got
        statuses = {a[4] for a in folder_annotations(tmp_path) if a[0] == disputed}
        assert statuses == {"conflict"}
        assert "1 item(s) in conflict" in r.stderr
    else:  # latest: ben's later save wins
        assert got[disputed] == (wrong,)
    if policy == "majority":  # a third annotator agreeing with anna breaks the tie
        write_rows(folder / "batch-1-cleo.csv", fill(rows, "cleo"), mtime=1_700_000_200)
        assert cli("pull", cwd=tmp_path).returncode == 0
        assert labeled(tmp_path)[disputed] == (GOLD[disputed],)
    # pulling again changes nothing, whatever the policy
    before = folder_annotations(tmp_path)
    r = cli("pull", cwd=tmp_path)
    assert r.returncode == 0 and "nothing new" in r.stderr
    assert folder_annotations(tmp_path) == before


def test_clearing_a_label_deletes_the_annotation(cli, folder_project: Path) -> None:
    d = folder_project
    assert cli("suggest", "--n", "3", "--seed", "0", "--push", cwd=d).returncode == 0
    f = d / "to-label" / "batch-1.csv"
    rows = fill(read_rows(f), "anna")
    write_rows(f, rows, mtime=1_700_000_000)
    assert cli("pull", cwd=d).returncode == 0
    assert set(labeled(d)) == {r["id"] for r in rows}
    cleared = rows[0]["id"]
    rows[0] = {**rows[0], "label": ""}
    write_rows(f, rows, mtime=1_700_000_100)
    r = cli("pull", "--format", "json", cwd=d)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["deleted"] == 1
    assert cleared not in labeled(d) and set(labeled(d)) == {r["id"] for r in rows[1:]}
    status = {a[0]: a[4] for a in folder_annotations(d)}
    assert status[cleared] == "deleted"  # kept as history, not counted
    # labeling it again brings it back
    rows[0] = {**rows[0], "label": "Cancellation"}
    write_rows(f, rows, mtime=1_700_000_200)
    assert cli("pull", cwd=d).returncode == 0
    assert labeled(d)[cleared] == ("Cancellation",)


def test_an_unknown_label_writes_nothing(cli, folder_project: Path) -> None:
    d = folder_project
    assert cli("suggest", "--n", "3", "--seed", "0", "--push", cwd=d).returncode == 0
    f = d / "to-label" / "batch-1.csv"
    rows = fill(read_rows(f), "anna")
    rows[1] = {**rows[1], "label": "Roaming"}
    write_rows(f, rows)
    db = d / "ws-folder" / "labelf.sqlite"
    before = dump(db)
    line = error_line(cli("pull", cwd=d))
    assert "'Roaming'" in line and "nothing was pulled" in line
    assert dump(db) == before and labeled(d) == {}
    rows[1] = {**rows[1], "label": "Billing|Cancellation"}  # several labels on a single-label project
    write_rows(f, rows)
    assert "several labels" in error_line(cli("pull", cwd=d))
    assert dump(db) == before
    # an id that is not in the pool is named, nothing written either
    write_rows(d / "to-label" / "extra.csv", [{"id": "no-such-id", "text": "hello", "label": "Billing"}])
    rows[1] = {**rows[1], "label": "Billing"}
    write_rows(f, rows)
    assert "no-such-id" in error_line(cli("pull", cwd=d))
    assert dump(db) == before


def test_pull_before_any_push_says_what_to_do(cli, folder_project: Path) -> None:
    line = error_line(cli("pull", cwd=folder_project))
    assert "does not exist" in line and "push" in line

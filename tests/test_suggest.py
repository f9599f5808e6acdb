"""`labelf suggest` and `labelf label` on real workspaces (SQLite files, the "static" encoder)."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from helpers.cli import error_line
from helpers.data import TELECOM_ROWS

from labelf_trainer.exceptions import DataError, UnknownLabelError
from labelf_trainer.loop.project import Project
from labelf_trainer.embeddings.langid import pool_languages
from labelf_trainer.loop.labels import import_labels
from labelf_trainer.loop.suggest import suggest
from labelf_trainer.strategies import EmptyPoolError
from labelf_trainer.types import Item

GERMAN = [("g1", "Meine Rechnung ist diesen Monat viel zu hoch", "Billing"),
          ("g2", "Ich möchte meinen Vertrag zum Monatsende kündigen", "Cancellation"),
          ("g3", "Das Internet funktioniert seit gestern nicht mehr", "Technical Issue")]


def test_suggest_records_a_pending_batch_and_never_repeats_it(tmp_project: Project) -> None:
    first = suggest(tmp_project, n=5, seed=1, progress=False)
    assert len(first.items) == 5 and first.model_id is not None
    assert [it.rank for it in first.items] == [1, 2, 3, 4, 5]
    assert all(it.reason["summary"] and it.predicted in tmp_project.config.label_names for it in first.items)
    stored = tmp_project.ws.batches.items(first.batch_id)
    assert [r["item_id"] for r in stored] == [it.item_id for it in first.items]
    assert {r["status"] for r in stored} == {"pending"}
    assert tmp_project.ws.batches.get(first.batch_id)["strategy"] == "combined"
    second = suggest(tmp_project, n=5, seed=1, progress=False)
    assert not {it.item_id for it in first.items} & {it.item_id for it in second.items}
    third = suggest(tmp_project, n=5, strategy="random", progress=False)  # only 2 left: takes them
    assert len(third.items) == 2 and third.pool_size == 2
    with pytest.raises(EmptyPoolError, match="no unlabeled texts left"):
        suggest(tmp_project, n=5, progress=False)


def test_labeling_and_expiry_return_items_to_the_right_state(tmp_project: Project) -> None:
    ws = tmp_project.ws
    batch = suggest(tmp_project, n=4, strategy="uncertainty", seed=0, progress=False)
    gold = {r[0]: r[2] for r in TELECOM_ROWS}
    first_two = [it.item_id for it in batch.items[:2]]
    res = import_labels(tmp_project, [{"id": i, "label": gold[i]} for i in first_two]
                        + [{"id": batch.items[2].item_id, "label": ""}], where="labels.csv")
    assert (res.written, res.skipped_blank, res.batches_touched) == (2, 1, [batch.batch_id])
    status = {r["item_id"]: r["status"] for r in ws.batches.items(batch.batch_id)}
    assert [status[i] for i in first_two] == ["labeled", "labeled"]
    assert ws.annotations.labeled()[first_two[0]] == (gold[first_two[0]],)
    # labeled items are never suggested again; the two still pending come back only after expiry
    later = suggest(tmp_project, n=10, strategy="random", progress=False)
    assert len(later.items) == 8 and later.pending == 2  # 12 texts - 2 labeled - 2 pending
    assert not set(first_two + [it.item_id for it in batch.items[2:]]) & {it.item_id for it in later.items}
    assert ws.batches.expire_pending(14) == 0  # nothing is old yet
    assert ws.batches.expire_pending(14, now=datetime.now(timezone.utc) + timedelta(days=15)) == 10
    again = suggest(tmp_project, n=10, strategy="random", progress=False)
    assert len(again.items) == 10 and not set(first_two) & {it.item_id for it in again.items}
    assert ws.batches.get(batch.batch_id)["expired"] == 2


def test_label_rejects_unknown_labels_and_ids_writing_nothing(tmp_project: Project) -> None:
    with pytest.raises(UnknownLabelError) as e:
        import_labels(tmp_project, [{"id": "b1", "label": "Billing"}, {"id": "t1", "label": "Roaming"},
                                    {"id": "t2", "label": "Spam"}], where="x.csv")
    assert "'Roaming', 'Spam'" in str(e.value) and "'Billing'" in str(e.value)
    with pytest.raises(DataError, match="1 id\\(s\\) not in the workspace pool: 'nope'"):
        import_labels(tmp_project, [{"id": "b1", "label": "Billing"}, {"id": "nope", "label": "Billing"}],
                      where="x.csv")
    with pytest.raises(DataError, match="2 labels"):
        import_labels(tmp_project, [{"id": "b1", "label": "Billing|Cancellation"}], where="x.csv")
    with pytest.raises(DataError, match="no label column 'label'"):
        import_labels(tmp_project, [{"id": "b1", "gold": "Billing"}], where="x.csv")
    assert tmp_project.ws.annotations.count() == 0
    # re-importing the same file updates the annotation instead of adding one
    import_labels(tmp_project, [{"id": "b1", "label": "Billing"}], where="x.csv", annotator="ann")
    import_labels(tmp_project, [{"id": "b1", "label": "Cancellation"}], where="x.csv", annotator="ann")
    assert tmp_project.ws.annotations.count() == 1 and tmp_project.ws.annotations.labeled()["b1"] == ("Cancellation",)


def test_traffic_items_are_candidates_and_low_confidence_first(tmp_project: Project) -> None:
    tmp_project.ws.items.add([Item(id="tr1", text="My bill shows a roaming charge I never made",
                                   meta={"confidence": 0.31, "request_id": "r1"})], origin="traffic")
    res = suggest(tmp_project, n=13, strategy="random", progress=False)
    traffic = [it for it in res.items if it.item_id == "tr1"]
    assert traffic and traffic[0].origin == "traffic"


def test_batch_covers_the_pools_languages(make_config) -> None:
    with Project.open(make_config(rows=TELECOM_ROWS + GERMAN), create=True) as project:
        project.import_sources()
        project.ensure_zero_shot()
        res = suggest(project, n=4, seed=0, progress=False)
        assert res.pool_languages["de"] == 3 and res.pool_languages["en"] == 12
        assert set(res.language_mix) == {"en", "de"}
        assert project.ws.batches.get(res.batch_id)["params"]["language_mix"] == res.language_mix
        # languages are detected once per text and remembered in the workspace cache
        texts = [t for _, t, _ in GERMAN] + ["a brand new English sentence about my invoice"]
        assert pool_languages(texts, project.ws.cache_dir) == ["de", "de", "de", "en"]
        import sqlite3
        with sqlite3.connect(project.ws.cache_dir / "languages.sqlite") as conn:
            assert conn.execute("SELECT COUNT(*) FROM lang").fetchone()[0] == 16


def test_cli_suggest_writes_the_batch_and_label_imports_it(cli, make_config, tmp_path: Path) -> None:
    cfg = make_config(rows=TELECOM_ROWS + GERMAN)
    assert cli("init", str(cfg), cwd=tmp_path).returncode == 0
    out = cli("suggest", "--n", "4", "--seed", "3", "--output", "batch.csv", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "batch 1" in out.stdout and "reason" in out.stdout
    assert "language mix: batch " in out.stderr and "de " in out.stderr
    rows = list(csv.DictReader((tmp_path / "batch.csv").open(encoding="utf-8")))
    assert len(rows) == 4 and rows[0]["label"] == "" and rows[0]["reason"]
    js = cli("suggest", "--n", "3", "--strategy", "diversity", "--output", "b2.jsonl", "--format", "json",
                 cwd=tmp_path)
    assert js.returncode == 0, js.stderr
    body = json.loads(js.stdout)
    assert body["batch_id"] == 2 and len(body["items"]) == 3 and body["items"][0]["reason"]["summary"]
    assert body["model_id"] == 1 and body["items"][0]["predicted"]
    assert len((tmp_path / "b2.jsonl").read_text(encoding="utf-8").splitlines()) == 3
    assert not {r["id"] for r in rows} & {it["id"] for it in body["items"]}
    gold = {r[0]: r[2] for r in TELECOM_ROWS + GERMAN}
    for r in rows:
        r["label"] = gold[r["id"]]
    with (tmp_path / "batch.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    lab = cli("label", "batch.csv", cwd=tmp_path)
    assert lab.returncode == 0, lab.stderr
    assert "recorded 4 labels" in lab.stderr and "batches 1 updated" in lab.stderr
    rows[0]["label"] = "Roaming"
    with (tmp_path / "bad.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    bad = cli("label", "bad.csv", cwd=tmp_path)
    assert bad.returncode == 1 and bad.stderr.startswith("error: unknown label(s)") and "'Roaming'" in bad.stderr
    assert "Traceback" not in bad.stderr
    rows[0]["label"], rows[2]["id"] = gold[rows[0]["id"]], ""
    with (tmp_path / "noid.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    noid = cli("label", "noid.csv", cwd=tmp_path)  # the third data row is line 4 of the file
    assert noid.returncode == 1 and noid.stderr.strip() == "error: noid.csv: row 4: empty 'id'"
    wrong = cli("suggest", "--strategy", "best", cwd=tmp_path)
    assert wrong.returncode != 0 and "--strategy must be one of" in wrong.stderr and "Traceback" not in wrong.stderr


def test_multi_label_project_suggests_per_label_uncertainty_and_takes_several_labels(make_config) -> None:
    with Project.open(make_config(task="multi-label"), create=True) as project:
        project.import_sources()
        project.ensure_zero_shot()
        res = suggest(project, n=3, strategy="uncertainty", seed=0, progress=False)
        assert len(res.items) == 3 and all("unsure about" in it.reason["summary"] for it in res.items)
        first = res.items[0].item_id
        import_labels(project, [{"id": first, "label": "Billing|Cancellation"}], where="ml.csv")
        assert project.ws.annotations.labeled()[first] == ("Billing", "Cancellation")
        again = suggest(project, n=3, seed=0, progress=False)
        assert first not in {it.item_id for it in again.items}


@pytest.mark.parametrize("strategy", ["combined", "diversity", "uncertainty"])
def test_no_near_duplicate_of_a_pending_or_labeled_text(make_config, strategy: str) -> None:
    twins = TELECOM_ROWS + [("x" + i, text + " !!", label) for i, text, label in TELECOM_ROWS]
    cfg = make_config(rows=twins, sampler={"near_duplicate_threshold": 0.9})
    with Project.open(cfg, create=True) as project:
        project.import_sources()
        project.ensure_zero_shot()
        pair = {i: i.lstrip("x") for i, _, _ in twins}
        first = suggest(project, n=6, strategy=strategy, seed=0, progress=False)
        taken = {pair[it.item_id] for it in first.items}
        assert len(taken) == 6  # no two twins in one batch
        import_labels(project, [{"id": first.items[0].item_id, "label": "Billing"}], where="x.csv")
        second = suggest(project, n=6, strategy=strategy, seed=0, progress=False)
        assert not taken & {pair[it.item_id] for it in second.items}  # nor a twin of a pending/labeled text


def test_cli_push_failure_keeps_the_batch_and_says_how_to_retry(cli, make_config, tmp_path: Path) -> None:
    cfg = make_config(label_studio={"url": "http://127.0.0.1:9", "token_env": "LABELF_TEST_NO_SUCH_TOKEN"})
    assert cli("init", str(cfg), cwd=tmp_path).returncode == 0
    out = cli("suggest", "--n", "2", "--push", cwd=tmp_path)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "push it later with `labelf push --batch 1`" in last
    with Project.open(cfg) as project:
        assert len(project.ws.batches.items(1)) == 2


@pytest.mark.parametrize("content, needles", [
    ("id,label\n", ["no rows to import", "'id'", "'label'"]),
    ("\ufeffid,label\n", ["no rows to import", "'id'", "'label'"]),
    ("item,gold\nb1,Billing\n", ["no id column 'id'", "expected columns 'id' and 'label'", "item, gold"]),
    ("id,gold\nb1,Billing\n", ["no label column 'label'", "expected columns 'id' and 'label'", "id, gold"]),
], ids=["header-only", "header-only-bom", "wrong-columns", "no-label-column"])
def test_label_file_without_rows_or_columns_names_the_expected_columns(cli, tmp_project: Project, tmp_path: Path,
                                                                       content: str, needles: list[str]) -> None:
    (tmp_path / "in.csv").write_text(content, encoding="utf-8")
    line = error_line(cli("label", "in.csv", "--config", str(tmp_project.config.source_path), cwd=tmp_path))
    assert "in.csv" in line and all(n in line for n in needles), line
    assert tmp_project.ws.annotations.count() == 0


@pytest.mark.parametrize("header", [
    "x" * 1_000_000,  # a 1 MB header line: one huge column name
    ",".join(f"column_number_{i:05d}_" + "y" * 180 for i in range(5_000)),  # 1 MB of 5,000 long column names
], ids=["one-huge-column", "5000-long-columns"])
def test_label_file_with_a_1mb_header_gives_a_short_error_line(cli, tmp_project: Project, tmp_path: Path,
                                                               header: str) -> None:
    assert len(header) >= 1_000_000 and "\n" not in header
    (tmp_path / "huge.csv").write_text(header + "\n", encoding="utf-8")
    line = error_line(cli("label", "huge.csv", "--config", str(tmp_project.config.source_path), cwd=tmp_path))
    assert len(line) <= 500, len(line)
    assert "huge.csv" in line and "'id'" in line and "'label'" in line, line


def test_candidate_view_samples_a_large_pool_traffic_first_and_audits_the_whole_pool() -> None:
    import numpy as np

    from labelf_trainer.loop.suggest import candidate_view

    index = [(f"t{i:04d}", "traffic" if i % 50 == 0 else "import") for i in range(1000)]
    labeled = {f"t{i:04d}": ("A",) for i in range(1, 11)}
    view = candidate_view(index, labeled, {"t0011", "t0012"}, 100, np.random.default_rng(0))
    assert view.candidates == 988 and view.taken == [f"t{i:04d}" for i in range(1, 13)]
    assert len(view.sample) == 100 and view.sample == sorted(view.sample)  # pool order
    assert {f"t{i:04d}" for i in range(0, 1000, 50)} <= set(view.sample)  # all 20 traffic texts are scored
    assert not set(view.sample) & set(view.taken)
    audit = view.draw_audit(30, np.random.default_rng(1))
    assert len(set(audit)) == 30 and set(audit) - set(view.sample)  # drawn from the whole pool
    assert view.scored(audit)[-30:] == audit and len(set(view.scored(audit))) == len(view.scored(audit))
    small = candidate_view(index, labeled, set(), 5000, np.random.default_rng(0))
    assert len(small.sample) == 990  # under the limit: every candidate
    flood = [(f"q{i}", "traffic") for i in range(400)] + [(f"p{i}", "import") for i in range(400)]
    view = candidate_view(flood, {}, set(), 100, np.random.default_rng(0))
    assert sum(i.startswith("q") for i in view.sample) == 50  # traffic takes at most half the sample


def test_suggest_on_a_pool_larger_than_max_candidates_scores_a_sample(make_config) -> None:
    from helpers.data import open_project

    words = ["bill", "invoice", "router", "wifi", "cancel", "contract", "refund", "password", "login", "roaming"]
    rows = [(f"r{i:03d}", f"my {words[i % 10]} problem number {i} with the {words[(i * 7) % 10]}", "")
            for i in range(300)]
    with open_project(make_config(rows=rows, sampler={"max_candidates": 100, "audit_share": 0.2})) as project:
        res = suggest(project, n=10, seed=3, progress=False)
        assert (res.pool_size, res.scored, len(res.items)) == (300, 100, 10)
        audit = [it for it in res.items if it.reason.get("component") == "audit"]
        assert len(audit) == 2 and project.ws.batches.audit_counts() == (10, 2)
        again = suggest(project, n=10, seed=3, progress=False)  # the first batch is pending: never again
        assert again.pool_size == 290 and not {it.item_id for it in res.items} & {it.item_id for it in again.items}


def test_default_batch_is_25_texts_until_200_are_labeled_then_50(make_config) -> None:
    from helpers.data import open_project

    from labelf_trainer.loop.suggest import default_batch_size
    from labelf_trainer.types import Annotation

    assert (default_batch_size(0), default_batch_size(199), default_batch_size(200)) == (25, 25, 50)
    rows = [(f"r{i:03d}", f"text {i} about the {['bill', 'router', 'contract'][i % 3]} and item {i * 7}", "")
            for i in range(300)]
    with open_project(make_config(rows=rows, sampler={"audit_share": 0.0})) as project:
        assert len(suggest(project, progress=False).items) == 25
        project.ws.annotations.add([Annotation(f"r{i:03d}", ("Billing",)) for i in range(100, 300)])
        assert len(suggest(project, progress=False).items) == 50

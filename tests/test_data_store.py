import json
import sqlite3

import pandas as pd
import pytest

from labelf_trainer.data import read_items
from labelf_trainer.exceptions import DataError, StoreError
from labelf_trainer.store import Workspace
from labelf_trainer.types import Annotation, Item


def test_reimport_adds_nothing(tmp_project, tmp_path):
    n = tmp_project.ws.items.count()
    assert n == 12
    again = tmp_project.import_sources()[0]
    assert (again.added, again.skipped_known) == (0, 12)
    assert tmp_project.ws.items.count() == n


def test_import_without_ids_dedups_by_content(tmp_project, tmp_path):
    f = tmp_path / "more.txt"
    f.write_text("new text one\nnew text two\nnew text one\n\n", encoding="utf-8")
    r = tmp_project.import_file(f)
    assert (r.read, r.added, r.skipped_known, r.skipped_empty) == (3, 2, 1, 1)
    assert tmp_project.import_file(f).added == 0


def test_workspace_is_sqlite_wal(tmp_project):
    db = tmp_project.ws.root / "labelf.sqlite"
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 12


def test_formats_jsonl_parquet_and_long_texts(tmp_path):
    rows = [{"cid": "1", "body": "hello there"}, {"cid": "2", "body": "x" * 10_050}]
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    rep = read_items(tmp_path / "a.jsonl", text_column="body", id_column="cid")
    assert [it.id for it in rep.items] == ["1", "2"] and rep.truncated == 1
    assert len(rep.items[1].text) == 10_000
    with pytest.raises(DataError, match=r"row 2: text has 10,050 characters; the limit is 10,000"):
        read_items(tmp_path / "a.jsonl", text_column="body", id_column="cid", long_texts="error")
    pd.DataFrame(rows).to_parquet(tmp_path / "a.parquet")
    assert len(read_items(tmp_path / "a.parquet", text_column="body").items) == 2


def test_bad_files_give_specific_errors(tmp_path):
    (tmp_path / "latin1.csv").write_bytes("text\ncaf\xe9 au lait\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1\.csv: not UTF-8 text \(invalid byte at offset 8\)"):
        read_items(tmp_path / "latin1.csv")
    (tmp_path / "cols.csv").write_text("body\nhi\n", encoding="utf-8")
    with pytest.raises(DataError, match="no text column 'text'; columns are: body"):
        read_items(tmp_path / "cols.csv")
    (tmp_path / "bad.jsonl").write_text('{"text": "ok"}\n{broken\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.jsonl: line 2: invalid JSON"):
        read_items(tmp_path / "bad.jsonl")
    with pytest.raises(DataError, match="cannot tell the format"):
        read_items(tmp_path / "x.docx")


def test_annotations_upsert_and_latest_wins(tmp_path):
    ws = Workspace.create(tmp_path / "ws")
    ws.items.add([Item("a", "text a"), Item("b", "text b")])
    ws.annotations.add([Annotation("a", ("X",), source="ls", external_id="7")])
    ws.annotations.add([Annotation("a", ("Y",), source="ls", external_id="7")])  # updated, not doubled
    ws.annotations.add([Annotation("b", ("X",))])
    assert ws.annotations.count() == 2
    assert ws.annotations.labeled() == {"a": ("Y",), "b": ("X",)}


def test_an_edited_annotation_becomes_the_latest_across_sources(tmp_path):
    ws = Workspace.create(tmp_path / "ws")
    ws.items.add([Item("a", "text a")])
    ws.annotations.add([Annotation("a", ("X",), source="file", external_id="ann:a")])  # labelf label a.csv
    ws.annotations.add([Annotation("a", ("Y",), source="ls", external_id="9")])  # a newer Label Studio one
    assert ws.annotations.labeled() == {"a": ("Y",)}
    ws.annotations.add([Annotation("a", ("X",), source="file", external_id="ann:a")])  # same file again: no change
    assert ws.annotations.labeled() == {"a": ("Y",)}
    ws.annotations.add([Annotation("a", ("Z",), source="file", external_id="ann:a")])  # the corrected file
    assert ws.annotations.labeled() == {"a": ("Z",)} and ws.annotations.count() == 2


def test_open_missing_workspace(tmp_path):
    with pytest.raises(StoreError, match="run `labelf init CONFIG` first"):
        Workspace.open(tmp_path / "none")


def test_draw_texts_reads_only_the_drawn_texts_seeded_and_skipping(tmp_path):
    import numpy as np

    from labelf_trainer.types import text_hash

    ws = Workspace.create(tmp_path / "ws")
    ws.items.add([Item(f"i{k:03d}", f"text number {k}") for k in range(200, 0, -1)])  # rowid order != id order
    texts, n = ws.items.draw_texts(20, np.random.default_rng(0), skip_ids={"i001", "i002"},
                                   skip_hashes={text_hash("text number 3")})
    assert n == 197 and len(texts) == 20 == len(set(texts))
    assert not {"text number 1", "text number 2", "text number 3"} & set(texts)
    assert texts == ws.items.draw_texts(20, np.random.default_rng(0), skip_ids={"i001", "i002"},
                                        skip_hashes={text_hash("text number 3")})[0]  # seeded: the same texts
    by_id, _ = ws.items.draw_texts(20, np.random.default_rng(0), order="id")
    numbers = [int(t.split()[-1]) for t in by_id]
    assert numbers == sorted(numbers)  # drawn in id order, returned in that order
    everything, n = ws.items.draw_texts(500, np.random.default_rng(0))
    assert n == 200 and everything == [f"text number {k}" for k in range(200, 0, -1)]  # all, in rowid order
    with pytest.raises(ValueError, match="order"):
        ws.items.draw_texts(5, np.random.default_rng(0), order="text")

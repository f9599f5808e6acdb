"""Shared fixtures: temporary projects on real SQLite files, offline models only, the in-process CLI, a real Label
Studio server. Plain helpers (data, runners, the server class) live in ``tests/helpers``."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from helpers.cli import CliResult, invoke  # noqa: E402
from helpers.data import TELECOM_ROWS, write_project_config  # noqa: E402
from helpers.label_studio import TOKEN_ENV, LabelStudioServer, shared_server  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


#: Test modules whose every test takes minutes: under pytest-xdist each of their tests is scheduled on its own, every
#: other module as one unit (its module fixtures are built once); see pytest_xdist_make_scheduler.
ONE_BY_ONE = ("tests/test_demo.py",)


@pytest.hookimpl(optionalhook=True)  # an xdist hook: unknown when xdist is off (-p no:xdist)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """With ``-n N`` (``--dist load``, the default): the longest tests first and side by side.

    Tests run a module at a time (a module's fixtures, e.g. its Label Studio projects or trained models, are built
    on one worker), except the modules of :data:`ONE_BY_ONE`, whose tests are units of their own; units start in
    the collection order, where ``slow`` tests come first (pytest_collection_modifyitems), so the two demos start
    at once on two workers and the short tests fill in around them. Other ``--dist`` modes are left alone."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class Scheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return nodeid if module in ONE_BY_ONE else module

    config.option.loadscopereorder = False  # keep the collection order (xdist would put the biggest modules first)
    return Scheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist, ``slow`` tests first (a stable sort: modules stay together)."""
    if hasattr(config, "workerinput"):
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs in its own tmp_path with no $LABELF_CONFIG: `labelf init` writes ``.labelf-project`` into
    the working folder, and the config lookup reads the working folder and that variable."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LABELF_CONFIG", raising=False)


# -- projects ----------------------------------------------------------------------------------------------------
@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a project config (and its data CSV) into tmp_path; returns the config path.

    ``make_config(name="demo")`` writes ``demo.yaml``, ``demo.csv`` and uses the workspace ``ws-demo``."""

    def _make(*, encoder: str = "static", rows: list[tuple] | None = None, labels: list[dict] | None = None,
              task: str = "single-label", name: str = "demo", **extra: Any) -> Path:
        return write_project_config(tmp_path, name=name, project=name, encoder=encoder, rows=rows, labels=labels,
                                    task=task, workspace=f"ws-{name}", **extra)

    return _make


@pytest.fixture(scope="session")
def initialised_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with ``labelf.yaml`` + ``msgs.csv`` and its workspace ``ws``, initialised once per session
    (static encoder, the 12 telecom texts imported, zero-shot model 1 deployed). Never open it: copy it
    (:func:`copy_project`)."""
    from helpers.data import open_project

    root = tmp_path_factory.mktemp("initialised")
    cfg = write_project_config(root, name="labelf", project="demo", workspace="ws", rows=TELECOM_ROWS,
                               data_name="msgs.csv")
    open_project(cfg).close()
    return root


def copy_project(template: Path, dst: Path) -> Path:
    """Copy an initialised project folder into ``dst``; returns the copy's config path, ``dst/labelf.yaml``, which
    `labelf` finds there without ``--config`` (paths in the config and the workspace are relative, so the copy is
    a project of its own)."""
    shutil.copytree(template, dst, dirs_exist_ok=True)
    return dst / "labelf.yaml"


@pytest.fixture
def project_dir(initialised_project: Path, tmp_path: Path) -> Path:
    """A copy of the initialised project in tmp_path (``labelf.yaml``, ``msgs.csv``, workspace ``ws``)."""
    copy_project(initialised_project, tmp_path)
    return tmp_path


@pytest.fixture
def tmp_project(project_dir: Path) -> Iterator[Any]:
    """An initialised project (static encoder): pool imported, zero-shot model deployed; a copy per test."""
    from labelf_trainer.loop.project import Project

    project = Project.open(project_dir / "labelf.yaml")
    yield project
    project.close()


# -- the CLI -----------------------------------------------------------------------------------------------------
@pytest.fixture
def cli(capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    """``cli("train", "--deploy", cwd=folder, env={...})``: `labelf` run in this process (``main([...])``), its
    exit code and captured stdout/stderr."""

    def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            input: str | None = None) -> CliResult:
        return invoke(capfd, monkeypatch, *args, cwd=cwd, env=env, input=input)

    return run


# -- Label Studio ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def label_studio(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> LabelStudioServer:
    """A real Label Studio server on 127.0.0.1, one per test process (SQLite copied from the template)."""
    return shared_server(request.config, tmp_path_factory)


_titles = itertools.count(1)


@pytest.fixture
def ls_config(label_studio: LabelStudioServer, make_config: Callable[..., Path],
              monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Write a project config pointing at the session's server, with its own Label Studio project title."""
    monkeypatch.setenv(TOKEN_ENV, label_studio.token)

    def _make(*, label_studio_extra: dict[str, Any] | None = None, **kw: Any) -> Path:
        title = f"labelf-test-{os.getpid()}-{next(_titles)}"
        ls = {"url": label_studio.url, "token_env": TOKEN_ENV, "project_title": title, **(label_studio_extra or {})}
        return make_config(label_studio=ls, **kw)

    return _make

"""A real Label Studio server for the tests, started once per session.

``scripts/install_label_studio.sh`` installs Label Studio into ``.labelstudio/venv`` and migrates a template
SQLite database once; each session copies that database into a temporary folder, starts Label Studio headless on
a free port of 127.0.0.1 with a known user and legacy token, waits for ``/health`` and checks that the token works
there (so it is our server, not one that was already on the port), and stops it by its process group at the end.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import TELECOM_ROWS

from labelf_trainer.loop.project import Project

REPO = Path(__file__).resolve().parents[1]
LS_ROOT = REPO / ".labelstudio"
LS_BIN = LS_ROOT / "venv" / "bin" / "label-studio"
TEMPLATE_DB = LS_ROOT / "template" / "label_studio.sqlite3"
TOKEN = "labelf-test-token-0123456789abcdef"
USERNAME = "admin@labelf.test"
PASSWORD = "labelf-test-password"
START_TIMEOUT_S = 120.0
MOVED_PORT = re.compile(r"Trying to start at (\d+)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ls_env(data_dir: Path) -> dict[str, str]:
    """The environment Label Studio runs with: no SSRF guard and local ML backends allowed (webhooks and our ML
    backend live on 127.0.0.1), no phoning home."""
    env = dict(os.environ)
    env.update({
        "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
        "LABEL_STUDIO_SSRF_PROTECTION_ENABLED": "false",
        "ML_BLOCK_LOCAL_IP": "false",
        "LABEL_STUDIO_LATEST_VERSION_CHECK": "false",
        "SENTRY_DSN": "",
        "FRONTEND_SENTRY_DSN": "",
        "COLLECT_ANALYTICS": "false",
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "false",
    })
    for k in ("DJANGO_DB", "DATABASE_URL", "LABEL_STUDIO_HOST"):
        env.pop(k, None)
    return env


def ensure_installed() -> None:
    """Run the (idempotent) installer when the venv or the template database is missing."""
    if LS_BIN.exists() and TEMPLATE_DB.exists():
        return
    subprocess.run(["bash", str(REPO / "scripts" / "install_label_studio.sh")], check=True, cwd=REPO)


@dataclass
class LabelStudioServer:
    """A running Label Studio: ``url``, ``token`` (legacy ``Authorization: Token``), its log and data folder."""

    data_dir: Path
    port: int = 0
    proc: subprocess.Popen | None = None
    log_path: Path = field(init=False)
    token: str = TOKEN
    username: str = USERNAME
    password: str = PASSWORD
    start_seconds: float = 0.0
    _log_offset: int = 0

    def __post_init__(self) -> None:
        self.log_path = self.data_dir.parent / "label-studio.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        t0 = time.monotonic()
        for _attempt in range(3):
            self.port = free_port()
            self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
            log = self.log_path.open("ab")
            self.proc = subprocess.Popen(
                [str(LS_BIN), "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(self.port),
                 "--data-dir", str(self.data_dir), "--username", self.username, "--password", self.password,
                 "--user-token", self.token, "--enable-legacy-api-token"],
                env=ls_env(self.data_dir), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
            log.close()
            if self._wait_ready():
                self.start_seconds = time.monotonic() - t0
                return
            self.stop()  # moved to another port or failed: try again on a fresh port
        raise RuntimeError(f"Label Studio did not start; see {self.log_path}:\n{self.log_tail()}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT_S
        assert self.proc is not None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            moved = MOVED_PORT.findall(self._log_since_start())
            if moved:  # our port got taken before Label Studio bound it: it moved on by itself
                self.port = int(moved[-1])
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    # the token must work here: proves the server on this port is ours
                    r = httpx.get(f"{self.url}/api/current-user/whoami", timeout=10,
                                  headers={"Authorization": f"Token {self.token}"})
                    return r.status_code == 200
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        return False

    def stop(self) -> None:
        """Stop the server and its children (its own process group, by id)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=10)
        self.proc = None

    def _log_since_start(self) -> str:
        try:
            with self.log_path.open("rb") as fh:
                fh.seek(self._log_offset)
                return fh.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


_SERVER: LabelStudioServer | None = None


def shared_server(config: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> LabelStudioServer:
    """The session's one server, whichever test module asks first; stopped when the session ends."""
    global _SERVER
    if _SERVER is None:
        ensure_installed()
        root = tmp_path_factory.mktemp("labelstudio")
        data_dir = root / "data"
        data_dir.mkdir()
        shutil.copy2(TEMPLATE_DB, data_dir / "label_studio.sqlite3")
        server = LabelStudioServer(data_dir=data_dir)
        server.start()
        config.add_cleanup(server.stop)
        _SERVER = server
    return _SERVER


@pytest.fixture(scope="session")
def label_studio(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> LabelStudioServer:
    """A real Label Studio server on 127.0.0.1, one for the whole session (SQLite copied from the template)."""
    return shared_server(request.config, tmp_path_factory)


TOKEN_ENV = "LABELF_TEST_LS_TOKEN"
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


def sdk_client(server: LabelStudioServer) -> Any:
    """A label-studio-sdk client as an annotator's tool would use it (the admin's token)."""
    from label_studio_sdk import LabelStudio

    return LabelStudio(base_url=server.url, api_key=server.token)


def annotator_ids(server: LabelStudioServer, n: int = 3) -> list[int]:
    """User ids of ``n`` annotators (the admin first, then users created once per server)."""
    client = sdk_client(server)
    users = {u.email: u.id for u in client.users.list()}
    ids = [users[server.username]]
    for i in range(1, n):
        email = f"annotator{i}@labelf.test"
        if email not in users:
            users[email] = client.users.create(username=f"annotator{i}", email=email,
                                               password="annotator-password-1").id
        ids.append(users[email])
    return ids


# -- shared test data: 30 telecom texts, 10 per label ----------------------------------------------------------
EXTRA_ROWS = [
    ("b5", "You billed me for a service I never ordered", "Billing"),
    ("b6", "Can I get an itemised invoice for March?", "Billing"),
    ("b7", "The late payment fee on my bill is wrong", "Billing"),
    ("b8", "Please refund the deposit you kept", "Billing"),
    ("b9", "My monthly price went up without notice", "Billing"),
    ("b10", "The payment page rejects my card", "Billing"),
    ("t5", "Wifi is extremely slow in the evenings", "Technical Issue"),
    ("t6", "Calls drop after ten seconds", "Technical Issue"),
    ("t7", "The TV box shows error 504", "Technical Issue"),
    ("t8", "I cannot send text messages since the update", "Technical Issue"),
    ("t9", "Fibre installation left me without any connection", "Technical Issue"),
    ("t10", "My modem keeps rebooting by itself", "Technical Issue"),
    ("c5", "I am moving abroad and need to close my account", "Cancellation"),
    ("c6", "What is the notice period to quit my contract?", "Cancellation"),
    ("c7", "Stop my plan, I found a cheaper offer", "Cancellation"),
    ("c8", "I would like to terminate the broadband contract", "Cancellation"),
    ("c9", "Please do not renew my subscription", "Cancellation"),
    ("c10", "End my mobile contract today", "Cancellation"),
]
ROWS = TELECOM_ROWS + EXTRA_ROWS  # 30 texts, 10 per label
GOLD = {i: lab for i, _t, lab in ROWS}
TEXT = {i: t for i, t, _lab in ROWS}


def open_project(config: Path) -> Project:
    project = Project.open(config, create=True)
    project.import_sources()
    project.ensure_zero_shot()
    return project


def annotate(client, task_id: int, label: str | list[str] | None, user: int, cancelled: bool = False) -> int:
    choices = [label] if isinstance(label, str) else label
    result = [] if choices is None else [{"from_name": "label", "to_name": "text", "type": "choices",
                                          "value": {"choices": choices}}]
    return client.annotations.create(id=task_id, result=result, completed_by=user, was_cancelled=cancelled).id

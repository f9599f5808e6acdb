"""A real Label Studio server for the tests (the ``label_studio`` fixture of conftest.py starts one per test
process).

``scripts/install_label_studio.sh`` installs Label Studio into ``.labelstudio/venv`` and migrates a template
SQLite database once; each test process copies that database into a temporary folder, starts Label Studio headless
on a free port of 127.0.0.1 with a known user and legacy token, waits for ``/health`` and checks that the token
works there (so it is our server, not one that was already on the port), and stops it by its process group at the
end. Under pytest-xdist every worker that runs a Label Studio test has its own server (its own data folder, port and
log), started on first use.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
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


#: ``PID:LOG`` of an installer that ``scripts/test.sh`` started beside the test run (Label Studio's pip install and
#: database migration take minutes; only the Label Studio tests need them, and they wait here)
INSTALLER_ENV = "LABELF_TEST_LS_INSTALLER"
INSTALL_TIMEOUT_S = 1800.0


def _running(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie has finished)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def installed() -> bool:
    return LS_BIN.exists() and TEMPLATE_DB.exists()  # the template is moved into place last


def ensure_installed() -> None:
    """Wait for the installer that scripts/test.sh runs in the background, or run the (idempotent) installer when
    the venv or the template database is missing."""
    pid, _, log = os.environ.get(INSTALLER_ENV, "").partition(":")
    if pid.isdigit():
        deadline = time.monotonic() + INSTALL_TIMEOUT_S
        while not installed() and _running(int(pid)) and time.monotonic() < deadline:
            time.sleep(1.0)
        if not installed():
            tail = Path(log).read_text(errors="replace")[-3000:] if log and Path(log).is_file() else ""
            raise RuntimeError(f"the Label Studio installer (pid {pid}) did not finish; its log {log}:\n{tail}")
        return
    if not installed():
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


TOKEN_ENV = "LABELF_TEST_LS_TOKEN"


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


def annotate(client, task_id: int, label: str | list[str] | None, user: int, cancelled: bool = False) -> int:
    choices = [label] if isinstance(label, str) else label
    result = [] if choices is None else [{"from_name": "label", "to_name": "text", "type": "choices",
                                          "value": {"choices": choices}}]
    return client.annotations.create(id=task_id, result=result, completed_by=user, was_cancelled=cancelled).id

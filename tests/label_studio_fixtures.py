"""A real Label Studio server for the tests, started once per session.

``scripts/install_label_studio.sh`` installs Label Studio into ``.labelstudio/venv`` and migrates a template
SQLite database once; each session copies that database into a temporary folder, starts Label Studio headless on
a free port of 127.0.0.1 with a known user and legacy token, waits for ``/health`` and checks that the token works
there (so it is our server, not one that was already on the port), and stops it by its process group at the end.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
LS_ROOT = REPO / ".labelstudio"
LS_BIN = LS_ROOT / "venv" / "bin" / "label-studio"
TEMPLATE_DB = LS_ROOT / "template" / "label_studio.sqlite3"
TOKEN = "labelf-test-token-0123456789abcdef"
USERNAME = "admin@labelf.test"
PASSWORD = "labelf-test-password"
START_TIMEOUT_S = 120.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ls_env(data_dir: Path) -> dict[str, str]:
    """The environment Label Studio runs with: no SSRF guard (webhooks and ML backends on 127.0.0.1), no phoning home."""
    env = dict(os.environ)
    env.update({
        "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
        "LABEL_STUDIO_SSRF_PROTECTION_ENABLED": "false",
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

    def __post_init__(self) -> None:
        self.log_path = self.data_dir.parent / "label-studio.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        t0 = time.monotonic()
        for _attempt in range(3):
            self.port = free_port()
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

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudioServer]:
    """A real Label Studio server on 127.0.0.1 for the whole session (SQLite copied from the template)."""
    ensure_installed()
    root = tmp_path_factory.mktemp("labelstudio")
    data_dir = root / "data"
    data_dir.mkdir()
    shutil.copy2(TEMPLATE_DB, data_dir / "label_studio.sqlite3")
    server = LabelStudioServer(data_dir=data_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()

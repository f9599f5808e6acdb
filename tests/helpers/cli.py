"""Running `labelf`: in-process (``main([...])``, what almost every CLI test does) or, once, as a subprocess.

Both return a :class:`CliResult` with the exit code and what went to stdout and stderr, so a test reads the same
either way. The in-process runner is the ``cli`` fixture of ``conftest.py`` (it needs capfd and monkeypatch).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def invoke(capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str, cwd: Path | None = None,
           env: dict[str, str] | None = None, input: str | None = None) -> CliResult:
    """``labelf ARGS...`` in this process: ``cwd`` and ``env`` apply for the call only; output is captured at the
    file-descriptor level (what a subprocess would have printed). An exception the CLI does not turn into an
    error line propagates, so the test fails with its traceback."""
    from labelf_trainer.cli.main import main

    with monkeypatch.context() as mp:
        if cwd is not None:
            mp.chdir(cwd)
        for k, v in (env or {}).items():
            mp.setenv(k, v)
        if input is not None:
            mp.setattr(sys, "stdin", io.StringIO(input))
        capfd.readouterr()
        try:
            code = main([str(a) for a in args])
        except SystemExit as e:  # pragma: no cover - main() returns its code; kept for safety
            code = e.code if isinstance(e.code, int) else 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
        cap = capfd.readouterr()
    return CliResult(code, cap.out, cap.err)


def run_subprocess(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300,
                   entry_point: bool = True) -> CliResult:
    """``labelf ARGS...`` in a new process, as a user runs it: the installed ``labelf`` script next to this Python
    (``entry_point``), else ``python -m labelf_trainer.cli.main``."""
    script = Path(sys.executable).with_name("labelf")
    cmd = [str(script)] if entry_point else [sys.executable, "-m", "labelf_trainer.cli.main"]
    r = subprocess.run([*cmd, *map(str, args)], cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True,
                       text=True, timeout=timeout)
    return CliResult(r.returncode, r.stdout, r.stderr)


def error_line(r: CliResult, code: int = 1) -> str:
    """The CLI's contract for bad input: exit ``code`` and exactly one line on stderr, ``error: ...``, no
    traceback; returns that line."""
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert "Traceback" not in r.stderr, r.stderr
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]

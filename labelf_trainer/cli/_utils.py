"""Shared CLI pieces: the sub-app factory, common options, output to stdout/stderr."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from ..loop.project import Project

__all__ = ["make_app", "ConfigOpt", "FormatOpt", "out", "err", "emit_json", "print_table", "info", "open_project",
           "model_ref"]

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def make_app(help: str) -> typer.Typer:
    """Every (sub-)app: help when called bare, no pretty tracebacks (locals can hold tokens)."""
    return typer.Typer(help=help, no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False,
                       rich_markup_mode=None)


ConfigOpt = Annotated[
    str | None,
    typer.Option("--config", "-c", help="Project config (default: $LABELF_CONFIG, ./.labelf-project, ./labelf.yaml)."),
]
FormatOpt = Annotated[str, typer.Option("--format", "-f", help="Output format: table or json.")]


def open_project(config: str | None) -> "Project":
    """The command's project. The config layer is imported here, not at module level, so that `labelf --help`
    and the commands that need no project start without it."""
    from ..loop.project import Project

    return Project.open(config)


def model_ref(ref: str) -> tuple[int, int | None]:
    """``"42"`` -> (42, None); ``"42@3"`` -> (42, 3) (:func:`labelf_trainer.registry.records.parse_model_ref`)."""
    from ..registry.records import parse_model_ref

    return parse_model_ref(ref)


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def info(msg: str) -> None:
    """A progress or summary line for people: stderr, so stdout stays parseable."""
    err.print(msg, highlight=False, markup=False)


def print_table(title: str | None, columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(title=title, show_lines=False)
    for c in columns:
        table.add_column(c, overflow="fold")
    for r in rows:
        table.add_row(*["" if v is None else str(v) for v in r])
    out.print(table)


def check_format(fmt: str) -> str:
    if fmt not in ("table", "json"):
        raise typer.BadParameter(f"--format must be table or json, not {fmt!r}")
    return fmt

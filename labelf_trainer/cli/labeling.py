"""`labelf push`, `labelf pull` (any connector), `labelf labelstudio check|connect-ml` (Label Studio).

The connector is ``labeling.connector`` of the config (``label-studio`` or ``folder``) unless ``--connector`` says
otherwise. Label Studio's server is ``label_studio.url`` and its token is read from ``$LABEL_STUDIO_API_KEY`` (or the
variable named by ``label_studio.token_env``); docs/label-studio.md shows how to start one next to the tool.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..exceptions import ConnectorError, DataError
from ._utils import ConfigOpt, FormatOpt, check_format, emit_json, info, make_app, open_project, out

if TYPE_CHECKING:
    from ..connectors.base import Connector
    from ..loop.project import Project

app = make_app("Label Studio: check the connection, connect the ML backend.")

UrlOpt = Annotated[str | None, typer.Option("--url", help="Label Studio URL (default: label_studio.url).")]
ConnectorOpt = Annotated[str | None, typer.Option("--connector", help="label-studio or folder "
                                                  "(default: labeling.connector).")]
ChunkOpt = Annotated[int, typer.Option("--chunk-size", help="Tasks per import request (Label Studio).", min=1)]
SHOWN_PAIRS = 20


def _connector(project: "Project", name: str | None, url: str | None, chunk_size: int | None = None) -> "Connector":
    from ..connectors import make_connector

    name = name or project.config.labeling.connector
    options: dict[str, Any] = {}
    if name == "label-studio":
        options = {"url": url, **({"chunk_size": chunk_size} if chunk_size else {})}
    elif url is not None:
        raise DataError(f"--url applies to Label Studio, not to the {name} connector")
    return make_connector(project, name, **options)


def push(
    batch_file: Annotated[Path | None, typer.Argument(help="Batch file (CSV/JSONL with an id and/or text column); "
                                                            "default: the pending suggestions.")] = None,
    batch: Annotated[int | None, typer.Option("--batch", "-b", help="Push this suggestion batch id.")] = None,
    id_column: Annotated[str, typer.Option(help="Id column of BATCH_FILE.")] = "id",
    text_column: Annotated[str, typer.Option(help="Text column of BATCH_FILE (texts not in the pool are added).")]
    = "text",
    chunk_size: ChunkOpt = 100,
    connector: ConnectorOpt = None,
    url: UrlOpt = None,
    config: ConfigOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Send suggestions for labeling as tasks with pre-annotations; pushing twice creates no duplicates.

    Examples:
      labelf push                      # every pending suggestion
      labelf push --batch 3
      labelf push batch-3.csv
      labelf push --connector folder   # as CSV files into labeling.folder
    """
    from ..connectors.tasks import batch_rows, item_rows

    check_format(fmt)
    if batch_file is not None and batch is not None:
        raise DataError("give either BATCH_FILE or --batch, not both")
    with open_project(config) as project:
        conn = _connector(project, connector, url, chunk_size)
        if batch is not None:
            result = conn.push(batch_rows(project, batch), batch_id=batch)
        elif batch_file is not None:
            result = conn.push(item_rows(project, _file_item_ids(project, batch_file, id_column, text_column)))
        else:
            result = conn.push(batch_rows(project, None))
    info(str(result))
    if fmt == "json":
        emit_json(result.to_dict())


def _file_item_ids(project: "Project", path: Path, id_column: str, text_column: str) -> list[str]:
    """Item ids of a batch file: with a text column its rows (added to the pool if new), else its ids (which
    must be in the pool)."""
    from ..data import detect_format, read_frame, read_items, shown_columns

    frame = read_frame(path, detect_format(path))
    if text_column in frame.columns:
        report = read_items(path, text_column=text_column, id_column=id_column if id_column in frame.columns else None)
        if not report.items:
            raise DataError(f"{path}: no texts to push")
        project.ws.items.add(report.items)
        return [it.id for it in report.items]
    if id_column not in frame.columns:
        raise DataError(f"{path}: needs an {id_column!r} or a {text_column!r} column; columns are: "
                        f"{shown_columns(list(frame.columns))}")
    ids = [str(v).strip() for v in frame[id_column] if str(v).strip()]
    if not ids:
        raise DataError(f"{path}: no ids to push")
    known = {it.id for it in project.ws.items.get(ids)}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise DataError(f"{path}: id(s) not in the pool (add a {text_column!r} column to push new texts): "
                        f"{', '.join(unknown[:10])}")
    return ids


def pull(
    full: Annotated[bool, typer.Option("--full", help="Re-read every task (also notices deleted tasks).")] = False,
    policy: Annotated[str | None, typer.Option(help="Several annotators on a task: majority, latest or conflict "
                                                    "(default: labeling.conflict_policy).")] = None,
    connector: ConnectorOpt = None,
    url: UrlOpt = None,
    config: ConfigOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Fetch new and changed annotations into the workspace; pulling twice changes nothing.

    Examples:
      labelf pull
      labelf pull --full --policy latest
    """
    check_format(fmt)
    if policy is not None and policy not in ("majority", "latest", "conflict"):
        raise typer.BadParameter(f"--policy must be majority, latest or conflict, not {policy!r}")
    with open_project(config) as project:
        result = _connector(project, connector, url).pull(full=full, policy=policy)
    info(str(result))
    if fmt == "json":
        emit_json(result.to_dict())
    else:
        for text, labels in result.pairs[:SHOWN_PAIRS]:
            out.print(f"{', '.join(labels)}\t{text}", highlight=False, markup=False)
        if len(result.pairs) > SHOWN_PAIRS:
            info(f"... and {len(result.pairs) - SHOWN_PAIRS} more labeled text(s) (--format json lists all)")


@app.command("check")
def check(url: UrlOpt = None, config: ConfigOpt = None) -> None:
    """Check the connection, the token, the project and its labeling config; exit 1 on the first failure.

    Example: labelf labelstudio check
    """
    with open_project(config) as project:
        lines = _connector(project, "label-studio", url).check()
    for line in lines:
        out.print(str(line), highlight=False, markup=False)
    failed = next((line for line in lines if not line.ok), None)
    if failed is not None:
        raise ConnectorError(f"Label Studio {failed.name} check failed: {failed.detail}")


@app.command("connect-ml")
def connect_ml(
    backend_url: Annotated[str, typer.Argument(help="Where Label Studio reaches our ML backend, e.g. "
                                                    "http://127.0.0.1:8000/ml-backend (from `labelf serve`).")],
    webhook: Annotated[bool, typer.Option(help="Also send annotation events to BACKEND_URL/webhook.")] = True,
    api_key_env: Annotated[str, typer.Option(help="Variable holding a labeling key (`labelf keys create NAME --scope "
                                                  "labeling`) for a `labelf serve` with auth (unset: no auth).")
                           ] = "LABELF_API_KEY",
    url: UrlOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Connect our ML backend to the Label Studio project (predictions on new tasks, retraining on annotations).

    Example: labelf labelstudio connect-ml http://127.0.0.1:8000/ml-backend
    """
    from ..connectors.label_studio.connector import LabelStudioConnector

    with open_project(config) as project:
        conn = LabelStudioConnector(project, url=url)
        ml_id = conn.connect_ml_backend(backend_url, webhook=webhook, api_key=os.environ.get(api_key_env) or None)
        info(f"ML backend {ml_id} ({backend_url}) connected to Label Studio project {conn.project_id}")

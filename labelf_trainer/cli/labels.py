"""`labelf labels list|add|rename|merge|sync`: grow the label set of a running project (``docs/quality.md``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._utils import ConfigOpt, FormatOpt, check_format, emit_json, info, make_app, open_project, print_table

if TYPE_CHECKING:
    from ..loop.project import Project
    from ..loop.taxonomy import TaxonomyChange

app = make_app("List, add, rename and merge labels of the project (config, annotations and Label Studio).")

SyncOpt = Annotated[bool | None, typer.Option(
    "--sync/--no-sync", help="Update the labeling tool's label set (default: when label_studio is configured or "
                             "the labeling folder exists).")]
ZeroShotOpt = Annotated[bool, typer.Option(
    "--zero-shot/--no-zero-shot", help="While the zero-shot model is the active one, deploy it for the new labels.")]


def _wants_sync(project: "Project", sync: bool | None) -> bool:
    if sync is not None:
        return sync
    cfg = project.config
    if cfg.labeling.connector == "label-studio":
        return "label_studio" in cfg.model_fields_set
    return cfg.resolve(cfg.labeling.folder).is_dir()


def _sync(project: "Project", what: str) -> str:
    """The connector's ``sync_labels``; a failure says the local change is done and how to finish."""
    from ..connectors import make_connector
    from ..exceptions import ConnectorError

    conn = make_connector(project)
    try:
        conn.sync_labels()
    except ConnectorError as e:
        raise ConnectorError(f"{what} in the project, but the {conn.name} label set was not updated: {e} "
                             "(run `labelf labels sync` once that is fixed)") from None
    return f"{conn.name} label set updated"


def _finish(project: "Project", change: "TaxonomyChange", *, sync: bool | None, zero_shot: bool,
            fmt: str) -> None:
    from ..loop.taxonomy import model_note, refresh_zero_shot

    out: dict[str, Any] = change.to_dict()
    info(change.summary())
    for note in change.notes:
        info(f"note: {note}")
    if zero_shot:
        done = refresh_zero_shot(project)
        if done is not None:
            model_id, version, _ = done
            info(f"zero-shot model {model_id} v{version} deployed for the new labels")
            out["zero_shot_model"] = {"id": model_id, "version": version}
    note = model_note(project)
    info(note)
    out["model"] = note
    if _wants_sync(project, sync):
        line = _sync(project, change.summary().split(":")[0])
        info(line)
        out["synced"] = True
    if fmt == "json":
        emit_json(out)


@app.command("list")
def list_(config: ConfigOpt = None, fmt: FormatOpt = "table") -> None:
    """The labels: description, labeled texts, old names that map to them, whether the active model knows them."""
    from ..loop.taxonomy import label_rows, recover

    check_format(fmt)
    with open_project(config) as project:
        line = recover(project)
        if line:
            info(f"note: {line}")
        rows = label_rows(project)
    if fmt == "json":
        emit_json(rows)
        return
    print_table(None, ["label", "labeled", "old names", "active model", "description"],
                [[r["label"] + (" (out of scope)" if r["out_of_scope"] else ""), r["labeled"],
                  ", ".join(r["aliases"]), "yes" if r["in_active_model"] else "no: retrain", r["description"]]
                 for r in rows])


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The new label's name.")],
    description: Annotated[str, typer.Option(help="What the label means (the zero-shot model reads it).")] = "",
    example: Annotated[list[str] | None, typer.Option(help="An example text (repeatable).")] = None,
    from_cluster: Annotated[list[int] | None, typer.Option(
        help="A cluster of the last `labelf discover` (repeatable): its description and texts fill in the label, "
             "and its texts are queued for labeling.")] = None,
    config: ConfigOpt = None,
    sync: SyncOpt = None,
    zero_shot: ZeroShotOpt = True,
    fmt: FormatOpt = "table",
) -> None:
    """Add a label. Deployed models keep their labels until `labelf train`.

    Examples:
      labelf labels add "Porting" --description "moving a number to or from another operator"
      labelf labels add "Outage" --from-cluster 3 --from-cluster 7   # clusters of the last `labelf discover`
    """
    from ..loop.taxonomy import add_label

    check_format(fmt)
    with open_project(config) as project:
        change = add_label(project, name, description=description, examples=example or [],
                           from_clusters=from_cluster or [])
        _finish(project, change, sync=sync, zero_shot=zero_shot, fmt=fmt)


@app.command("rename")
def rename(
    old: Annotated[str, typer.Argument(help="The label's current name.")],
    new: Annotated[str, typer.Argument(help="Its new name.")],
    config: ConfigOpt = None,
    sync: SyncOpt = None,
    zero_shot: ZeroShotOpt = True,
    fmt: FormatOpt = "table",
) -> None:
    """Rename a label in the config and in every annotation; the old name stays an alias (annotations pulled
    later from Label Studio or the labeling folder that still use it map to the new one).

    Example: labelf labels rename "Technical Issue" "Network Problem"
    """
    from ..loop.taxonomy import rename_label

    check_format(fmt)
    with open_project(config) as project:
        change = rename_label(project, old, new)
        _finish(project, change, sync=sync, zero_shot=zero_shot, fmt=fmt)


@app.command("merge")
def merge(
    labels: Annotated[list[str], typer.Argument(help="The labels to merge.")],
    into: Annotated[str, typer.Option("--into", help="The label they become (existing or new).")],
    description: Annotated[str | None, typer.Option(help="The merged label's description.")] = None,
    config: ConfigOpt = None,
    sync: SyncOpt = None,
    zero_shot: ZeroShotOpt = True,
    fmt: FormatOpt = "table",
) -> None:
    """Merge labels into one: annotations, examples and rules move to it; the merged names become its aliases.

    Example: labelf labels merge "Billing" "Refunds" --into "Billing"
    """
    from ..loop.taxonomy import merge_labels

    check_format(fmt)
    with open_project(config) as project:
        change = merge_labels(project, labels, into, description=description)
        _finish(project, change, sync=sync, zero_shot=zero_shot, fmt=fmt)


@app.command("sync")
def sync(config: ConfigOpt = None) -> None:
    """Give the labeling tool (Label Studio, or the labeling folder) the config's labels."""
    with open_project(config) as project:
        info(_sync(project, "labels unchanged"))

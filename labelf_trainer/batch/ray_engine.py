"""The Ray Data engine (``labelf predict ... --engine ray``, the ``ray`` extra): the same job on a Ray cluster.

Pipeline::

    ray.data.read_csv / read_parquet / read_text / read_binary_files      (the input's files, in path order)
      -> map_batches(normalize)          the local engine's row rules: skip empty, cut long, ids
      -> repartition(chunk_size, strict) blocks = the local engine's chunks (same rows, same order)
      -> map_batches(RayScorer, concurrency=workers)   one actor per worker loads the model version once
      -> write_parquet                   one part per chunk, merged in order into the output file

Because the actors see exactly the local engine's chunks and run the same :class:`~.scoring.Scorer`, the results are
row-for-row those of the local engine. The model version is shipped to the workers through Ray's object store (its
artefact folder's files and, for the ONNX runtimes, the exported encoder), written to a temporary folder by each
actor, so workers need no shared disk with the driver. The encoder named by the model (``minilm``, a Hugging Face id)
must load on the workers as it does here: a packaged encoder, or the Hugging Face cache.

Ray is started locally (``ray.init(num_cpus=os.cpu_count())``) unless ``--ray-address`` or ``RAY_ADDRESS`` names a
cluster. Actors ask for ``cpus_per_worker`` CPUs each (at most ``(cluster CPUs - 1) / workers``, so one CPU stays free
for the read and write tasks; fewer would deadlock the pipeline) and run that many encoder threads.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..exceptions import DataError
from .job import JobReport, PredictJob, prepare
from .output import merge_parts, output_format
from .runtime import onnx_file
from .scoring import OutputOptions

if TYPE_CHECKING:
    from ..loop.project import Project

__all__ = ["run_ray", "RayScorer", "model_payload"]

log = logging.getLogger("labelf.batch")
_PART = re.compile(r"part-(\d+)")


def model_payload(project: "Project", model_id: int, version: int, model: Any) -> dict[str, bytes]:
    """The files an actor needs to load the version: ``model/...`` (the artefact folder) and, when ``model`` (loaded
    here) runs on ONNX, ``cache/onnx/<the exported file>``."""
    folder = project.registry.get(model_id).version(version).path
    files = {f"model/{p.relative_to(folder).as_posix()}": p.read_bytes() for p in sorted(folder.rglob("*"))
             if p.is_file()}
    exported = onnx_file(model)
    if exported is not None:
        files[f"cache/onnx/{exported.name}"] = exported.read_bytes()
    return files


class RayScorer:
    """A Ray Data actor: loads the shipped model version once, then scores one chunk per call."""

    def __init__(self, payload: dict[str, bytes], spec: dict[str, Any]) -> None:
        from ..models import load_classifier
        from ..registry.bands import Bands
        from .runtime import apply_runtime
        from .scoring import Scorer

        threads = int(spec["threads"])
        if not isinstance(payload, dict):  # the object-store reference to the files
            import ray

            payload = ray.get(payload)
        self.dir = Path(tempfile.mkdtemp(prefix="labelf-model-"))
        for rel, data in payload.items():
            target = self.dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        model = load_classifier(self.dir / "model", expected_labels=spec["labels"])
        if "torch" in sys.modules:  # loaded by a torch model (never imported just for this)
            sys.modules["torch"].set_num_threads(threads)
        got = apply_runtime(model, spec["runtime"], self.dir / "cache", threads=threads)
        if got != spec["runtime"]:
            raise RuntimeError(f"runtime {spec['runtime']} is not available on this worker (got {got})")
        opts = spec["options"]
        options = OutputOptions(all_scores=opts["all_scores"], max_predictions=opts["max_predictions"],
                                label_filter=tuple(opts["label_filter"]) if opts["label_filter"] else None,
                                with_text=opts["with_text"])
        self.scorer = Scorer(model, model_id=spec["model_id"], version=spec["version"],
                             bands=Bands(**spec["bands"]), options=options)

    def __call__(self, batch: Any) -> Any:
        return self.scorer.score(batch.column("id").to_pylist(), batch.column("text").to_pylist())

    def __del__(self) -> None:
        shutil.rmtree(getattr(self, "dir", ""), ignore_errors=True)


def _normalize(batch: Any, kind: str, text_column: str, id_column: str | None, rel: dict[str, str]) -> Any:
    """Raw rows of one reader -> ``id``, ``text`` (the rules of :func:`labelf_trainer.data.sources.normalize_rows`);
    a function, so Ray runs it as short tasks beside the scoring actors."""
    import json

    import pyarrow as pa

    from ..data.documents import DOCUMENT_SUFFIXES, document_kind, extract_text
    from ..data.sources import ReadStats, normalize_rows

    ids: list[Any] | None = None
    if kind in ("csv", "parquet"):
        texts = batch.column(text_column).to_pylist()
        ids = batch.column(id_column).to_pylist() if id_column else None
    elif kind == "txt":
        texts = [t.rstrip("\r") for t in batch.column("text").to_pylist()]
    elif kind == "jsonl":
        rows = [json.loads(t) for t in batch.column("text").to_pylist() if t.strip()]
        texts = [r.get(text_column) for r in rows]
        ids = [r.get(id_column) for r in rows] if id_column else None
    else:  # documents: one text per file (the bytes come from the read task), its id the path below the input
        texts, ids = [], []
        for p, data in zip(batch.column("path").to_pylist(), batch.column("bytes").to_pylist()):
            try:
                doc_kind = document_kind(data) or DOCUMENT_SUFFIXES.get(Path(p).suffix.lower())
                texts.append(extract_text(data, name=p, kind=doc_kind).text)
            except DataError:
                texts.append("")  # skipped like an empty text (the local engine counts it as unreadable)
            ids.append(rel.get(p) or rel.get("/" + p.lstrip("/")) or Path(p).name)
    _, out_ids, out_texts = normalize_rows(texts, ids, ReadStats(), id_column=id_column or "id")
    return pa.table({"id": pa.array(out_ids, pa.string()), "text": pa.array(out_texts, pa.string())})


def _read(kind: str, files: list[Any], columns: Any) -> Any:
    """A Ray dataset of ``id``, ``text`` over files of one reader kind, in path order."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import ray.data

    paths = [str(f.path.resolve()) for f in files]
    rel = {str(f.path.resolve()): f.rel for f in files}
    if kind in ("csv", "tsv"):
        names = [c for c in (columns.text, columns.id) if c]
        ds = ray.data.read_csv(
            paths, file_extensions=None,
            parse_options=pcsv.ParseOptions(delimiter="\t" if kind == "tsv" else ",", newlines_in_values=True),
            convert_options=pcsv.ConvertOptions(include_columns=names, column_types={c: pa.string() for c in names},
                                                strings_can_be_null=False, quoted_strings_can_be_null=False))
        kind = "csv"
    elif kind == "parquet":
        ds = ray.data.read_parquet(paths, file_extensions=None).select_columns([c for c in (columns.text, columns.id)
                                                                                if c])
    elif kind in ("jsonl", "txt"):
        ds = ray.data.read_text(paths, drop_empty_lines=False, file_extensions=None)
    else:
        ds = ray.data.read_binary_files(paths, include_paths=True, file_extensions=None)
    return ds.map_batches(_normalize, fn_args=(kind, columns.text, columns.id, rel), batch_format="pyarrow",
                          batch_size=4096)


class _Names:
    """Part files named by write task: ``part-<task index>-<write id>.parquet`` (tasks run in input order)."""

    def __new__(cls) -> Any:
        from ray.data.datasource import FilenameProvider

        class Names(FilenameProvider):
            def get_filename_for_task(self, write_uuid: str, task_index: int) -> str:
                return f"part-{task_index:06d}-{write_uuid}.parquet"

        return Names()


def _init_ray(address: str | None) -> bool:
    """Connect to ``address`` / ``RAY_ADDRESS``, or start a local Ray; True if this call started it."""
    import ray

    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    kw: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False, "include_dashboard": False}
    if address:
        ray.init(address=address, **kw)
    else:
        ray.init(num_cpus=os.cpu_count() or 2, **kw)
    return True


def run_ray(project: "Project", job: PredictJob, *, address: str | None = None, workers: int = 2,
            cpus_per_worker: float = 1.0) -> JobReport:
    """Run ``job`` on Ray (see the module docstring); results are those :func:`~.local.run_local` writes."""
    import ray
    import ray.data
    import ray.exceptions

    from ..data.sources import InputSet

    if not isinstance(job.source, InputSet):
        raise DataError("--engine ray reads files, folders and globs (--input), not --dataset")
    if workers < 1:
        raise DataError(f"--workers must be at least 1, got {workers}")
    output_format(job.output)
    t0 = time.perf_counter()
    prep = prepare(project, job)
    version = prep.version.version
    started = _init_ray(address)
    quiet = [logging.getLogger(name) for name in ("ray", "ray.data")]
    levels = [lg.level for lg in quiet]
    for lg in quiet:
        lg.setLevel(logging.ERROR)  # deprecation and start-up notices would break the one-line error contract
    try:
        total_cpus = float(ray.cluster_resources().get("CPU", 1))
        per_worker = min(cpus_per_worker, max(0.1, (total_cpus - 1) / workers))
        threads = max(1, int(per_worker))
        spec = {"model_id": job.model_id, "version": version, "labels": prep.record.labels,
                "runtime": prep.runtime.runtime, "threads": threads, "options": job.options.to_dict(),
                "bands": {"auto": prep.scorer.bands.auto, "review": prep.scorer.bands.review,
                          "source": prep.scorer.bands.source}}
        payload = ray.put(model_payload(project, job.model_id, version, prep.model))
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True
        ctx.enable_progress_bars = job.progress
        parts_dir = job.output.parent / f".{job.output.name}.ray-parts"
        shutil.rmtree(parts_dir, ignore_errors=True)
        t_work = time.perf_counter()
        parts: list[Path] = []
        for r, (kind, files) in enumerate(job.source.runs()):  # one pipeline per run of files of one kind
            ds = _read(kind, files, job.source.columns)
            ds = ds.repartition(target_num_rows_per_block=job.chunk_size, strict=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # max_restarts as a "remote arg"
                ds = ds.map_batches(RayScorer, fn_constructor_args=(payload, spec), batch_size=job.chunk_size,
                                    batch_format="pyarrow", compute=ray.data.ActorPoolStrategy(size=workers),
                                    num_cpus=per_worker, max_restarts=0)  # no restarts: no "args in store" notice
            folder = parts_dir / f"run-{r:05d}"
            try:
                ds.write_parquet(str(folder.resolve()), filename_provider=_Names())
            except ray.exceptions.RayError as e:
                cause = getattr(e, "cause", None)
                if isinstance(cause, DataError):
                    raise cause from None
                raise DataError(f"the Ray job failed: {cause or str(e).splitlines()[0]}") from None
            parts += sorted((p for p in folder.glob("part-*") if p.suffix == ".parquet"),
                            key=lambda p: (int(_PART.match(p.name).group(1)), p.name))  # type: ignore[union-attr]
        work = time.perf_counter() - t_work
        if not parts:
            raise DataError(f"{job.source.describe()}: no non-empty texts to classify")
        rows = merge_parts(parts, job.output, prep.scorer.schema())
        shutil.rmtree(parts_dir, ignore_errors=True)
    finally:
        for lg, level in zip(quiet, levels):
            lg.setLevel(level)
        if started:
            ray.shutdown()
    report = JobReport(job.output, rows, job.model_id, version, prep.runtime, f"ray ({workers} workers)",
                       time.perf_counter() - t0, scored=rows, chunks=len(parts))
    report.elapsed_s = work
    return report

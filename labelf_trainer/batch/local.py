"""The local engine: stream the input in chunks through one process, one Parquet part per chunk, resumable.

Memory holds one chunk of texts and its results at a time (plus the model), whatever the input's size. Each chunk is
embedded longest text first (the :class:`~labelf_trainer.embeddings.Embedder` sorts it), so batches waste little time
on padding.

Usage::

    job = PredictJob(InputSet.open("calls/"), Path("out.parquet"), model_id=1)
    report = run_local(project, job)
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..exceptions import DataError
from .job import JobReport, JobState, PredictJob, prepare, rate_progress
from .output import merge_parts, output_format, write_part
from .runtime import RuntimeChoice

if TYPE_CHECKING:
    from ..loop.project import Project

__all__ = ["run_local"]


def run_local(project: "Project", job: PredictJob) -> JobReport:
    """Run ``job`` here; a second call after an interruption continues from the last finished chunk."""
    from ..data.sources import ReadStats

    output_format(job.output)
    t0 = time.perf_counter()
    version = project.registry.get(job.model_id).version(job.version).version
    state = JobState(job.output, job.key(version))
    resumed = state.open()
    finished = False
    try:
        earlier = RuntimeChoice.from_dict(state.manifest["runtime"]) if resumed else None
        prep = prepare(project, job, runtime=earlier)
        state.save(model_id=job.model_id, version=version, runtime=prep.runtime.to_dict(),
                   chunk_size=job.chunk_size, source=job.source.describe(), output=str(job.output))
        stats = ReadStats()
        total = job.source.count_rows() if job.progress else None
        n_chunks = n_resumed = n_texts = n_scored = 0
        t_work = time.perf_counter()
        with rate_progress(total, "Classifying", enabled=job.progress) as bar:
            for chunk in job.source.chunks(job.chunk_size, stats):
                n_chunks += 1
                n_texts += len(chunk)
                part = state.part(chunk.index)
                if part.is_file():
                    n_resumed += 1
                    bar.skip(chunk.rows_read)
                    continue
                write_part(prep.scorer.score(chunk.ids, chunk.texts), part)
                n_scored += len(chunk)
                bar.done(chunk.rows_read)
        if n_texts == 0:
            raise DataError(f"{job.source.describe()}: no non-empty texts to classify")
        rows = merge_parts([state.part(i) for i in range(n_chunks)], job.output, prep.scorer.schema())
        finished = True
    finally:
        state.close(remove=finished)
    elapsed = time.perf_counter() - t0
    report = JobReport(job.output, rows, job.model_id, version, prep.runtime, "local", elapsed, scored=n_scored,
                       chunks=n_chunks, resumed_chunks=n_resumed, notes=stats.notes())
    report.elapsed_s = elapsed if n_scored == 0 else time.perf_counter() - t_work
    return report

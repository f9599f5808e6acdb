"""What both engines share: the job, the model version and runtime it runs with, its resumable state, its progress bar
and its report.

Resume
    Results go to ``.<output name>.parts/`` beside the output: ``manifest.json`` (the job's key: the input's
    fingerprint, the model version, the runtime asked for and the output options; and the runtime chosen) and one
    ``part-NNNNNN.parquet`` per finished chunk, each written to a temporary name and renamed. A second run of the same
    command (after Ctrl-C or a kill) skips the chunks whose part exists; a run whose key differs (the input, the
    model version or an option changed) starts again. At the end the parts are merged into the output (through a
    temporary name) and the folder is removed. A lock file keeps two runs from writing the same output at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..exceptions import DataError
from .runtime import SAMPLE, TOLERANCE, RuntimeChoice, apply_runtime, choose_runtime
from .scoring import OutputOptions, Scorer

if TYPE_CHECKING:
    from ..data.sources import TextSource
    from ..loop.project import Project
    from ..registry.records import ModelRecord, VersionRecord

__all__ = ["PredictJob", "JobReport", "JobState", "Prepared", "prepare", "rate_progress", "MANIFEST"]

MANIFEST = "manifest.json"
DEFAULT_CHUNK = 2048


@dataclass
class PredictJob:
    """A batch classification: ``source`` -> ``output`` with model ``model_id`` (``version`` None: the deployed one)."""

    source: "TextSource"
    output: Path
    model_id: int
    version: int | None = None
    runtime: str = "auto"
    chunk_size: int = DEFAULT_CHUNK
    options: OutputOptions = field(default_factory=OutputOptions)
    tolerance: float = TOLERANCE
    progress: bool = True

    def key(self, version: int) -> str:
        """Identifies the job's results: equal keys give equal output files."""
        blob = [self.source.fingerprint(), self.model_id, version, self.runtime, self.tolerance, self.chunk_size,
                self.options.to_dict()]
        return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()[:32]


@dataclass
class JobReport:
    """What a finished job did (``labelf predict`` prints :meth:`summary`; the benchmark stores :meth:`to_dict`)."""

    output: Path
    rows: int
    model_id: int
    version: int
    runtime: RuntimeChoice
    engine: str
    elapsed_s: float
    scored: int = 0
    chunks: int = 0
    resumed_chunks: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def texts_per_s(self) -> float:
        return self.scored / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def summary(self) -> str:
        resumed = f"; {self.resumed_chunks} of {self.chunks} chunks were done before" if self.resumed_chunks else ""
        tail = "; ".join([f"runtime {self.runtime.runtime} ({self.runtime.reason})", *self.notes])
        return (f"wrote {self.rows:,} predictions to {self.output} (model {self.model_id} v{self.version}, "
                f"{self.engine} engine, {self.texts_per_s:,.0f} texts/s{resumed}); {tail}")

    def to_dict(self) -> dict[str, Any]:
        return {"output": str(self.output), "rows": self.rows, "model_id": self.model_id, "version": self.version,
                "runtime": self.runtime.to_dict(), "engine": self.engine, "elapsed_s": round(self.elapsed_s, 2),
                "scored": self.scored, "texts_per_s": round(self.texts_per_s, 1), "chunks": self.chunks,
                "resumed_chunks": self.resumed_chunks, "notes": self.notes}


@dataclass
class Prepared:
    """The model version a job runs, loaded, on its runtime, with its bands and scorer."""

    record: "ModelRecord"
    version: "VersionRecord"
    model: Any
    runtime: RuntimeChoice
    scorer: Scorer


def prepare(project: "Project", job: PredictJob, *, runtime: RuntimeChoice | None = None,
            threads: int | None = None) -> Prepared:
    """Load the job's model version and put it on its runtime: ``runtime`` (a resumed job's), the one asked for, or
    the one :func:`~.runtime.choose_runtime` picks on the input's first texts."""
    from ..data.sources import ReadStats
    from ..predict import check_label_filter

    rec = project.registry.get(job.model_id)
    ver = rec.version(job.version)
    if job.options.label_filter:
        check_label_filter(list(job.options.label_filter), rec.labels)
    if job.options.max_predictions is not None and job.options.max_predictions < 1:
        raise DataError("--max-predictions must be at least 1")
    model = project.registry.load(rec.id, ver.version, cache=False)
    cache = project.ws.cache_dir
    if runtime is not None:
        got = apply_runtime(model, runtime.runtime, cache, threads=threads)
        if got != runtime.runtime:
            raise DataError(f"the interrupted job ran on {runtime.runtime}, which is not available now; delete "
                            f"{JobState.folder(job.output)} to start again")
        choice = runtime
    elif job.runtime != "auto":
        got = apply_runtime(model, job.runtime, cache, threads=threads)
        reason = "asked for" if got == job.runtime else \
            f"{job.runtime} asked for, but this model embeds with its own encoder"
        choice = RuntimeChoice(got, reason)
    else:
        first = next(iter(job.source.chunks(SAMPLE, ReadStats())), None)
        total = job.source.count_rows()
        choice = choose_runtime(model, first.texts if first else [], cache, tolerance=job.tolerance, total=total,
                                threads=threads)
    bands = project.registry.bands(rec.id, ver.version, project.config.thresholds)
    scorer = Scorer(model, model_id=rec.id, version=ver.version, bands=bands, options=job.options)
    return Prepared(rec, ver, model, choice, scorer)


class JobState:
    """The resumable state of a job writing ``output`` (see the module docstring)."""

    def __init__(self, output: Path, key: str) -> None:
        self.output = Path(output)
        self.key = key
        self.dir = self.folder(output)
        self._lock_fd: int | None = None
        self.manifest: dict[str, Any] = {}

    @staticmethod
    def folder(output: Path) -> Path:
        output = Path(output)
        return output.parent / f".{output.name}.parts"

    def open(self) -> bool:
        """Lock the state folder; True if it holds an earlier run of the same job (resume), else start fresh."""
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DataError(f"another job is writing {self.output} right now (lock {self.dir / 'lock'})") from None
        self._lock_fd = fd
        try:
            old = json.loads((self.dir / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = {}
        if old.get("key") == self.key:
            self.manifest = old
            return True
        for p in self.dir.iterdir():
            if p.name != "lock":
                p.unlink() if p.is_file() else shutil.rmtree(p, ignore_errors=True)
        return False

    def save(self, **values: Any) -> None:
        from ..io_utils import atomic_writer

        self.manifest = {**self.manifest, "key": self.key, **values}
        with atomic_writer(self.dir / MANIFEST) as fh:
            json.dump(self.manifest, fh, indent=1)

    def part(self, index: int) -> Path:
        return self.dir / f"part-{index:06d}.parquet"

    def close(self, *, remove: bool) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None
        if remove:
            shutil.rmtree(self.dir, ignore_errors=True)


class _Bar:
    def __init__(self, advance: Callable[[int], None], restart: Callable[[], None]) -> None:
        self.advance = advance
        self._restart = restart
        self._skipping = False

    def skip(self, n: int) -> None:
        """Rows of a chunk finished by an earlier run: counted, but not in the speed."""
        self._skipping = True
        self.advance(n)

    def done(self, n: int) -> None:
        if self._skipping:
            self._restart()
            self._skipping = False
        self.advance(n)


@contextmanager
def rate_progress(total: int | None, description: str, enabled: bool = True) -> Iterator[_Bar]:
    """A progress bar on stderr with texts/s and the time left; ``bar.skip(n)`` for resumed rows."""
    if not enabled:
        yield _Bar(lambda n: None, lambda: None)
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    from ..progress import stderr_console

    class Rate(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f} texts/s" if speed else "… texts/s", style="progress.data.speed")

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), Rate(), TimeElapsedColumn(),
                  TextColumn("ETA"), TimeRemainingColumn(), console=stderr_console, transient=True) as prog:
        task = prog.add_task(description, total=total)

        def restart() -> None:
            prog.reset(task, completed=prog.tasks[0].completed, total=total)

        yield _Bar(lambda n: prog.advance(task, n), restart)

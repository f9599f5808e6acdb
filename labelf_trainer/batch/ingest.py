"""``labelf import``: stream texts into the workspace's pool in chunks (memory flat in the input size), optionally
embedding them into the embedding cache as they arrive.

Each chunk is one transaction; items whose id is already in the pool are skipped, and texts already in the embedding
cache are not embedded again, so after Ctrl-C or a kill the same command continues where it stopped (re-reading the
input, but storing and embedding only what is missing).

``--embed`` fills the cache that ``suggest`` and ``train`` read, the way they read it: through the project's
``long_texts`` policy (a long text's windows, and for multi-label projects its turns, each cached under its own
key). ``runtime="auto"`` embeds a mean-pooled sentence-transformers encoder with its ONNX fp32 export (the
encoder's own vectors up to float rounding, ~2x torch's speed; ``benchmarks/batch.py`` measures both), any other
encoder with torch; int8 is never used for the cache (its vectors move answers). ``embedded`` counts the texts and
windows encoded.

Usage::

    report = import_stream(project, InputSet.open("calls/"), embed=True)
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..types import Item
from .job import rate_progress

if TYPE_CHECKING:
    from ..data.sources import TextSource
    from ..loop.project import Project

__all__ = ["IngestReport", "import_stream", "cache_encoder", "IMPORT_CHUNK", "IMPORT_RUNTIMES"]

log = logging.getLogger("labelf.batch")

IMPORT_CHUNK = 5000


@dataclass
class IngestReport:
    source: str
    texts: int = 0
    added: int = 0
    known: int = 0
    embedded: int = 0
    runtime: str = ""
    elapsed_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        extra = "; ".join(self.notes)
        emb = f", {self.embedded:,} embedded ({self.runtime})" if self.embedded else ""
        return (f"imported {self.source}: {self.added:,} new, {self.known:,} already in the pool{emb}"
                + (f" ({extra})" if extra else ""))


IMPORT_RUNTIMES = ("auto", "torch", "onnx")


def cache_encoder(project: "Project", runtime: str = "auto") -> tuple[Any, str]:
    """The encoder that fills the project's embedding cache, and its runtime (``onnx`` or ``torch``)."""
    from ..embeddings.backends.sentence_transformers import SentenceTransformerEncoder
    from ..embeddings.resolve import load_encoder
    from ..exceptions import DataError, EncoderError
    from .runtime import onnx_encoder

    if runtime not in IMPORT_RUNTIMES:
        raise DataError(f"--runtime must be one of {', '.join(IMPORT_RUNTIMES)}, not {runtime!r}")
    encoder = load_encoder(project.config.encoder)
    if runtime != "torch" and isinstance(encoder, SentenceTransformerEncoder):
        try:
            return onnx_encoder(encoder, project.ws.cache_dir, False, None), "onnx"
        except EncoderError as e:
            if runtime == "onnx":
                raise
            log.warning("%s; embedding with torch", e)
    elif runtime == "onnx":
        raise DataError(f"--runtime onnx: encoder {project.config.encoder!r} has no ONNX export; use auto or torch")
    return encoder, "torch"


def import_stream(project: "Project", source: "TextSource", *, chunk_size: int = IMPORT_CHUNK, embed: bool = False,
                  runtime: str = "auto", progress: bool = True) -> IngestReport:
    """Add ``source``'s texts to the pool (known ids skipped); with ``embed``, embed new texts into the cache (on
    ``runtime``, see the module docstring)."""
    from ..data.sources import ReadStats

    t0 = time.perf_counter()
    stats = ReadStats()
    report = IngestReport(source.describe())
    embedder = encoder = None
    if embed:
        from ..embeddings.embedder import Embedder
        from ..embeddings.langid import pool_languages
        from ..embeddings.long_texts import LongTextEmbedder
        from ..embeddings.windows import LongTextPolicy

        cfg = project.config
        encoder, used = cache_encoder(project, runtime)
        report.runtime = used
        embedder = LongTextEmbedder(Embedder(encoder, project.ws.cache_dir, progress=False),  # as build_pool reads
                                    LongTextPolicy.of(cfg.long_texts), turns=cfg.multi_label)
    total = source.count_rows() if progress else None
    with rate_progress(total, "Importing", enabled=progress) as bar:
        for chunk in source.chunks(chunk_size, stats):
            gold = chunk.gold or [None] * len(chunk)
            items = [Item(id=i, text=t, source=s, gold=g) for i, t, s, g in zip(chunk.ids, chunk.texts,
                                                                                  chunk.sources, gold)]
            added, known = project.ws.items.add(items)
            report.texts += len(items)
            report.added += added
            report.known += known
            if embedder is not None and encoder is not None and chunk.texts:
                before = encoder.texts_encoded
                embedder.embed(chunk.texts)
                report.embedded += encoder.texts_encoded - before
                pool_languages(chunk.texts, project.ws.cache_dir)  # what suggest reads of each text, ready too
            bar.done(chunk.rows_read)
    report.notes = stats.notes()
    report.elapsed_s = time.perf_counter() - t0
    return report

"""Texts streamed in chunks from a file, a folder, a glob or a Hugging Face dataset, with memory flat in the input size.

Inputs
    ``InputSet.open("calls.csv")``, ``InputSet.open("exports/")`` (every CSV, TSV, JSONL, Parquet, TXT, PDF and DOCX
    file below it; hidden files and other extensions are skipped) or ``InputSet.open("exports/2026-*.jsonl")``. Files
    are read in the order of their paths. Row files are read with pyarrow's streaming readers (CSV, Parquet) or line
    by line (JSONL, TXT); a PDF or DOCX file is one text (:mod:`.documents`: at most 20 pages, the first 20 read of a
    longer one), whose id is its path below the folder (or glob) given.
    ``DatasetSource`` reads a Hugging Face dataset: a folder written by ``Dataset.save_to_disk`` (memory-mapped Arrow)
    or a Hub id (streamed; needs access to the Hub or its local cache).

Rows
    The same rules as :func:`labelf_trainer.data.read_items`: empty texts are skipped and counted, texts longer than
    :data:`~labelf_trainer.config.MAX_TEXT_CHARS` are cut and counted, ids come from the id column or from the text
    (:func:`~labelf_trainer.types.stable_id`), a file that is not UTF-8 is an error naming the byte offset. Ids are not
    checked for duplicates across a stream (that would need memory growing with the input).

Chunks
    :meth:`TextSource.chunks` yields consecutive chunks of ``size`` texts (the last may be shorter), numbered from 0;
    the same input always gives the same chunks, so a job can skip the chunks it finished before an interruption.

Usage::

    source = InputSet.open("calls/", text_column="body", id_column="call_id")
    stats = ReadStats()
    for chunk in source.chunks(2048, stats):
        ... chunk.ids, chunk.texts
"""

from __future__ import annotations

import glob
import hashlib
import json
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..config import MAX_TEXT_CHARS
from ..exceptions import DataError
from ..types import stable_id
from .documents import DOCUMENT_SUFFIXES, read_document

__all__ = ["InputFile", "InputSet", "DatasetSource", "TextSource", "ReadStats", "Chunk", "ROW_SUFFIXES",
           "SUFFIXES", "normalize_rows", "open_source", "first_bad_utf8", "reader_kind"]

ROW_SUFFIXES = {".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
                ".parquet": "parquet", ".pq": "parquet", ".txt": "txt"}
SUFFIXES = {**ROW_SUFFIXES, **DOCUMENT_SUFFIXES}
_FORMATS = ("csv", "jsonl", "parquet", "txt", "pdf", "docx")
_READ_ROWS = 8192  # rows per batch read from a row file (independent of the chunk size)
_CSV_BLOCK = 1 << 20
"""Bytes per block of pyarrow's streaming CSV reader. It reads ahead a bounded number of blocks (measured: ~40 MB
with 1 MB blocks, ~110 MB with 4 MB blocks on a 110 MB file), so the block size bounds the reader's memory."""
_GLOB_CHARS = set("*?[")


@dataclass
class ReadStats:
    """What a stream read and what it skipped or changed (accumulated over a whole pass)."""

    rows: int = 0
    empty_skipped: int = 0
    truncated: int = 0
    documents_cut: int = 0
    documents_failed: int = 0
    first_failure: str | None = None

    def notes(self) -> list[str]:
        """Human-readable lines for what was skipped or changed (empty when nothing was)."""
        out = []
        if self.empty_skipped:
            out.append(f"{self.empty_skipped:,} empty texts skipped")
        if self.truncated:
            out.append(f"{self.truncated:,} texts cut to {MAX_TEXT_CHARS:,} characters")
        if self.documents_cut:
            out.append(f"{self.documents_cut:,} documents over 20 pages: their first 20 pages read")
        if self.documents_failed:
            out.append(f"{self.documents_failed:,} documents could not be read and were skipped "
                       f"(first: {self.first_failure})")
        return out


@dataclass
class Chunk:
    """Consecutive texts of a stream: chunk ``index`` holds texts ``index * size`` to ``index * size + len - 1``."""

    index: int
    ids: list[str]
    texts: list[str]
    sources: list[str]
    gold: list[tuple[str, ...] | None] | None = None
    rows_read: int = 0
    """Input rows consumed for this chunk (empty rows included): what a progress bar advances by."""

    def __len__(self) -> int:
        return len(self.texts)


class TextSource(Protocol):
    """Something :func:`labelf_trainer.batch` jobs and ``labelf import`` read texts from."""

    def describe(self) -> str: ...

    def fingerprint(self) -> str: ...

    def count_rows(self) -> int | None: ...

    def chunks(self, size: int, stats: ReadStats) -> Iterator[Chunk]: ...


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value if isinstance(value, str) else str(value)


def normalize_rows(texts: Sequence[object], ids: Sequence[object] | None, stats: ReadStats, *, where: str = "",
                   first_row: int = 1, id_column: str | None = None) -> tuple[list[int], list[str], list[str]]:
    """The import rules on one batch of rows: ``(kept row positions, ids, texts)``; empty texts are skipped and
    counted, long ones cut and counted (ids from the text are computed before the cut, as :func:`read_items` does)."""
    keep, out_ids, out_texts = [], [], []
    for j, raw in enumerate(texts):
        text = _text(raw)
        if not text.strip():
            stats.empty_skipped += 1
            continue
        if ids is not None:
            item_id = _text(ids[j]).strip()
            if not item_id:
                raise DataError(f"{where}: row {first_row + j}: empty id in column {id_column!r}")
        else:
            item_id = stable_id(text)
        if len(text) > MAX_TEXT_CHARS:
            text = text[:MAX_TEXT_CHARS]
            stats.truncated += 1
        keep.append(j)
        out_ids.append(item_id)
        out_texts.append(text)
    return keep, out_ids, out_texts


def first_bad_utf8(path: Path) -> int | None:
    """Byte offset of the first invalid UTF-8 sequence in ``path`` (read in blocks), or None."""
    import codecs

    dec = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with path.open("rb") as fh:
        while True:
            block = fh.read(1 << 20)
            pending = len(dec.getstate()[0])  # bytes of a sequence split across blocks, decoded with this one
            try:
                dec.decode(block, final=not block)
            except UnicodeDecodeError as e:
                return offset - pending + e.start
            if not block:
                return None
            offset += len(block)


def _not_utf8(path: Path, offset: int | None) -> DataError:
    where = f" (invalid byte at offset {offset})" if offset is not None else ""
    return DataError(f"{path}: not UTF-8 text{where}; re-save it as UTF-8")


@dataclass(frozen=True)
class InputFile:
    path: Path
    fmt: str
    rel: str
    """The path below the folder or glob given (a document's id; the ``source`` of imported items)."""


# -- one file: batches of raw rows -----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Columns:
    text: str
    id: str | None
    label: str | None

    @property
    def names(self) -> list[str]:
        return [c for c in dict.fromkeys((self.text, self.id, self.label)) if c is not None]


def _missing(path: Path, cols: _Columns, have: Sequence[str]) -> None:
    from .files import shown_columns

    for role, col in (("text", cols.text), ("id", cols.id), ("label", cols.label)):
        if col is not None and col not in have:
            raise DataError(f"{path}: no {role} column {col!r}; columns are: {shown_columns(list(have))}")


RawBatch = tuple[list[Any], list[Any] | None, list[Any] | None, int]  # texts, ids, labels, first row number


def _csv_batches(path: Path, cols: _Columns) -> Iterator[RawBatch]:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    parse = pcsv.ParseOptions(delimiter="\t" if path.suffix.lower() == ".tsv" else ",", newlines_in_values=True)
    read = pcsv.ReadOptions(block_size=_CSV_BLOCK)
    try:
        header = pcsv.open_csv(path, read_options=read, parse_options=parse,
                               convert_options=pcsv.ConvertOptions(column_types={}, strings_can_be_null=False))
        names = header.schema.names
        header.close()
    except pa.ArrowInvalid as e:
        if "UTF8" in str(e) or "utf8" in str(e).lower():
            raise _not_utf8(path, first_bad_utf8(path)) from None
        if path.stat().st_size == 0 or "Empty CSV" in str(e):
            return
        raise DataError(f"{path}: cannot read as csv: {str(e).splitlines()[0]}") from None
    _missing(path, cols, names)
    conv = pcsv.ConvertOptions(include_columns=cols.names, column_types={c: pa.string() for c in cols.names},
                               strings_can_be_null=False, quoted_strings_can_be_null=False)
    row = 2
    try:
        reader = pcsv.open_csv(path, read_options=read, parse_options=parse, convert_options=conv)
        for batch in reader:
            n = batch.num_rows
            col = batch.schema.names
            texts = batch.column(col.index(cols.text)).to_pylist()
            ids = batch.column(col.index(cols.id)).to_pylist() if cols.id else None
            labels = batch.column(col.index(cols.label)).to_pylist() if cols.label else None
            yield texts, ids, labels, row
            row += n
    except pa.ArrowInvalid as e:
        if "UTF8" in str(e) or "utf8" in str(e).lower():
            raise _not_utf8(path, first_bad_utf8(path)) from None
        raise DataError(f"{path}: cannot read as csv near row {row}: {str(e).splitlines()[0]}") from None


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, line without its newline), decoding each line on its own so a bad byte's offset is exact."""
    offset = 0
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise _not_utf8(path, offset + e.start) from None
            offset += len(raw)
            yield n, line.rstrip("\r\n")


def jsonl_row(path: Path, n: int, line: str) -> dict[str, Any]:
    """Line ``n`` of a JSONL file as an object, or a DataError naming the file and the line."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: line {n}: invalid JSON ({e.msg})") from None
    if not isinstance(row, dict):
        raise DataError(f"{path}: line {n}: expected a JSON object")
    return row


def _jsonl_batches(path: Path, cols: _Columns) -> Iterator[RawBatch]:
    texts: list[Any] = []
    ids: list[Any] = []
    labels: list[Any] = []
    checked = False
    first = 1
    for n, line in _lines(path):
        if not line.strip():
            continue
        row = jsonl_row(path, n, line)
        if not checked:
            _missing(path, cols, list(row))
            checked = True
        if not texts:
            first = n
        texts.append(row.get(cols.text))
        if cols.id:
            ids.append(row.get(cols.id))
        if cols.label:
            labels.append(row.get(cols.label))
        if len(texts) >= _READ_ROWS:
            yield texts, ids if cols.id else None, labels if cols.label else None, first
            texts, ids, labels = [], [], []
    if texts:
        yield texts, ids if cols.id else None, labels if cols.label else None, first


def _txt_batches(path: Path, cols: _Columns) -> Iterator[RawBatch]:
    texts: list[Any] = []
    first = 1
    for n, line in _lines(path):
        if not texts:
            first = n
        texts.append(line)
        if len(texts) >= _READ_ROWS:
            yield texts, None, None, first
            texts = []
    if texts:
        yield texts, None, None, first


def _parquet_batches(path: Path, cols: _Columns) -> Iterator[RawBatch]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as e:
        raise DataError(f"{path}: cannot read as parquet: {str(e).splitlines()[0]}") from None
    _missing(path, cols, pf.schema_arrow.names)
    row = 1
    for batch in pf.iter_batches(batch_size=_READ_ROWS, columns=cols.names):
        names = batch.schema.names
        texts = batch.column(names.index(cols.text)).to_pylist()
        ids = batch.column(names.index(cols.id)).to_pylist() if cols.id else None
        labels = batch.column(names.index(cols.label)).to_pylist() if cols.label else None
        yield texts, ids, labels, row
        row += batch.num_rows


_ROW_READERS = {"csv": _csv_batches, "jsonl": _jsonl_batches, "txt": _txt_batches, "parquet": _parquet_batches}


# -- chunking ----------------------------------------------------------------------------------------------------
class _Chunker:
    """Collects normalized rows and emits chunks of exactly ``size`` texts (the last may be shorter)."""

    def __init__(self, size: int, with_gold: bool) -> None:
        if size < 1:
            raise DataError(f"chunk size must be at least 1, got {size}")
        self.size = size
        self.with_gold = with_gold
        self.ids: list[str] = []
        self.texts: list[str] = []
        self.sources: list[str] = []
        self.gold: list[tuple[str, ...] | None] = []
        self.index = 0
        self.rows = 0  # rows consumed since the last emitted chunk

    def add(self, ids: list[str], texts: list[str], source: str | list[str], gold: list | None, rows: int
            ) -> Iterator[Chunk]:
        self.ids += ids
        self.texts += texts
        self.sources += [source] * len(ids) if isinstance(source, str) else source
        if self.with_gold:
            self.gold += gold if gold is not None else [None] * len(ids)
        self.rows += rows
        while len(self.texts) >= self.size:
            yield self._emit(self.size)

    def _emit(self, n: int) -> Chunk:
        chunk = Chunk(self.index, self.ids[:n], self.texts[:n], self.sources[:n],
                      self.gold[:n] if self.with_gold else None, rows_read=self.rows)
        del self.ids[:n], self.texts[:n], self.sources[:n]
        if self.with_gold:
            del self.gold[:n]
        self.index += 1
        self.rows = 0
        return chunk

    def finish(self) -> Iterator[Chunk]:
        if self.texts:
            yield self._emit(len(self.texts))
        elif self.rows:
            yield Chunk(self.index, [], [], [], [] if self.with_gold else None, rows_read=self.rows)


def _gold(labels: list[Any] | None, keep: list[int]) -> list[tuple[str, ...] | None] | None:
    if labels is None:
        return None
    from .files import split_labels

    return [split_labels(labels[j]) or None for j in keep]


# -- files, folders, globs ---------------------------------------------------------------------------------------
def _expand(spec: str | Path, fmt: str) -> tuple[list[InputFile], str]:
    """The files of a file, folder or glob, in path order; and what was given (for messages)."""
    text = str(spec)
    path = Path(text).expanduser()

    def fmt_of(p: Path, strict: bool) -> str | None:
        if fmt != "auto" and p.suffix.lower() not in DOCUMENT_SUFFIXES:
            return fmt
        found = SUFFIXES.get(p.suffix.lower())
        if found is None and strict:
            raise DataError(f"{p}: cannot tell the format from the extension {p.suffix!r}; use .csv, .tsv, .jsonl, "
                            ".parquet, .txt, .pdf or .docx (or --format for row files)")
        return found

    if path.is_file():
        return [InputFile(path, fmt_of(path, True) or "", path.name)], text
    if path.is_dir():
        files = []
        for p in sorted(path.rglob("*"), key=lambda q: q.relative_to(path).as_posix()):
            rel = p.relative_to(path)
            if p.is_file() and not any(part.startswith(".") for part in rel.parts):
                f = fmt_of(p, False)
                if f is not None:
                    files.append(InputFile(p, f, rel.as_posix()))
        if not files:
            raise DataError(f"{text}: the folder has no CSV, TSV, JSONL, Parquet, TXT, PDF or DOCX files")
        return files, text
    if _GLOB_CHARS & set(text):
        parts = Path(text).expanduser().parts
        fixed = [p for p in parts[:next(i for i, p in enumerate(parts) if _GLOB_CHARS & set(p))]]
        root = Path(*fixed) if fixed else Path(".")
        matches = sorted(Path(m) for m in glob.glob(os.path.expanduser(text), recursive=True))
        files = []
        for p in matches:
            if p.is_file():
                try:
                    rel = p.relative_to(root).as_posix()
                except ValueError:
                    rel = p.name
                files.append(InputFile(p, fmt_of(p, True) or "", rel))
        if not files:
            raise DataError(f"{text}: no files match")
        return files, text
    raise DataError(f"{text}: no such file or folder")


def reader_kind(f: InputFile) -> str:
    """Files of one kind are read by one reader (the Ray engine's ``read_*``): csv, tsv, jsonl, txt, parquet, doc."""
    if f.fmt in ("pdf", "docx"):
        return "doc"
    return "tsv" if f.fmt == "csv" and f.path.suffix.lower() == ".tsv" else f.fmt


class InputSet:
    """The texts of a file, a folder or a glob (see the module docstring)."""

    def __init__(self, files: list[InputFile], given: str, *, text_column: str = "text", id_column: str | None = None,
                 label_column: str | None = None, fmt: str = "auto") -> None:
        self.files = files
        self.given = given
        self.columns = _Columns(text_column, id_column, label_column)
        self.fmt = fmt

    @classmethod
    def open(cls, spec: str | Path, *, fmt: str = "auto", text_column: str = "text", id_column: str | None = None,
             label_column: str | None = None) -> "InputSet":
        if fmt != "auto" and fmt not in _FORMATS:
            raise DataError(f"--format must be auto, csv, jsonl, parquet or txt, not {fmt!r}")
        files, given = _expand(spec, fmt)
        return cls(files, given, text_column=text_column, id_column=id_column, label_column=label_column, fmt=fmt)

    def describe(self) -> str:
        return self.given if len(self.files) == 1 else f"{self.given} ({len(self.files):,} files)"

    @property
    def documents_only(self) -> bool:
        return all(f.fmt in ("pdf", "docx") for f in self.files)

    def fingerprint(self) -> str:
        """Changes when a file is added, removed, resized or touched, or the columns read change."""
        h = hashlib.sha256()
        h.update(json.dumps([self.columns.text, self.columns.id, self.columns.label, self.fmt]).encode())
        for f in self.files:
            st = f.path.stat()
            h.update(json.dumps([f.rel, f.fmt, st.st_size, st.st_mtime_ns]).encode())
        return h.hexdigest()[:32]

    def count_rows(self) -> int | None:
        """Rows (or documents) in the input, for a progress bar; a quick pass over row files (a file that cannot be
        read is a :class:`DataError` here already)."""
        total = 0
        for f in self.files:
            if f.fmt in ("pdf", "docx"):
                total += 1
            elif f.fmt == "parquet":
                import pyarrow as pa
                import pyarrow.parquet as pq

                try:
                    total += pq.ParquetFile(f.path).metadata.num_rows
                except (pa.ArrowException, OSError) as e:
                    raise DataError(f"{f.path}: cannot read as parquet: {str(e).splitlines()[0]}") from None
            elif f.fmt == "csv":
                total += sum(len(b[0]) for b in _csv_batches(f.path, _Columns(self.columns.text, None, None)))
            else:
                n, last = 0, b"\n"
                with f.path.open("rb") as fh:
                    while block := fh.read(1 << 20):
                        n += block.count(b"\n")
                        last = block[-1:]
                total += n + (last != b"\n")
        return total

    def _file_rows(self, f: InputFile, stats: ReadStats) -> Iterator[tuple[list[str], list[str], list | None, int]]:
        """(ids, texts, gold or None, rows consumed) batches of one file, normalized."""
        if f.fmt in ("pdf", "docx"):
            try:
                doc = read_document(f.path)
            except DataError as e:
                if len(self.files) == 1:
                    raise
                stats.documents_failed += 1
                stats.first_failure = stats.first_failure or str(e)[:200]
                yield [], [], None, 1
                return
            stats.documents_cut += doc.cut
            keep, ids, texts = normalize_rows([doc.text], None, stats)
            yield ([f.rel] if keep else []), texts, ([None] if keep and self.columns.label else None), 1
            return
        for raw_texts, raw_ids, raw_labels, first in _ROW_READERS[f.fmt](f.path, self.columns):
            keep, ids, texts = normalize_rows(raw_texts, raw_ids, stats, where=str(f.path), first_row=first,
                                              id_column=self.columns.id)
            yield ids, texts, _gold(raw_labels, keep), len(raw_texts)

    def runs(self) -> list[tuple[str, list[InputFile]]]:
        """The files grouped into runs of one reader kind (csv, tsv, jsonl, txt, parquet, doc), in path order."""
        out: list[tuple[str, list[InputFile]]] = []
        for f in self.files:
            kind = reader_kind(f)
            if out and out[-1][0] == kind:
                out[-1][1].append(f)
            else:
                out.append((kind, [f]))
        return out

    def chunks(self, size: int, stats: ReadStats) -> Iterator[Chunk]:
        """Chunks of ``size`` texts; a chunk never spans two runs of files of different kinds (see :meth:`runs`), so
        the Ray engine, which reads each run with its own reader, gets the same chunks."""
        chunker = _Chunker(size, with_gold=self.columns.label is not None)
        kind = None
        for f in self.files:
            if kind is not None and reader_kind(f) != kind:
                yield from chunker.finish()
            kind = reader_kind(f)
            for ids, texts, gold, rows in self._file_rows(f, stats):
                stats.rows += rows
                yield from chunker.add(ids, texts, f.rel, gold, rows)
        yield from chunker.finish()


# -- Hugging Face datasets ---------------------------------------------------------------------------------------
def _is_saved_dataset(path: Path) -> bool:
    return path.is_dir() and any((path / n).is_file() for n in ("dataset_info.json", "dataset_dict.json", "state.json"))


class DatasetSource:
    """A Hugging Face dataset: a ``save_to_disk`` folder (memory-mapped) or a Hub id (streamed)."""

    def __init__(self, name: str, *, split: str | None = None, text_column: str = "text",
                 id_column: str | None = None, label_column: str | None = None) -> None:
        self.name = name
        self.split = split
        self.columns = _Columns(text_column, id_column, label_column)
        self.ds = self._load()
        have = list(self.ds.column_names or [])
        if have:
            _missing(Path(name), self.columns, have)

    def _load(self) -> Any:
        try:
            import datasets
        except ImportError:
            raise DataError("--dataset needs the datasets package: pip install datasets") from None
        datasets.logging.set_verbosity_error()
        datasets.disable_progress_bars()
        path = Path(self.name).expanduser()
        try:
            if _is_saved_dataset(path):
                ds = datasets.load_from_disk(str(path))
                if isinstance(ds, datasets.DatasetDict):
                    splits = list(ds)
                    split = self.split or (splits[0] if len(splits) == 1 else None)
                    if split not in ds:
                        raise DataError(f"{self.name}: choose a split with --split ({', '.join(splits)})")
                    self.split = split
                    ds = ds[split]
                elif self.split:
                    raise DataError(f"{self.name}: a single dataset has no splits; leave out --split")
                return ds
            return datasets.load_dataset(self.name, split=self.split or "train", streaming=True)
        except DataError:
            raise
        except Exception as e:  # noqa: BLE001 - datasets raises many types (missing, offline, bad split...)
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise DataError(f"dataset {self.name!r}: cannot load it ({msg[:300]})") from None

    def describe(self) -> str:
        return f"dataset {self.name}" + (f" [{self.split}]" if self.split else "")

    def fingerprint(self) -> str:
        own = getattr(self.ds, "_fingerprint", None)
        info = getattr(self.ds, "info", None)
        blob = [self.name, self.split, own, self.columns.names,
                getattr(info, "dataset_size", None), str(getattr(info, "version", ""))]
        return hashlib.sha256(json.dumps(blob, default=str).encode()).hexdigest()[:32]

    def count_rows(self) -> int | None:
        try:
            return len(self.ds)
        except TypeError:  # a streamed dataset: the Hub's split info, when it has one
            splits = getattr(getattr(self.ds, "info", None), "splits", None) or {}
            split = splits.get(self.split or "train") if hasattr(splits, "get") else None
            return getattr(split, "num_examples", None) or None

    def chunks(self, size: int, stats: ReadStats) -> Iterator[Chunk]:
        chunker = _Chunker(size, with_gold=self.columns.label is not None)
        ds = self.ds.select_columns(self.columns.names)
        row = 1
        source = Path(self.name).name or self.name
        for batch in ds.iter(batch_size=_READ_ROWS):
            texts = batch[self.columns.text]
            keep, ids, kept = normalize_rows(texts, batch[self.columns.id] if self.columns.id else None, stats,
                                             where=self.name, first_row=row, id_column=self.columns.id)
            gold = _gold(batch[self.columns.label], keep) if self.columns.label else None
            stats.rows += len(texts)
            row += len(texts)
            yield from chunker.add(ids, kept, source, gold, len(texts))
        yield from chunker.finish()


def open_source(input: str | Path | None = None, *, dataset: str | None = None, split: str | None = None,
                fmt: str = "auto", text_column: str = "text", id_column: str | None = None,
                label_column: str | None = None) -> InputSet | DatasetSource:
    """``--input PATH`` (a file, folder or glob) or ``--dataset FOLDER_OR_HUB_ID`` (exactly one)."""
    if (input is None) == (dataset is None):
        raise DataError("give exactly one of an input path (a file, folder or glob) and --dataset")
    if dataset is not None:
        return DatasetSource(dataset, split=split, text_column=text_column, id_column=id_column,
                             label_column=label_column)
    if split is not None:
        raise DataError("--split applies to --dataset only")
    return InputSet.open(input, fmt=fmt, text_column=text_column, id_column=id_column,  # type: ignore[arg-type]
                         label_column=label_column)

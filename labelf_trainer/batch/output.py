"""Writing results: one Parquet part per finished chunk (written to a temporary name, then renamed), merged in chunk
order into the output file at the end (again through a temporary name), so no reader ever sees half a file.

The output's format comes from its extension: ``.parquet`` (the columns of :mod:`.scoring`), ``.jsonl`` / ``.ndjson``
/ ``.json`` (one JSON object per line) or ``.csv`` / ``.tsv`` (lists as JSON in their cell).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..exceptions import DataError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["OUTPUT_FORMATS", "output_format", "write_part", "merge_parts", "read_rows"]

OUTPUT_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
                  ".csv": "csv", ".tsv": "csv"}


def output_format(path: Path) -> str:
    try:
        return OUTPUT_FORMATS[Path(path).suffix.lower()]
    except KeyError:
        raise DataError(f"--output {path}: use a .parquet, .jsonl or .csv file name") from None


def write_part(table: "pa.Table", path: Path) -> None:
    """Write one chunk's results to ``path`` atomically."""
    import pyarrow.parquet as pq

    from ..io_utils import atomic_writer

    with atomic_writer(path, "wb") as fh:
        pq.write_table(table, fh)


def _cell(v: Any) -> Any:
    return json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v


def merge_parts(parts: Sequence[Path], output: Path, schema: "pa.Schema") -> int:
    """Concatenate ``parts`` (in this order) into ``output`` atomically, one part in memory at a time; returns rows."""
    import pyarrow.parquet as pq

    from ..io_utils import atomic_writer

    fmt = output_format(output)
    rows = 0
    if fmt == "parquet":
        with atomic_writer(output, "wb") as fh:
            writer = pq.ParquetWriter(fh, schema)
            for p in parts:
                table = pq.read_table(p, schema=schema)
                writer.write_table(table)
                rows += table.num_rows
            writer.close()
        return rows
    with atomic_writer(output) as fh:
        w = csv.DictWriter(fh, fieldnames=schema.names, extrasaction="ignore",
                           delimiter="\t" if output.suffix.lower() == ".tsv" else ",") if fmt == "csv" else None
        if w is not None:
            w.writeheader()
        for p in parts:
            records = pq.read_table(p, schema=schema).to_pylist()
            rows += len(records)
            if w is None:
                fh.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
            else:
                w.writerows({k: _cell(v) for k, v in r.items()} for r in records)
    return rows


def read_rows(path: Path, limit: int | None = None) -> Iterable[dict[str, Any]]:
    """Rows of a Parquet results file (for printing a small job's results)."""
    import pyarrow.parquet as pq

    n = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
        for r in batch.to_pylist():
            if limit is not None and n >= limit:
                return
            n += 1
            yield r

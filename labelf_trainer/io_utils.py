"""Atomic file writes: write to a temporary file beside the target, then rename over it."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_writer", "write_records"]


@contextmanager
def atomic_writer(path: str | Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path``; on success fsync and rename it to ``path``, else delete it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8", newline=None if "b" in mode else "") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_records(path: str | Path, records: Iterable[dict[str, Any]], columns: list[str] | None = None) -> int:
    """Write dict records as JSONL (``.jsonl``/``.json``) or CSV (anything else), atomically. Returns the count."""
    path = Path(path)
    rows = list(records)
    with atomic_writer(path) as fh:
        if path.suffix.lower() in {".jsonl", ".json", ".ndjson"}:
            for r in rows:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        else:
            cols = columns or list(dict.fromkeys(k for r in rows for k in r))
            buf = io.StringIO()
            w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
            w.writeheader()
            for r in rows:
                w.writerow({k: (json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v)
                            for k, v in r.items()})
            fh.write(buf.getvalue())
    return len(rows)

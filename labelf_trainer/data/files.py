"""Read texts (and optional ids and gold labels) from CSV, JSONL, Parquet or plain-text files, and labeled
evaluation files as :class:`TrainingData`.

Rules (documented in the README): rows whose text is empty or only whitespace are skipped and counted; texts
longer than :data:`~labelf_trainer.config.MAX_TEXT_CHARS` are truncated on import and counted; a file that is not
UTF-8 is an error naming the file and the byte offset; a missing column is an error naming it and listing the columns.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config import MAX_TEXT_CHARS, ProjectConfig
from ..exceptions import DataError, UnknownLabelError
from ..types import Item, stable_id

__all__ = ["ReadReport", "read_items", "read_frame", "read_label_records", "detect_format", "split_labels",
           "shown_columns", "TrainingData",
           "check_labels", "read_eval_file"]

_FORMATS = {".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
            ".parquet": "parquet", ".pq": "parquet", ".txt": "txt"}


@dataclass
class ReadReport:
    """What :func:`read_items` read and what it had to skip or change."""

    items: list[Item] = field(default_factory=list)
    empty_skipped: int = 0
    truncated: int = 0


def shown_columns(columns: Sequence[object], *, limit: int = 12, chars: int = 40) -> str:
    """A readable list of a file's columns for an error line: at most ``limit`` names of ``chars`` characters each
    (a 50 MB one-line CSV must not become a 50 MB error message)."""
    names = [str(c) if len(str(c)) <= chars else str(c)[:chars - 1] + "…" for c in list(columns)[:limit]]
    more = len(columns) - len(names)
    return (", ".join(names) or "none") + (f" and {more} more" if more > 0 else "")


def detect_format(path: Path, fmt: str = "auto") -> str:
    if fmt != "auto":
        return fmt
    try:
        return _FORMATS[path.suffix.lower()]
    except KeyError:
        raise DataError(f"{path}: cannot tell the format from the extension {path.suffix!r}; "
                        "use .csv, .jsonl, .parquet or .txt") from None


def _check_utf8(path: Path) -> None:
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text (invalid byte at offset {e.start}); re-save it as UTF-8") from None


def read_frame(path: Path, fmt: str) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    if fmt != "parquet":
        _check_utf8(path)
    try:
        if fmt == "csv":
            sep = "\t" if path.suffix.lower() == ".tsv" else ","
            return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8")
        if fmt == "jsonl":
            from .sources import jsonl_row

            lines = enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            return pd.DataFrame([jsonl_row(path, n, line) for n, line in lines if line.strip()])
        if fmt == "parquet":
            return pd.read_parquet(path)
        if fmt == "txt":
            return pd.DataFrame({"text": path.read_text(encoding="utf-8").splitlines()})
    except DataError:
        raise
    except (pd.errors.ParserError, ValueError, OSError) as e:
        raise DataError(f"{path}: cannot read as {fmt}: {str(e).splitlines()[0]}") from None
    raise DataError(f"{path}: unsupported format {fmt!r}")



def read_label_records(path: Path) -> tuple[list[dict[str, Any]], list[str], int]:
    """Rows of a CSV or JSONL label file (missing values as None), its columns, and the number of its first data
    row (for messages naming a row)."""
    fmt = detect_format(path)
    if fmt not in ("csv", "jsonl"):
        raise DataError(f"{path}: labels are read from CSV or JSONL files, not {fmt}")
    df = read_frame(path, fmt)
    records = df.to_dict("records") if len(df) else []
    records = [{k: (None if isinstance(v, float) and pd.isna(v) else v) for k, v in r.items()} for r in records]
    return records, list(df.columns), 2 if fmt == "csv" else 1

def split_labels(value: object) -> tuple[str, ...]:
    """Gold/annotated labels from a cell: a list, a JSON list, or a '|'-separated string."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(str(v).strip() for v in value if str(v).strip())
    s = str(value).strip()
    if s.startswith("["):
        try:
            return tuple(str(v).strip() for v in json.loads(s) if str(v).strip())
        except json.JSONDecodeError:
            pass
    return tuple(p.strip() for p in s.split("|") if p.strip())


def read_items(path: str | Path, *, fmt: str = "auto", text_column: str = "text", id_column: str | None = None,
               label_column: str | None = None, source: str | None = None,
               long_texts: str = "truncate") -> ReadReport:
    """Read a data file into :class:`Item` records (ids from ``id_column`` or from the text's content).

    ``long_texts``: ``"truncate"`` (import) cuts texts over the limit, ``"error"`` (predict) refuses them.
    """
    path = Path(path)
    fmt = detect_format(path, fmt)
    df = read_frame(path, fmt)
    for role, col in (("text", text_column), ("id", id_column), ("label", label_column)):
        if col is not None and col not in df.columns:
            raise DataError(f"{path}: no {role} column {col!r}; columns are: {shown_columns(list(df.columns))}")
    report = ReadReport()
    src = source or path.name
    seen: set[str] = set()
    for row_no, row in enumerate(df.to_dict("records"), 2 if fmt == "csv" else 1):
        raw = row[text_column]
        text = "" if raw is None or (isinstance(raw, float) and pd.isna(raw)) else str(raw)
        if not text.strip():
            report.empty_skipped += 1
            continue
        item_id = str(row[id_column]).strip() if id_column else stable_id(text)
        if not item_id:
            raise DataError(f"{path}: row {row_no}: empty id in column {id_column!r}")
        if id_column and item_id in seen:
            raise DataError(f"{path}: row {row_no}: duplicate id {item_id!r} in column {id_column!r}")
        seen.add(item_id)
        if len(text) > MAX_TEXT_CHARS:
            if long_texts == "error":
                raise DataError(f"{path}: row {row_no}: text has {len(text):,} characters; the limit is "
                                f"{MAX_TEXT_CHARS:,}")
            text = text[:MAX_TEXT_CHARS]
            report.truncated += 1
        gold = split_labels(row[label_column]) if label_column else None
        report.items.append(Item(id=item_id, text=text, source=src, gold=gold or None))
    return report


@dataclass
class TrainingData:
    """Texts and their labels: one label per text (single-label) or a tuple of labels (multi-label)."""

    texts: list[str]
    labels: list[Any]
    ids: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, idx: np.ndarray) -> "TrainingData":
        return TrainingData([self.texts[i] for i in idx], [self.labels[i] for i in idx],
                            [self.ids[i] for i in idx] if self.ids else [])


def check_labels(labels: Sequence[Any], config: ProjectConfig, where: str) -> list[Any]:
    """Normalise to a label (single) or sorted tuple (multi), the out-of-scope label's aliases to that label;
    refuse unknown labels and several labels on a single-label project."""
    known = config.answer_labels
    known_set, multi_label = set(known), config.multi_label
    out, unknown = [], set()
    for v in labels:
        tup = tuple(dict.fromkeys(config.canonical_label(lab) for lab in ((v,) if isinstance(v, str) else v)))
        unknown.update(lab for lab in tup if lab not in known_set)
        if multi_label:
            out.append(tuple(sorted(tup)))
        else:
            if len(tup) != 1:
                raise DataError(f"{where}: single-label project, but an item has {len(tup)} labels {list(tup)}; "
                                "fix the annotation or set task: multi-label")
            out.append(tup[0])
    if unknown:
        raise UnknownLabelError(sorted(unknown), list(known), where)
    return out


def read_eval_file(path: str | Path, config: ProjectConfig, *, text_column: str = "text",
                   label_column: str = "label") -> TrainingData:
    """A labeled evaluation file (CSV/JSONL/Parquet); labels '|'-separated or a JSON list for multi-label; the
    out-of-scope label's aliases (e.g. ``oos``) count as that label, any other unknown label is an error."""
    items = read_items(path, text_column=text_column, label_column=label_column, long_texts="truncate").items
    cfg = config
    rows = [it for it in items if it.gold or cfg.multi_label]
    if not rows:
        raise DataError(f"{path}: no labeled rows (column {label_column!r} is empty everywhere)")
    labels = check_labels([it.gold or () for it in rows], cfg, str(path))
    return TrainingData([it.text for it in rows], labels, [it.id for it in rows])

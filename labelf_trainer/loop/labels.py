"""Labels in and out of the workspace: label files (`labelf label`) and the effective annotations as training data.
Unknown labels, unknown ids and several labels on a single-label project are errors naming them, and nothing is
written then."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..data import TrainingData, check_labels
from ..exceptions import DataError, UnknownLabelError
from ..types import Annotation

if TYPE_CHECKING:
    from .project import Project

__all__ = ["LabelImport", "labeled_data", "import_labels"]


def labeled_data(project: "Project") -> TrainingData:
    """The workspace's effective annotations as training data (items annotated with no label are skipped
    for single-label projects; for multi-label "no label applies" is a valid answer)."""
    cfg = project.config
    labeled = project.ws.annotations.labeled()
    items = {it.id: it for it in project.ws.items.get(labeled)}
    ids, texts, labels = [], [], []
    for item_id, labs in labeled.items():
        if item_id not in items or (not labs and not cfg.multi_label):
            continue
        ids.append(item_id)
        texts.append(items[item_id].text)
        labels.append(labs)
    labels = check_labels(labels, cfg, "workspace annotations")
    return TrainingData(texts, labels, ids)


@dataclass(frozen=True)
class LabelImport:
    """What ``labelf label FILE`` did."""

    written: int
    skipped_blank: int
    batches_touched: list[int]


def import_labels(project: "Project", records: list[dict[str, Any]], *, where: str, annotator: str = "file",
                  id_column: str = "id", label_column: str = "label", first_row: int = 1,
                  columns: Sequence[str] | None = None) -> LabelImport:
    """Record labels from rows of a CSV/JSONL file (``id`` + ``label``; several labels as ``a|b`` or a JSON list).

    Rows with an empty label are skipped (not yet labeled). Unknown labels, unknown ids or several labels on a
    single-label project are errors naming them; nothing is written then. Re-importing a file updates the same
    annotations instead of adding new ones. ``first_row`` numbers the first record in error messages (2 for a
    CSV file: its line after the header). ``columns``: the file's columns (a file with a header and no rows has
    columns but no records); a missing column or a file without rows is an error naming the expected columns.
    """
    from ..data import shown_columns, split_labels

    cfg = project.config
    cols = list(columns) if columns is not None else list(records[0]) if records else []
    for role, col in (("id", id_column), ("label", label_column)):
        if col not in cols:
            raise DataError(f"{where}: no {role} column {col!r} (expected columns {id_column!r} and "
                            f"{label_column!r}); columns are: {shown_columns(cols)}")
    if not records:
        raise DataError(f"{where}: no rows to import (expected columns {id_column!r} and {label_column!r})")
    known = set(cfg.answer_labels)
    anns: list[Annotation] = []
    unknown: list[str] = []
    blank = 0
    for row_no, row in enumerate(records, first_row):
        labels = tuple(cfg.canonical_label(lab) for lab in split_labels(row.get(label_column)))
        raw_id = row.get(id_column)
        item_id = "" if raw_id is None else str(raw_id).strip()
        if not labels:
            blank += 1
            continue
        if not item_id:
            raise DataError(f"{where}: row {row_no}: empty {id_column!r}")
        unknown += [lab for lab in labels if lab not in known]
        if not cfg.multi_label and len(labels) > 1:
            raise DataError(f"{where}: row {row_no}: {len(labels)} labels {list(labels)} for a single-label project")
        anns.append(Annotation(item_id=item_id, labels=tuple(dict.fromkeys(labels)), annotator=annotator,
                               source="file", external_id=f"{annotator}:{item_id}"))
    if unknown:
        raise UnknownLabelError(unknown, cfg.answer_labels, where)
    ids = [a.item_id for a in anns]
    found = {it.id for it in project.ws.items.get(ids)}
    missing = [i for i in dict.fromkeys(ids) if i not in found]
    if missing:
        shown = ", ".join(repr(m) for m in missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise DataError(f"{where}: {len(missing)} id(s) not in the workspace pool: {shown}")
    touched = project.ws.batches.pending_batches_of(ids)
    written = project.ws.annotations.add(anns)
    return LabelImport(written, blank, touched)

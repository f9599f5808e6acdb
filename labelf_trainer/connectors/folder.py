"""The folder connector: labeling without a server. Batches are written as CSV files into a folder; annotators fill in
the ``label`` column (any spreadsheet will do) and the next pull reads every file back.

Usage (config ``connector: folder`` and ``folder: {path: labeling}``)::

    labelf suggest --n 50 --push     # writes labeling/batch-3.csv: id, text, predicted, confidence, reason, label
    # ... fill in 'label' (several labels as a|b); an optional 'annotator' column names who did it
    labelf pull                      # new and changed labels; pulling twice changes nothing

Every filled-in row is one annotation (``source='folder'``, external id ``folder:<item>:<file>``); copies of a
batch labeled by several annotators are several annotations of one task, resolved by the conflict policy; a label
cleared in a file is a deleted annotation. Files are written atomically; an item already in any file of the folder
is not written again. ``labelf review --push`` writes suspect labels to ``review-<time>.csv`` (the current label
under ``predicted``, an extra ``review`` column); a label filled in there is a new annotation of the item.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from ..exceptions import ConnectorError, DataError
from ..io_utils import atomic_writer, write_records
from .base import CheckLine, PulledAnnotation, PulledTask, PullResult, PushResult, TaskRow
from .ingest import effective_pairs, ingest
from .tasks import pre_annotate

if TYPE_CHECKING:
    from ..loop.project import Project

__all__ = ["FolderConnector", "SOURCE", "COLUMNS"]

SOURCE = "folder"
COLUMNS = ["id", "text", "predicted", "confidence", "reason", "label", "annotator"]
LABELS_FILE = "LABELS.md"


class FolderConnector:
    """One project's labeling folder (``folder.path`` of the config unless given)."""

    name = "folder"
    source = SOURCE

    def __init__(self, project: "Project", *, path: str | Path | None = None) -> None:
        self.project = project
        self.path = Path(path) if path is not None else project.config.resolve(project.config.labeling.folder)

    @property
    def target(self) -> str:
        return f"labeling folder {self.path}"

    def _files(self) -> list[Path]:
        return sorted(p for p in self.path.glob("*") if p.suffix.lower() in (".csv", ".jsonl") and p.is_file()
                      and not p.name.startswith("."))

    def _rows(self, path: Path) -> list[dict[str, str]]:
        from ..data import detect_format, read_frame

        frame = read_frame(path, detect_format(path))
        if "id" not in frame.columns:
            raise DataError(f"{path}: a labeling file needs an 'id' column")
        return [{k: ("" if v is None or v != v else str(v)) for k, v in r.items()}  # NaN != NaN
                for r in frame.to_dict("records")]

    # -- the protocol ----------------------------------------------------------------------------------------
    def check(self) -> list[CheckLine]:
        if not self.path.is_dir():
            return [CheckLine("folder", False, f"{self.path} does not exist (the first push creates it)")]
        if not os.access(self.path, os.W_OK):
            return [CheckLine("folder", False, f"{self.path} is not writable")]
        files = self._files()
        return [CheckLine("folder", True, f"{self.path}: {len(files)} labeling file(s)"),
                CheckLine("labels", True, f"{len(self.project.config.answer_labels)} labels listed in {LABELS_FILE}")]

    def sync_labels(self) -> None:
        """Write ``LABELS.md`` (every label with its description) into the folder."""
        self.path.mkdir(parents=True, exist_ok=True)
        lines = [f"# Labels of {self.project.config.project}", "",
                 "Fill in the `label` column with one of these names"
                 + (" (several: a|b)." if self.project.config.multi_label else "."), ""]
        lines += [f"- **{lab.name}**" + (f": {lab.description}" if lab.description else "")
                  for lab in self.project.config.answer_specs]
        with atomic_writer(self.path / LABELS_FILE) as fh:
            fh.write("\n".join(lines) + "\n")

    def push(self, rows: Sequence[TaskRow], *, batch_id: int | None = None, review: bool = False) -> PushResult:
        """Write the rows not yet in any file of the folder into ``batch-<id>.csv`` (or ``pending-<time>.csv``).

        ``review``: suspect labels (``labelf review --push``) go to ``review-<time>.csv``, the current label under
        ``predicted`` and the label row under review in a ``review`` column (a label is written for review once);
        a label filled in there is a new annotation of the item, not a vote against its earlier ones."""
        self.sync_labels()
        written = [r for f in self._files() for r in self._rows(f)]
        if review:
            there = {(r["id"], r["review"]) for r in written if r.get("review")}
            rows = list({(r.item_id, r.review): r for r in rows}.values())
            todo = [r for r in rows if (r.item_id, r.review) not in there]
        else:
            there = {r["id"] for r in written}
            rows = list({r.item_id: r for r in rows}.values())
            todo = pre_annotate(self.project, [r for r in rows if r.item_id not in there])
        if todo:
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
            name = f"review-{stamp}.csv" if review else (
                f"batch-{batch_id}.csv" if batch_id is not None else f"pending-{stamp}.csv")
            if (self.path / name).exists():  # batch pushed again: the time; review in the same second: microseconds
                name = f"{Path(name).stem}-" + (datetime.now(timezone.utc).strftime("%f") if review else stamp) + ".csv"
            write_records(self.path / name, [{
                "id": r.item_id, "text": r.text,
                "predicted": "|".join(r.prediction["labels"]) if r.prediction else "",
                "confidence": r.prediction["score"] if r.prediction else "",
                "reason": (r.reason or {}).get("summary", "") if isinstance(r.reason, dict) else (r.reason or ""),
                "label": "", "annotator": "", **({"review": r.review} if review else {})} for r in todo],
                columns=COLUMNS + (["review"] if review else []))
        return PushResult(target=self.target, created=len(todo), already_there=len(rows) - len(todo),
                          total=len(rows), batch_id=batch_id, review=review)

    def pull(self, *, full: bool = False, policy: str | None = None) -> PullResult:
        """Read every file of the folder; rows with a label are annotations (``full`` changes nothing here: every
        pull reads everything)."""
        from ..data import split_labels

        if not self.path.is_dir():
            raise ConnectorError(f"{self.target} does not exist: push a batch first (`labelf suggest --push`)")
        texts: dict[str, str] = {}
        anns: dict[tuple[str, str], list[PulledAnnotation]] = {}  # (item id, review key or "") -> annotations
        for f in self._files():
            stamp = datetime.fromtimestamp(f.stat().st_mtime, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            for row in self._rows(f):
                item_id = row["id"].strip()
                if not item_id:
                    continue
                texts.setdefault(item_id, row.get("text", ""))
                labels = split_labels(row.get("label"))
                task = anns.setdefault((item_id, row.get("review", "").strip()), [])
                if labels:
                    task.append(PulledAnnotation(id=f.name, labels=labels, updated_at=stamp,
                                                 annotator=row.get("annotator", "").strip() or "folder"))
        known = {it.id for it in self.project.ws.items.get(list(texts))}
        unknown = list(dict.fromkeys(i for (i, _r), a in anns.items() if i not in known and a))
        if unknown:
            raise DataError(f"{self.target}: id(s) not in the workspace pool: {', '.join(unknown[:5])}"
                            + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""))
        # a review row is a task of its own (a new annotation of the item), not a vote in the item's batch task
        tasks = [PulledTask(key=f"folder-review:{r}:{i}" if r else f"folder:{i}", text=texts[i], item_id=i,
                            annotations=tuple(a), where=f"id {i}" + (" (review)" if r else ""))
                 for (i, r), a in anns.items() if i in known]
        cfg = self.project.config
        stats = ingest(self.project.ws, SOURCE, tasks, target=self.target, known_labels=cfg.answer_labels,
                       policy=policy or cfg.labeling.conflict_policy, multi_label=cfg.multi_label, complete=True,
                       canonical=cfg.canonical_label, stats=PullResult(self.target, seen=sum(len(t.annotations) for t in tasks)))
        return effective_pairs(self.project.ws, stats)

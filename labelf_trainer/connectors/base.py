"""The connector protocol, its errors, and the plain records connectors exchange with the rest of the package.

A connector links a project to a labeling tool. It does four things (:class:`Connector`): check the link, keep the
tool's label set in sync with the config, push tasks (texts with pre-annotations and the reason each was picked)
and pull annotations back. What is the same for every tool lives above the connectors: the task rows of a batch
and their pre-annotations (:mod:`.tasks`) and writing pulled annotations into the store with the conflict policy
(:mod:`.ingest`). SDK and HTTP types never leave a connector's module.

Every failure is one of these errors, whose message is one actionable line::

    LabelfError
    ├── ConnectorError               an external labeling system failed
    │   ├── ConnectorAuthError       the server refused the token (HTTP 401/403) or no token is set
    │   ├── ConnectorUnreachableError no answer: connection refused, DNS, timeout, or a 5xx after retries
    │   ├── ConnectorNotFoundError   the project (or task) does not exist on the server
    │   └── LabelMismatchError       the tool's labels differ from the config's
    └── DataError
        └── UnknownLabelError        pulled annotations use labels the config does not define (nothing written)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..exceptions import ConnectorError, UnknownLabelError

__all__ = [
    "CheckLine",
    "Connector",
    "ConnectorAuthError",
    "ConnectorError",
    "ConnectorNotFoundError",
    "ConnectorUnreachableError",
    "LabelMismatchError",
    "PulledAnnotation",
    "PulledTask",
    "PullResult",
    "PushResult",
    "TaskRow",
    "UnknownLabelError",
]


class ConnectorAuthError(ConnectorError):
    """The server refused our credentials."""


class ConnectorUnreachableError(ConnectorError):
    """The server did not answer (refused, timed out, or failing with 5xx)."""


class ConnectorNotFoundError(ConnectorError):
    """The project or task does not exist on the server."""


class LabelMismatchError(ConnectorError):
    """The labels of the tool's project differ from the project config."""

    def __init__(self, where: str, missing: list[str], extra: list[str]) -> None:
        self.where = where
        self.missing = sorted(missing)
        self.extra = sorted(extra)
        parts = []
        if self.missing:
            parts.append(f"missing there: {', '.join(repr(m) for m in self.missing)}")
        if self.extra:
            parts.append(f"not in the config: {', '.join(repr(e) for e in self.extra)}")
        super().__init__(f"{where} has other labels than the config ({'; '.join(parts)}); update its labeling "
                         "config or the config's labels")


@dataclass(frozen=True)
class TaskRow:
    """One text to send for labeling: the item, why it was picked, and the model whose pre-annotation to show.

    ``prediction`` (filled by :func:`.tasks.pre_annotate` unless already set): ``{"labels", "score", "scores",
    "model_version", "band"}``. ``review`` marks a review task of a label (``labelf review --push``): a key of the
    label under review (its annotation row), so the same label is never sent for review twice.
    """

    item_id: str
    text: str
    batch_id: int | None = None
    rank: int | None = None
    score: float | None = None
    confidence: float | None = None
    reason: Any = None
    model: tuple[int, int] | None = None
    prediction: dict[str, Any] | None = None
    review: str | None = None

    def meta(self) -> dict[str, Any]:
        """What the labeling tool keeps beside the task (why it was picked), without empty fields."""
        out = {"batch_id": self.batch_id, "rank": self.rank, "reason": self.reason, "priority": self.score,
               "confidence": self.confidence, "review": self.review}
        if self.prediction is not None:
            out["scores"] = self.prediction["scores"]
            out["model_version"] = self.prediction["model_version"]
            out["band"] = self.prediction.get("band")
        return {k: v for k, v in out.items() if v is not None}


@dataclass(frozen=True)
class PulledAnnotation:
    """One annotation as a tool reports it. ``id`` is unique within its task."""

    id: str
    labels: tuple[str, ...]
    annotator: str
    updated_at: str
    cancelled: bool = False


@dataclass(frozen=True)
class PulledTask:
    """One task: a key unique within the tool (e.g. ``ls:3:17``), our item id if the task carries it, the text,
    and every annotation it has now. ``where`` names it in messages (``task 17``)."""

    key: str
    text: str
    item_id: str | None = None
    annotations: tuple[PulledAnnotation, ...] = ()
    where: str = ""


@dataclass
class PushResult:
    """What a push did. ``str(result)`` is one summary line."""

    target: str
    created: int = 0
    already_there: int = 0
    total: int = 0
    batch_id: int | None = None
    project_id: int | None = None
    task_ids: dict[str, Any] = field(default_factory=dict, repr=False)
    review: bool = False

    def __str__(self) -> str:
        if self.review:
            return (f"pushed {self.total} suspect label(s) for review to {self.target}: {self.created} new review "
                    f"task(s), {self.already_there} already there")
        what = f"batch {self.batch_id}" if self.batch_id is not None else "pending suggestions"
        return (f"pushed {what} to {self.target}: {self.created} new task(s), "
                f"{self.already_there} already there ({self.total} in all)")

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "project_id": self.project_id, "created": self.created,
                "already_there": self.already_there, "total": self.total, "batch_id": self.batch_id,
                "task_ids": self.task_ids, "review": self.review}


@dataclass
class PullResult:
    """What a pull (or a webhook) wrote. ``str(result)`` is one summary line; ``pairs`` lists the (text, labels)
    now effective for the items it touched."""

    target: str
    project_id: int | None = None
    seen: int = 0
    new: int = 0
    updated: int = 0
    deleted: int = 0
    skipped: int = 0
    conflicts: int = 0
    new_items: int = 0
    item_ids: list[str] = field(default_factory=list, repr=False)
    pairs: list[tuple[str, tuple[str, ...]]] = field(default_factory=list, repr=False)

    @property
    def changed(self) -> bool:
        return bool(self.new or self.updated or self.deleted or self.new_items)

    def __str__(self) -> str:
        if not self.changed:
            return f"pulled {self.target}: nothing new ({self.seen} annotation(s) known)"
        return (f"pulled {self.target}: {self.new} new, {self.updated} updated, {self.deleted} deleted "
                f"annotation(s); {self.skipped} skipped; {self.conflicts} item(s) in conflict")

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "project_id": self.project_id, "new": self.new, "updated": self.updated,
                "deleted": self.deleted, "skipped": self.skipped, "conflicts": self.conflicts,
                "new_items": self.new_items, "pairs": [{"text": t, "labels": list(labs)} for t, labs in self.pairs]}


@dataclass(frozen=True)
class CheckLine:
    """One line of ``labelf labelstudio check``: what was checked, whether it passed, the detail."""

    name: str
    ok: bool
    detail: str

    def __str__(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"


@runtime_checkable
class Connector(Protocol):
    """A labeling tool linked to one project. ``name`` is the config's ``connector:`` value."""

    name: str

    def check(self) -> list[CheckLine]:
        """Connection, credentials, project and label set; stops at the first failure."""
        ...

    def sync_labels(self) -> None:
        """Create the tool's labeling setup, or update it to the config's labels (no task is lost)."""
        ...

    def push(self, rows: Sequence[TaskRow], *, batch_id: int | None = None, review: bool = False) -> PushResult:
        """Send tasks (rows with their pre-annotations); tasks already there are not sent twice. ``review``: the
        rows are review tasks of labels (:attr:`TaskRow.review`), sent even for items that have a task, once per
        label under review."""
        ...

    def pull(self, *, full: bool = False, policy: str | None = None) -> PullResult:
        """Write new, changed and deleted annotations since the last pull into the store."""
        ...

"""Errors and plain records shared by the connectors to external labeling tools (Label Studio).

Connectors hand the rest of the package only these records and our own :mod:`labelf_trainer.types`; SDK and
HTTP types never leave ``connectors/``. Every failure is one of these errors, whose message is one actionable
line (the CLI prints it, the service turns it into a 4xx/5xx JSON body)::

    LabelfError
    ├── ConnectorError               an external labeling system failed
    │   ├── ConnectorAuthError       the server refused the token (HTTP 401/403) or no token is set
    │   ├── ConnectorUnreachableError no answer: connection refused, DNS, timeout, or a 5xx after retries
    │   ├── ConnectorNotFoundError   the project (or task) does not exist on the server
    │   └── LabelMismatchError       the server project's labels differ from the config's
    └── DataError
        └── UnknownLabelError        pulled annotations use labels the config does not define (nothing written)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..exceptions import ConnectorError, UnknownLabelError

__all__ = [
    "CheckLine",
    "ConnectorAuthError",
    "ConnectorError",
    "ConnectorNotFoundError",
    "ConnectorUnreachableError",
    "LabelMismatchError",
    "PullResult",
    "PushResult",
    "UnknownLabelError",
]


class ConnectorAuthError(ConnectorError):
    """The server refused our credentials."""


class ConnectorUnreachableError(ConnectorError):
    """The server did not answer (refused, timed out, or failing with 5xx)."""


class ConnectorNotFoundError(ConnectorError):
    """The project or task does not exist on the server."""


class LabelMismatchError(ConnectorError):
    """The labels of the server's project differ from the project config."""

    def __init__(self, project_id: int, missing: list[str], extra: list[str]) -> None:
        self.project_id = project_id
        self.missing = sorted(missing)
        self.extra = sorted(extra)
        parts = []
        if self.missing:
            parts.append(f"missing in Label Studio: {', '.join(repr(m) for m in self.missing)}")
        if self.extra:
            parts.append(f"not in the config: {', '.join(repr(e) for e in self.extra)}")
        super().__init__(f"Label Studio project {project_id} has other labels than the config ({'; '.join(parts)}); "
                         "update the project's labeling config or the config's labels")


@dataclass(frozen=True)
class PushResult:
    """What a push did. ``str(result)`` is one summary line."""

    project_id: int
    created: int = 0
    already_there: int = 0
    total: int = 0
    batch_id: int | None = None
    task_ids: dict[str, int] = field(default_factory=dict, repr=False)

    def __str__(self) -> str:
        what = f"batch {self.batch_id}" if self.batch_id is not None else "pending suggestions"
        return (f"pushed {what} to Label Studio project {self.project_id}: {self.created} new task(s), "
                f"{self.already_there} already there ({self.total} in all)")


@dataclass(frozen=True)
class PullResult:
    """What a pull did. ``str(result)`` is one summary line; ``pairs`` lists the (text, labels) now effective."""

    project_id: int
    seen: int = 0
    new: int = 0
    updated: int = 0
    deleted: int = 0
    skipped: int = 0
    conflicts: int = 0
    new_items: int = 0
    pairs: list[tuple[str, tuple[str, ...]]] = field(default_factory=list, repr=False)

    @property
    def changed(self) -> bool:
        return bool(self.new or self.updated or self.deleted or self.new_items)

    def __str__(self) -> str:
        if not self.changed:
            return f"pulled Label Studio project {self.project_id}: nothing new ({self.seen} annotation(s) known)"
        return (f"pulled Label Studio project {self.project_id}: {self.new} new, {self.updated} updated, "
                f"{self.deleted} deleted annotation(s); {self.skipped} skipped; {self.conflicts} item(s) in conflict")


@dataclass(frozen=True)
class CheckLine:
    """One line of ``labelf labelstudio check``: what was checked, whether it passed, the detail."""

    name: str
    ok: bool
    detail: str

    def __str__(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"

"""Connectors to labeling tools, behind one protocol (:class:`~.base.Connector`).

- :mod:`.base`: the protocol, its errors and records (``TaskRow``, ``PulledTask``, ``PushResult``, ``PullResult``)
- :mod:`.tasks`: what every connector sends (a batch's rows, pre-annotations)
- :mod:`.ingest`: writing pulled annotations into the store (conflict policy, history, deletions)
- :mod:`.label_studio`: Label Studio (SDK client, labeling config, push/pull, webhooks)
- :mod:`.folder`: a folder of CSV files, for teams without a labeling server

Adding a connector means one module with a class that has ``name``, ``check``, ``sync_labels``, ``push`` and
``pull``, plus one entry in :data:`CONNECTORS`. Modules are imported lazily: importing this package pulls in no SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..exceptions import ConfigError
from .base import Connector, PullResult, PushResult

if TYPE_CHECKING:
    from ..loop.project import Project

__all__ = ["CONNECTORS", "make_connector", "push_batch", "push_pending", "pull"]

#: ``labeling.connector`` value -> "module:class"
CONNECTORS: dict[str, str] = {
    "label-studio": "labelf_trainer.connectors.label_studio.connector:LabelStudioConnector",
    "folder": "labelf_trainer.connectors.folder:FolderConnector",
}


def make_connector(project: "Project", name: str | None = None, **options: Any) -> Connector:
    """The project's connector (``labeling.connector`` unless ``name`` is given), built with ``options``."""
    name = name or project.config.labeling.connector
    if name not in CONNECTORS:
        raise ConfigError(f"unknown connector {name!r}; use one of: {', '.join(CONNECTORS)}")
    module, cls = CONNECTORS[name].split(":")
    return getattr(importlib.import_module(module), cls)(project, **options)


def push_batch(project: "Project", batch_id: int, *, connector: str | None = None, **options: Any) -> PushResult:
    """Push one suggestion batch (``labelf suggest --push``): tasks with pre-annotations from the batch's model."""
    from .tasks import batch_rows

    return make_connector(project, connector, **options).push(batch_rows(project, int(batch_id)),
                                                             batch_id=int(batch_id))


def push_pending(project: "Project", *, connector: str | None = None, **options: Any) -> PushResult:
    """Push every pending suggestion (all batches) that is not in the tool yet."""
    from .tasks import batch_rows

    return make_connector(project, connector, **options).push(batch_rows(project, None))


def pull(project: "Project", *, full: bool = False, policy: str | None = None, connector: str | None = None,
         **options: Any) -> PullResult:
    """Pull annotations into the store with the project's connector."""
    return make_connector(project, connector, **options).pull(full=full, policy=policy)

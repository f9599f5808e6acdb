"""The Label Studio connector (label-studio-sdk 2.x).

- :mod:`.client`: the SDK client and its failures as one-line connector errors
- :mod:`.schema`: the labeling config, generated from the project's labels and parsed back
- :mod:`.convert`: Label Studio task/annotation JSON to and from our records
- :mod:`.connector`: :class:`LabelStudioConnector` (check, label sync, push, pull, ML backend connection)
- :mod:`.webhook`: annotation events written into the store at once

The SDK is imported only with :mod:`.connector` and :mod:`.client` (``LabelStudioConnector`` below loads them on
first use), so the ML backend and webhooks need only the schema.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LabelStudioConnector"]


def __getattr__(name: str) -> Any:
    if name == "LabelStudioConnector":
        from .connector import LabelStudioConnector

        return LabelStudioConnector
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""labelf-trainer: self-hosted active-learning labeling and training for text classification.

The layers, bottom up (each imports only those before it): ``config``, ``exceptions``, ``types``; ``store``
(all SQL); ``embeddings``; ``models`` (the model-type table in ``models.specs``); ``registry``; ``strategies``;
``evaluation``; ``loop`` (project, suggest, labels, trainer); ``connectors``; ``service``; ``cli``.
See DEVELOPERS.md for the layout and how to extend it.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
__all__ = ["ProjectConfig", "load_config", "LabelfError", "Project", "ModelRegistry", "Workspace", "__version__"]

_WHERE = {"ProjectConfig": ".config", "load_config": ".config", "LabelfError": ".exceptions",
          "Project": ".loop.project", "ModelRegistry": ".registry", "Workspace": ".store"}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name], __name__), name)

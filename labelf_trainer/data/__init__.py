"""Reading texts: whole files into memory (:mod:`.files`), streamed in chunks from files, folders, globs and
datasets (:mod:`.sources`), and the text of PDF and DOCX documents (:mod:`.documents`).

Every name of the former ``labelf_trainer.data`` module is importable from here (loaded on first use, so importing
``labelf_trainer.data.documents`` does not load pandas).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["ReadReport", "read_items", "read_frame", "read_label_records", "detect_format", "split_labels", "shown_columns", "TrainingData",
           "check_labels", "read_eval_file"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module(".files", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])

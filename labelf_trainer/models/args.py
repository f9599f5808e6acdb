"""Hyperparameters of each trainable model type, as dataclasses checked in ``__post_init__`` (in the way of
SetFit's ``TrainingArguments``). A field's metadata names its CLI flag (``labelf train --epochs``); fields without
one are set with ``--param NAME=VALUE``. Light module: no numpy, no torch.

Usage::

    args = SetFitArgs(num_iterations=5)          # ModelError if a value is out of range
    SetFitArgs.from_dict({"num_epochs": 2}, model_type="setfit")
    args.to_dict()                               # stored with the model version
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import ModelError

__all__ = ["ModelArgs", "HeadArgs", "SetFitArgs", "FineTuneArgs", "DEFAULT_C"]

#: Inverse regularisation of the logistic head. Unit-norm sentence embeddings need weak regularisation; of
#: {1, 10, 100} on Banking77 10/class, SST-5 64/class and TREC 10/class (all-MiniLM-L6-v2, benchmarks/train.py
#: --hyper '{"C": ...}'), 10 is within 1.8 points of the best on each; 1 and 100 each lose 3-6 somewhere.
DEFAULT_C = 10.0


def _flag(flag: str | None = None, *, low: float | None = 0.0, low_inclusive: bool = False,
          high: float | None = None, help: str = "") -> dict[str, Any]:
    return {"flag": flag, "low": low, "low_inclusive": low_inclusive, "high": high, "help": help}


@dataclass
class ModelArgs:
    """Base of the args dataclasses: range checks from field metadata, dict round trip, CLI flag lookup."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value, meta = getattr(self, f.name), f.metadata
            if value is None or not meta:
                continue
            name = meta.get("flag") or f.name
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ModelError(f"{name} must be a number, not {value!r}")
            low, high = meta.get("low"), meta.get("high")
            if low is not None and (value < low or (value == low and not meta.get("low_inclusive"))):
                word = "at least" if meta.get("low_inclusive") else "greater than"
                raise ModelError(f"{name} must be {word} {low:g}, not {value}")
            if high is not None and value >= high:
                raise ModelError(f"{name} must be below {high:g}, not {value}")

    @classmethod
    def from_dict(cls, values: dict[str, Any], *, model_type: str = "") -> "ModelArgs":
        """Build from ``values`` (None values mean "the default"); unknown names are a :class:`ModelError`."""
        known = {f.name for f in dataclasses.fields(cls)}
        given = {k: v for k, v in values.items() if v is not None}
        bad = sorted(set(given) - known)
        if bad:
            raise ModelError(f"{model_type or cls.__name__} does not take hyperparameter(s) {', '.join(bad)}; "
                             f"it takes: {', '.join(sorted(known))}")
        return cls(**given)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def flags(cls) -> dict[str, str]:
        """CLI flag -> field name."""
        return {f.metadata["flag"]: f.name for f in dataclasses.fields(cls) if f.metadata.get("flag")}

    @classmethod
    def coerce(cls, name: str, raw: str) -> Any:
        """A ``--param NAME=VALUE`` string as the field's type (int, float, None for 'none')."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        if name not in fields:
            raise ModelError(f"unknown hyperparameter {name!r}; it takes: {', '.join(sorted(fields))}")
        if raw.strip().lower() in ("none", "null", ""):
            return None
        kind = str(fields[name].type)
        try:
            return int(raw) if kind.startswith("int") else float(raw)
        except ValueError:
            raise ModelError(f"--param {name}: {raw!r} is not a number") from None


@dataclass
class HeadArgs(ModelArgs):
    """Logistic head on frozen embeddings (``embedding-head``)."""

    C: float = field(default=DEFAULT_C, metadata=_flag("--C", help="Inverse regularisation of the logistic head."))
    max_iter: int = field(default=2000, metadata=_flag())


@dataclass
class SetFitArgs(ModelArgs):
    """SetFit: contrastive tuning of the body, then a logistic head.

    Defaults are sized for a few CPU minutes per run: 20 pair iterations per text (SetFit's default), one epoch,
    capped at 500 optimizer steps, with a body learning rate of 1e-4 so the capped run still moves the body.
    Against 2e-5 / 5 iterations (all-MiniLM-L6-v2, benchmarks/train.py): SST-5 64/class 41.1 vs 35.6, TREC
    10/class 86.0 vs 72.4, Banking77 10/class 81.6 vs 84.1 over 3 seeds (there the embedding-head is better: 85.0).
    """

    num_iterations: int = field(default=20, metadata=_flag("--num-iterations", help="Pairs per text."))
    num_epochs: int = field(default=1, metadata=_flag("--epochs"))
    batch_size: int = field(default=16, metadata=_flag("--batch-size"))
    body_learning_rate: float = field(default=1e-4, metadata=_flag("--learning-rate"))
    max_steps: int | None = field(default=500, metadata=_flag("--max-steps"))
    max_length: int | None = field(default=128, metadata=_flag())
    C: float = field(default=DEFAULT_C, metadata=_flag("--C"))
    num_threads: int | None = field(default=None, metadata=_flag("--threads"))


@dataclass
class FineTuneArgs(ModelArgs):
    """Full fine-tune. ``num_epochs=None`` picks the epochs from the data size (enough for ~500 optimizer steps,
    3 to 10: Banking77 at 10 per class went from 55.5% accuracy with 3 epochs to 82.3% with 10)."""

    num_epochs: int | None = field(default=None, metadata=_flag("--epochs"))
    batch_size: int = field(default=16, metadata=_flag("--batch-size"))
    learning_rate: float = field(default=1e-4, metadata=_flag("--learning-rate"))
    head_learning_rate: float = field(default=3e-3, metadata=_flag())
    max_steps: int | None = field(default=None, metadata=_flag("--max-steps"))
    max_length: int = field(default=128, metadata=_flag())
    warmup_ratio: float = field(default=0.1, metadata=_flag(low_inclusive=True, high=1.0))
    weight_decay: float = field(default=0.01, metadata=_flag(low_inclusive=True))
    num_threads: int | None = field(default=None, metadata=_flag("--threads"))

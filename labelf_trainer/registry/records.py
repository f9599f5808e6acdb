"""The registry's records: a model (id, type, labels, deployed version, threshold, routing) and its versions, and
the Labelf v2 model object built from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import ModelNotFoundError

__all__ = ["ModelRecord", "VersionRecord", "parse_model_ref"]


@dataclass(frozen=True)
class VersionRecord:
    model_id: int
    version: int
    path: Path
    metrics: dict[str, Any]
    training_examples: int
    last_trained: str
    params: dict[str, Any]
    encoder_fingerprint: str | None


@dataclass(frozen=True)
class ModelRecord:
    id: int
    name: str
    type: str
    labels: list[str]
    multi_label: bool
    confidence_threshold: float
    deployed_version: int | None
    routing: bool
    created_at: str
    versions: list[VersionRecord] = field(default_factory=list)
    auto_threshold: float | None = None

    @property
    def status(self) -> str:
        return "deployed" if self.deployed_version is not None else ("trained" if self.versions else "created")

    @property
    def current(self) -> VersionRecord | None:
        """The deployed version, else the newest."""
        for v in self.versions:
            if v.version == self.deployed_version:
                return v
        return self.versions[-1] if self.versions else None

    def version(self, number: int | None) -> VersionRecord:
        if number is None:
            if self.current is None:
                raise ModelNotFoundError(f"model {self.id} has no versions")
            return self.current
        for v in self.versions:
            if v.version == number:
                return v
        raise ModelNotFoundError(f"model {self.id} has no version {number} "
                                 f"(versions: {', '.join(str(v.version) for v in self.versions) or 'none'})")

    def to_api(self) -> dict[str, Any]:
        """The model object in the shape of the Labelf v2 API."""
        cur = self.current
        metrics = dict(cur.metrics) if cur else {}
        per_class = {
            lab: {k: v for k, v in m.items() if k in ("precision", "recall", "f1")}
            for lab, m in (metrics.get("per_class") or {}).items()
        }
        return {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "status": self.status,
            "labels": list(self.labels),
            "metrics": {"accuracy": metrics.get("accuracy"), "f1_macro": metrics.get("f1_macro"), "per_class": per_class,
                        **{k: metrics.get(k) for k in ("accuracy_interval", "accuracy_method", "accuracy_n",
                                                        "heldout_accuracy")},
                        "ece": (metrics.get("calibration") or {}).get("ece")},
            "training_examples": cur.training_examples if cur else 0,
            "last_trained": cur.last_trained if cur else None,
            "confidence_threshold": self.confidence_threshold,
        }


def parse_model_ref(ref: str) -> tuple[int, int | None]:
    """``"42"`` -> (42, None); ``"42@3"`` or ``"42@v3"`` -> (42, 3)."""
    head, _, ver = str(ref).partition("@")
    try:
        model_id = int(head)
        version = int(ver.lstrip("vV")) if ver else None
    except ValueError:
        raise ModelNotFoundError(f"invalid model reference {ref!r}: use ID or ID@VERSION, e.g. 42 or 42@3") from None
    return model_id, version

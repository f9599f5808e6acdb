"""The one routing-band rule: ``auto`` (act on the label), ``review`` (a person checks), ``human`` (a person labels).

Every consumer asks :func:`bands_for` for a model version's :class:`Bands` and calls :meth:`Bands.of`: the CLI's
``labelf predict``, the v2 API's ``bands`` field, routing of low-confidence traffic, the Label Studio push and the
ML backend. The thresholds come from the model and its version, in this order:

- ``review``: the model's ``confidence_threshold`` (``labelf models threshold ID VALUE``; the config's
  ``thresholds.review`` when the model was created);
- ``auto``: the model's own override (``labelf models threshold ID VALUE --auto X``), else the threshold the
  version's training recommended for ``thresholds.target_precision`` on held-out data (``metrics.bands.auto``),
  else the config's ``thresholds.auto``. It is never below ``review``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import Thresholds
    from .records import ModelRecord, VersionRecord

__all__ = ["Bands", "bands_for", "BAND_NAMES"]

BAND_NAMES = ("auto", "review", "human")


@dataclass(frozen=True)
class Bands:
    """``auto`` and ``review`` thresholds on the top confidence, and where each came from."""

    auto: float
    review: float
    source: str = ""

    def of(self, confidence: float) -> str:
        """``auto`` (>= auto), ``review`` (>= review) or ``human`` (below)."""
        if confidence >= self.auto:
            return "auto"
        return "review" if confidence >= self.review else "human"

    def to_dict(self) -> dict[str, Any]:
        return {"auto": round(self.auto, 4), "review": round(self.review, 4), "source": self.source}


def bands_for(record: "ModelRecord", version: "VersionRecord | None", defaults: "Thresholds") -> Bands:
    """The bands of ``version`` of ``record`` (see the module docstring for the order of sources)."""
    review = float(record.confidence_threshold)
    recommended = ((version.metrics.get("bands") or {}) if version is not None else {}).get("auto")
    if record.auto_threshold is not None:
        auto, source = float(record.auto_threshold), "set on the model"
    elif recommended is not None:
        auto, source = float(recommended), f"recommended by training v{version.version}"  # type: ignore[union-attr]
    else:
        auto, source = float(defaults.auto), "the config's thresholds.auto"
    return Bands(auto=max(auto, review), review=review, source=source)

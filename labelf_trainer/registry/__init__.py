"""The model registry: model ids, immutable versions, deployment, thresholds and routing flags.

- :mod:`.records`: :class:`ModelRecord` / :class:`VersionRecord` and the Labelf model object (``to_api``)
- :mod:`.registry`: :class:`ModelRegistry` (register, add versions, deploy, load)
- :mod:`.artefacts`: version folders on disk (temp folders, per-model lock, orphan recovery)
- :mod:`.bands`: the one routing-band rule (auto / review / human) of a model version
"""

from .bands import Bands, bands_for
from .records import ModelRecord, VersionRecord, parse_model_ref
from .registry import ACTIVE_MODEL_KEY, ModelRegistry

__all__ = ["ModelRecord", "VersionRecord", "ModelRegistry", "parse_model_ref", "ACTIVE_MODEL_KEY", "Bands",
           "bands_for"]

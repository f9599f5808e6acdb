"""Errors raised by labelf-trainer.

Every error a user can cause derives from :class:`LabelfError`; the CLI prints its message on one line and
exits non-zero, the service turns it into a 4xx JSON body. The tree::

    LabelfError
    ├── ConfigError            invalid or missing project config (names the file and the field)
    ├── DataError              unreadable or invalid input data (names the file, row or field)
    │   └── UnknownLabelError  labels that are not in the project config (lists them)
    ├── StoreError             the workspace database is missing or unusable
    ├── EncoderError           an encoder cannot be loaded or cannot do what was asked
    ├── ModelError             a model cannot be trained, loaded or used
    │   ├── ModelNotFoundError no such model id or version in the registry
    │   └── ModelMismatchError artefact does not match the expected labels or encoder
    ├── StrategyError          a query strategy cannot select (see labelf_trainer.strategies)
    └── ConnectorError         an external system (Label Studio) failed (see labelf_trainer.connectors)
"""

from __future__ import annotations

__all__ = [
    "LabelfError",
    "ConfigError",
    "DataError",
    "UnknownLabelError",
    "StoreError",
    "EncoderError",
    "ModelError",
    "ModelNotFoundError",
    "ModelMismatchError",
    "StrategyError",
    "ConnectorError",
]


class LabelfError(Exception):
    """Base class of every error a user can cause; its message is one actionable line."""


class ConfigError(LabelfError):
    """The project config is missing, malformed or invalid."""


class DataError(LabelfError):
    """Input data cannot be read or is invalid."""


class UnknownLabelError(DataError):
    """Labels that are not defined in the project config."""

    def __init__(self, unknown: list[str], known: list[str], where: str = "") -> None:
        self.unknown = sorted(set(unknown))
        self.known = list(known)
        loc = f" in {where}" if where else ""
        super().__init__(
            f"unknown label(s){loc}: {', '.join(repr(u) for u in self.unknown)}; "
            f"the config defines: {', '.join(repr(k) for k in self.known)}"
        )


class StoreError(LabelfError):
    """The workspace store is missing or unusable."""


class EncoderError(LabelfError):
    """An encoder cannot be loaded or does not support the requested operation."""


class ModelError(LabelfError):
    """A model cannot be trained, loaded or used."""


class ModelNotFoundError(ModelError):
    """No model (or version) with this id exists in the registry."""


class ModelMismatchError(ModelError):
    """A saved model does not match the expected label list or encoder."""


class StrategyError(LabelfError):
    """A query strategy cannot make a selection."""


class ConnectorError(LabelfError):
    """An external labeling system failed."""

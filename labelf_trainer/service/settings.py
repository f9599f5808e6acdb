"""Settings of the inference service: explicit arguments first, then ``LABELF_SERVE_*`` environment variables."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ServiceSettings", "ENV_PREFIX", "RUNTIMES"]

ENV_PREFIX = "LABELF_SERVE_"
RUNTIMES = ("torch", "onnx", "onnx-int8")  # labelf_trainer.models.runtime.RUNTIMES (this module stays light)


class ServiceSettings(BaseModel):
    """How the service behaves; every field can be set with ``LABELF_SERVE_<FIELD>`` (e.g. ``LABELF_SERVE_AUTH=0``).

    Usage::

        settings = ServiceSettings.from_env(reload_interval_s=0.5)
        app = create_app("configs/telecom.yaml", settings=settings)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    auth: bool = True
    """Require ``Authorization: Bearer <key>`` (keys from ``labelf keys create``) on everything but /health."""
    reload_interval_s: float = Field(1.0, ge=0.0)
    """How often (at most) a request checks the registry for newly deployed versions."""
    classify_cache_size: int = Field(1024, ge=0)
    """Responses of ``/v1/classify`` kept for identical requests (0 turns the cache off)."""
    zero_shot_cache_size: int = Field(64, ge=1)
    """Inline label sets of ``/v1/classify`` kept as fitted zero-shot models."""
    max_models_per_request: int = Field(32, ge=1)
    runtime: Literal["torch", "onnx", "onnx-int8"] = "torch"
    """How served sentence-transformers encoders run: torch (exact), or ONNX Runtime fp32 / int8 (faster; see
    :mod:`labelf_trainer.models.runtime`)."""
    routing: bool = True
    """Store low-confidence texts of models with routing on (``labelf models routing ID on``) for labeling."""
    routing_quota_per_hour: int = Field(1000, ge=0)
    """Texts one API key may route to the labeling pool per hour (more are counted in /metrics, not stored)."""
    routing_queue_size: int = Field(10_000, ge=1)
    """Routed texts waiting to be written (while another process holds the write lock); more are shed, counted."""
    classify_max_labels: int = Field(100, ge=1)
    """Inline labels per ``/v1/classify`` request (each is embedded)."""
    classify_max_examples: int = Field(200, ge=0)
    """Inline examples per ``/v1/classify`` request, over all labels (each is embedded)."""

    @classmethod
    def from_env(cls, **overrides: object) -> "ServiceSettings":
        values: dict[str, object] = {}
        for name in cls.model_fields:
            raw = os.environ.get(ENV_PREFIX + name.upper())
            if raw is not None:
                values[name] = raw.strip().lower() not in {"0", "false", "no", "off"} if name in ("auth", "routing") \
                    else raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)

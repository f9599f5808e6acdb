"""A project: its config, its workspace store and its model registry, and the operations that tie them together."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import DataSource, ProjectConfig, load_config
from ..exceptions import ConfigError
from ..registry import ModelRegistry
from ..store import Workspace

if TYPE_CHECKING:
    from ..models.zero_shot import ZeroShotClassifier

__all__ = ["Project", "ImportResult", "find_config", "POINTER_FILE"]

POINTER_FILE = ".labelf-project"
"""Written by ``labelf init`` in the current folder: the config path later commands use by default."""


def find_config(explicit: str | Path | None = None) -> Path:
    """The config to use: ``--config``, then ``$LABELF_CONFIG``, then ``./.labelf-project``, then ``./labelf.yaml``."""
    if explicit:
        return Path(explicit)
    if os.environ.get("LABELF_CONFIG"):
        return Path(os.environ["LABELF_CONFIG"])
    pointer = Path(POINTER_FILE)
    if pointer.is_file():
        return Path(pointer.read_text(encoding="utf-8").strip())
    if Path("labelf.yaml").is_file():
        return Path("labelf.yaml")
    raise ConfigError("no project config: pass --config FILE, set LABELF_CONFIG, or run `labelf init CONFIG` here")


@dataclass(frozen=True)
class ImportResult:
    path: Path
    read: int
    added: int
    skipped_known: int
    skipped_empty: int
    truncated: int


@dataclass
class Project:
    """Usage::

        project = Project.open("configs/telecom.yaml", create=True)
        project.import_sources()
        model_id = project.ensure_zero_shot()
    """

    config: ProjectConfig
    ws: Workspace
    registry: ModelRegistry

    @classmethod
    def open(cls, config: str | Path | ProjectConfig | None = None, *, create: bool = False) -> "Project":
        cfg = config if isinstance(config, ProjectConfig) else load_config(find_config(config))
        ws = Workspace.create(cfg.workspace_dir) if create else Workspace.open(cfg.workspace_dir)
        return cls(cfg, ws, ModelRegistry(ws))

    def close(self) -> None:
        self.ws.close()

    def __enter__(self) -> "Project":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- data ----------------------------------------------------------------------------------------------
    def import_file(self, path: str | Path, *, fmt: str = "auto", text_column: str = "text",
                    id_column: str | None = None, label_column: str | None = None) -> ImportResult:
        """Import a file into the pool; items already known (same id) are skipped, so re-import adds nothing."""
        from ..data import read_items

        path = Path(path)
        report = read_items(path, fmt=fmt, text_column=text_column, id_column=id_column, label_column=label_column)
        added, known = self.ws.items.add(report.items)
        return ImportResult(path, len(report.items), added, known, report.empty_skipped, report.truncated)

    def import_source(self, src: DataSource) -> ImportResult:
        return self.import_file(self.config.resolve(src.path), fmt=src.format, text_column=src.text_column,
                                id_column=src.id_column, label_column=src.label_column)

    def import_sources(self) -> list[ImportResult]:
        return [self.import_source(src) for src in self.config.data]

    # -- models --------------------------------------------------------------------------------------------
    def active_model_id(self) -> int:
        model_id = self.registry.active_model_id()
        if model_id is None:
            raise ConfigError("the project has no deployed model yet: run `labelf init CONFIG` first")
        return model_id

    def zero_shot(self) -> "ZeroShotClassifier":
        """A fitted zero-shot model from the config's labels, descriptions and examples."""
        from ..models.zero_shot import ZeroShotClassifier

        model = ZeroShotClassifier(self.config.labels, encoder=self.config.encoder,
                                   multi_label=self.config.multi_label)
        model.use_cache(self.ws.cache_dir)
        return model.fit()

    def ensure_zero_shot(self) -> tuple[int, int, bool]:
        """Create and deploy the zero-shot model, or a new version if the label descriptions, the out-of-scope label
        or its calibration (re-fitted once representative labels exist, :mod:`.cold_start`) changed.

        Returns (model_id, version, changed). The model becomes the project's active model if there is none, or
        if the active one no longer has the config's labels or task type (single-/multi-label).
        """
        from .cold_start import attach_zero_shot_trust

        model = self.zero_shot()
        trust = attach_zero_shot_trust(self, model)
        params = {**self._zs_params(), "trust": trust}
        labels = list(model.classes_ or [])
        multi = self.config.multi_label
        existing = [m for m in self.registry.list()
                    if m.type == "zero-shot" and m.labels == labels and m.multi_label == multi]
        if existing:
            rec = existing[-1]
            cur = rec.current
            same = cur is not None and cur.params.get("label_specs") == params["label_specs"] \
                and cur.encoder_fingerprint == model.encoder_fingerprint \
                and (cur.params.get("trust") or {}).get("calibration") == trust["calibration"]
            if same and cur is not None:
                model_id, version, changed = rec.id, cur.version, False
            else:
                model_id, changed = rec.id, True
                version = self.registry.add_version(rec.id, model, params=params, deploy=True)
        else:
            model_id, version = self.registry.register(
                f"{self.config.project} (describe and classify)", model, params=params, deploy=True,
                confidence_threshold=self.config.thresholds.review)
            changed = True
        active = self.registry.active_model_id()
        fits = (self.config.label_names, self.config.answer_labels)
        if active is None or self.registry.get(active).labels not in fits or self.registry.get(active).multi_label != multi:
            self.registry.set_active(model_id)  # none yet, or the labels or the task type changed in the config
        return model_id, version, changed

    def _zs_params(self) -> dict[str, Any]:
        return {"encoder": self.config.encoder, "label_specs": [lab.model_dump() for lab in self.config.labels]}

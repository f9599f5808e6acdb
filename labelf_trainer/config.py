"""Project config: a YAML file that names the labels, the encoder, the data and the workspace.

Every validation error names the file and the field (``configs/x.yaml: labels.2.name: ...``). Relative paths in the
config are resolved against the config file's folder. See ``configs/README.md`` for every field.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator,
                      model_validator)

from .exceptions import ConfigError

__all__ = [
    "LabelSpec",
    "DataSource",
    "LabelingConfig",
    "LabelStudioConfig",
    "Thresholds",
    "OutOfScopeConfig",
    "SamplerConfig",
    "TrainingConfig",
    "LongTextsConfig",
    "RuleSpec",
    "ProjectConfig",
    "load_config",
    "MAX_TEXT_CHARS",
    "humanize_label",
]

MAX_TEXT_CHARS = 10_000
"""Longest text accepted by predict and the API (the Labelf limit); longer texts are truncated on import."""


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def humanize_label(name: str) -> str:
    """A label name as words for an encoder: ``card_arrival``, ``card-arrival`` and ``CardArrival`` all become
    ``card arrival`` (case kept: ``Card Arrival``); names that are already words are unchanged."""
    spaced = _CAMEL.sub(" ", name.replace("_", " ").replace("-", " "))
    return " ".join(spaced.split())


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def check_label_name(v: str) -> str:
    """A label name as written in label files: no surrounding whitespace, no ``|`` (which separates labels)."""
    if v != v.strip():
        raise ValueError("label name must not start or end with whitespace")
    if "|" in v:
        raise ValueError("label name must not contain '|' (it separates labels in label files)")
    return v


class LabelSpec(_Strict):
    """One label: its name (returned as-is in predictions), a plain-text description and optional examples."""

    name: str = Field(min_length=1, max_length=100)
    description: str = ""
    examples: list[str] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_label_name(v)

    @property
    def prompt(self) -> str:
        """The text embedded for this label by the zero-shot model: its name in words, then its description."""
        words = humanize_label(self.name)
        return f"{words}: {self.description}" if self.description else words


class DataSource(_Strict):
    """A file of texts to import into the pool (CSV, JSONL or Parquet)."""

    path: Path
    format: Literal["auto", "csv", "jsonl", "parquet", "txt"] = "auto"
    text_column: str = "text"
    id_column: str | None = None
    label_column: str | None = None
    """Optional column with gold labels; only used by the demo's simulated annotator and `labelf label`."""


ConflictPolicy = Literal["majority", "latest", "conflict"]


class LabelingConfig(_Strict):
    """Where annotators label: the connector ``labelf push``/``pull`` and ``suggest --push`` use."""

    connector: Literal["label-studio", "folder"] = "label-studio"
    folder: Path = Path("labeling")
    """The folder connector's folder (relative to the config file)."""
    conflict_policy: ConflictPolicy = "majority"
    """Several annotators on one text: majority vote (ties are conflicts), the latest wins, or keep the conflict."""


class LabelStudioConfig(_Strict):
    """Connection to a Label Studio server. The token is read from the environment variable ``token_env``."""

    url: str = "http://127.0.0.1:8080"
    token_env: str = "LABEL_STUDIO_API_KEY"
    project_id: int | None = None
    project_title: str | None = None
    conflict_policy: ConflictPolicy | None = None
    """Kept for older configs: ``labeling.conflict_policy`` when that is not set."""
    retrain_every: int = Field(20, ge=1)  # ML backend: retrain after this many new annotations

    @property
    def token(self) -> str | None:
        return os.environ.get(self.token_env) or None


class Thresholds(_Strict):
    """Confidence routing bands (Labelf defaults): auto >= 0.9, review 0.7-0.9, human < 0.7."""

    auto: float = Field(0.9, ge=0.0, le=1.0)
    review: float = Field(0.7, ge=0.0, le=1.0)
    target_precision: float = Field(0.9, gt=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> "Thresholds":
        if self.review > self.auto:
            raise ValueError(f"review ({self.review}) must not be above auto ({self.auto})")
        return self


class OutOfScopeConfig(_Strict):
    """A "none of these" label for texts that fit no defined label (``out_of_scope: {label: Other}``).

    Every model answers with it (last in its label list), annotators can choose it in Label Studio and in label
    files, and ``labelf evaluate`` reports its recall and precision. In label and test files the ``aliases`` mean
    the same label (e.g. ``oos`` in public intent datasets).
    """

    label: str = Field("Other", min_length=1, max_length=100)
    description: str = "the text fits none of the labels"
    aliases: list[str] = Field(default_factory=lambda: ["oos", "out_of_scope", "out-of-scope", "none"])
    expected_share: float = Field(0.1, ge=0.0, lt=1.0)
    """Share of the traffic assumed out of scope when choosing the auto band, until audit labels measure it."""
    max_accuracy_loss: float = Field(0.01, gt=0.0, lt=0.5)
    """In-scope accuracy the detector may cost, measured out of fold on the labeled texts."""

    @field_validator("label")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_label_name(v)


class SamplerConfig(_Strict):
    """Weights and limits of the combined active-learning sampler."""

    uncertainty_weight: float = Field(1.0, ge=0.0)
    density_weight: float = Field(0.5, ge=0.0)
    diversity_weight: float = Field(1.0, ge=0.0)
    rare_quota: float = Field(0.3, ge=0.0, le=1.0)
    rare_target: int = Field(10, ge=1)
    near_duplicate_threshold: float = Field(0.95, gt=0.0, le=1.0)
    pending_expiry_days: float = Field(14.0, gt=0.0)
    max_candidates: int = Field(100_000, ge=100)
    """Candidates one `labelf suggest` scores: a larger pool is sampled uniformly at random to this many (a new
    sample each batch; routed service traffic first), so time and memory stay bounded on a million-text pool."""
    audit_share: float = Field(0.05, ge=0.0, le=0.5)
    """Share of every batch drawn uniformly at random from the pool and marked as audit: the labels that make the
    model's accuracy figure an estimate of the traffic, not of the sampler's picks (0 turns it off)."""
    overlap: float = Field(0.0, ge=0.0, le=1.0)
    """Share of the tasks that two annotators label in Label Studio (its overlap setting: at most 2 annotations per
    task for that share of tasks), the texts `labelf agreement` measures on; 0: one annotator per task."""


class TrainingConfig(_Strict):
    """Defaults for `labelf train`."""

    type: str = "embedding-head"
    """A trainable model type of :mod:`labelf_trainer.models.specs`."""
    eval_split: float = Field(0.2, gt=0.0, lt=1.0)
    seed: int = Field(42, ge=0)
    #: self-train single-label embedding-head models on unlabeled texts of languages with few labels:
    #: ``auto`` with a known multilingual encoder, ``on`` with any encoder, ``off`` never
    language_adaptation: Literal["auto", "on", "off"] = "auto"
    #: single-label frozen-encoder models also learn from pseudo-labels of the unlabeled pool: ``auto`` keeps
    #: self-training only where it beats labels alone on the held-out labels; ``self``, ``propagation``, ``off``
    pool_learning: Literal["auto", "self", "propagation", "off"] = "auto"

    @field_validator("type")
    @classmethod
    def _trainable(cls, v: str) -> str:
        from .models.specs import model_types

        if v not in model_types(trainable=True):
            raise ValueError(f"must be one of {', '.join(model_types(trainable=True))}, not {v!r}")
        return v

    @field_validator("language_adaptation", "pool_learning", mode="before")
    @classmethod
    def _yaml_bool(cls, v: object) -> object:
        return {True: "on", False: "off"}.get(v, v) if isinstance(v, bool) else v  # YAML reads on/off as booleans


class LongTextsConfig(_Strict):
    """Texts longer than the encoder's window (whole call transcripts): split into windows at speaker turns, one
    pooled vector per text, and multi-label models also score every window and turn (``docs/long_texts.md``)."""

    strategy: Literal["windows", "truncate"] = "windows"
    window: int | None = Field(None, ge=16)
    """Tokens per window, special tokens included; null: the encoder's own limit (256 for minilm)."""
    overlap: int = Field(1, ge=0, le=8)
    """Speaker turns repeated at the start of the next window."""
    max_windows: int = Field(16, ge=1, le=256)
    pooling: Literal["mean", "max", "meanmax"] = "mean"
    turn_scores: bool = True
    """Multi-label: score every speaker turn too, not only every window."""
    turn_vectors: Literal["own", "late"] = "own"
    """How a turn gets its vector: embedded on its own (a head trained on short messages reads it as a message), or
    late-chunked from its window's token vectors (cheaper; better for models trained on whole conversations)."""


class RuleSpec(_Strict):
    """Keyword and pattern rules for one label (``rules: {Cancellation: {phrases: [...], patterns: [...]}}``; a plain
    list means phrases). A phrase matches as whole words, case-insensitively; a pattern is a Python regular
    expression searched case-insensitively. Rules mark texts for a label: they never overwrite a human label
    (``docs/quality.md``)."""

    phrases: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)

    @field_validator("phrases")
    @classmethod
    def _phrases(cls, v: list[str]) -> list[str]:
        for i, phrase in enumerate(v):
            if not phrase.strip():
                raise ValueError(f"phrase {i} is empty")
        return [" ".join(p.split()) for p in v]

    @field_validator("patterns")
    @classmethod
    def _patterns(cls, v: list[str]) -> list[str]:
        for i, pattern in enumerate(v):
            try:
                rx = re.compile(pattern, re.IGNORECASE)
            except re.error as e:
                raise ValueError(f"pattern {i} {pattern!r} is not a valid regular expression: {e}") from None
            if rx.search(""):
                raise ValueError(f"pattern {i} {pattern!r} matches the empty text (it would mark every text)")
        return v

    @model_validator(mode="after")
    def _not_empty(self) -> "RuleSpec":
        if not self.phrases and not self.patterns:
            raise ValueError("give at least one phrase or pattern")
        return self


class ProjectConfig(_Strict):
    """A labelf-trainer project."""

    project: str = Field(min_length=1)
    task: Literal["single-label", "multi-label"] = "single-label"
    labels: list[LabelSpec] = Field(min_length=2)
    out_of_scope: OutOfScopeConfig | None = None
    encoder: str = "minilm"
    data: list[DataSource] = Field(default_factory=list)
    labeling: LabelingConfig = Field(default_factory=LabelingConfig)
    label_studio: LabelStudioConfig = Field(default_factory=LabelStudioConfig)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    sampler: SamplerConfig = Field(default_factory=SamplerConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    long_texts: LongTextsConfig = Field(default_factory=LongTextsConfig)
    rules: dict[str, RuleSpec] = Field(default_factory=dict)
    """Per label (a defined label or the out-of-scope one): phrases and patterns that mark texts for it."""
    workspace: Path = Path(".labelf")
    source_path: Path | None = Field(default=None, exclude=True)

    @field_validator("labels")
    @classmethod
    def _unique(cls, labels: list[LabelSpec]) -> list[LabelSpec]:
        seen: set[str] = set()
        dups = [lab.name for lab in labels if lab.name in seen or seen.add(lab.name)]  # type: ignore[func-returns-value]
        if dups:
            raise ValueError(f"duplicate label name(s): {', '.join(sorted(set(dups)))}")
        return labels

    @field_validator("rules", mode="before")
    @classmethod
    def _rules_lists(cls, v: object) -> object:
        if v is None:
            return {}
        if isinstance(v, dict):  # ``Label: [phrase, ...]`` is shorthand for ``Label: {phrases: [...]}``
            return {k: {"phrases": r} if isinstance(r, list) else r for k, r in v.items()}
        return v

    @field_validator("rules")
    @classmethod
    def _rules_labels(cls, v: dict[str, RuleSpec], info: ValidationInfo) -> dict[str, RuleSpec]:
        labels = [lab.name for lab in info.data.get("labels") or []]
        oos = info.data.get("out_of_scope")
        known = labels + ([oos.label] if oos is not None else [])
        unknown = [k for k in v if k not in known]
        if unknown and labels:
            raise ValueError(f"{', '.join(map(repr, unknown))} is not a label; rules name one of: {', '.join(known)}")
        return v

    @field_validator("out_of_scope", mode="before")
    @classmethod
    def _oos_bool(cls, v: object) -> object:
        return {True: {}, False: None}.get(v, v) if isinstance(v, bool) else v  # out_of_scope: true

    @model_validator(mode="after")
    def _oos_not_a_label(self) -> "ProjectConfig":
        if self.out_of_scope is not None:
            names = {lab.name.lower() for lab in self.labels}
            clash = [n for n in [self.out_of_scope.label, *self.out_of_scope.aliases] if n.lower() in names]
            if clash:
                raise ValueError(f"out_of_scope: {', '.join(map(repr, clash))} is also a label; give the "
                                 "out-of-scope label (and its aliases) a name no label has")
        return self

    @model_validator(mode="after")
    def _old_conflict_policy(self) -> "ProjectConfig":
        old = self.label_studio.conflict_policy
        if old is not None and "conflict_policy" not in self.labeling.model_fields_set:
            object.__setattr__(self, "labeling", self.labeling.model_copy(update={"conflict_policy": old}))
        return self

    @property
    def label_names(self) -> list[str]:
        """The defined labels (what models score)."""
        return [lab.name for lab in self.labels]

    @property
    def answer_labels(self) -> list[str]:
        """The labels models answer with and annotators choose from: the defined ones, then the out-of-scope one."""
        return self.label_names + ([self.out_of_scope.label] if self.out_of_scope else [])

    @property
    def answer_specs(self) -> list[LabelSpec]:
        """:attr:`answer_labels` with their descriptions."""
        oos = self.out_of_scope
        return list(self.labels) + ([LabelSpec(name=oos.label, description=oos.description)] if oos else [])

    @property
    def oos_label(self) -> str | None:
        return self.out_of_scope.label if self.out_of_scope else None

    def canonical_label(self, name: str) -> str:
        """``name``, or the out-of-scope label when ``name`` is one of its aliases (case-insensitive)."""
        oos = self.out_of_scope
        if oos is not None and name.lower() in {a.lower() for a in [oos.label, *oos.aliases]}:
            return oos.label
        return name

    @property
    def multi_label(self) -> bool:
        return self.task == "multi-label"

    @property
    def base_dir(self) -> Path:
        return self.source_path.parent if self.source_path else Path.cwd()

    def resolve(self, p: Path | str) -> Path:
        """Resolve a path from the config relative to the config file's folder."""
        p = Path(p).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)

    @property
    def workspace_dir(self) -> Path:
        return self.resolve(self.workspace)


def _format_error(path: Path, err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"]) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown field"
            if loc.endswith("token"):
                msg += " (tokens never go in the config: set label_studio.token_env and export that variable)"
        elif e["type"] == "missing":
            msg = "field required"
        parts.append(f"{loc}: {msg}")
    return f"{path}: " + "; ".join(parts)


def load_config(path: str | Path) -> ProjectConfig:
    """Read and validate a project config; raise :class:`ConfigError` naming the file and field."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ConfigError(f"{path}: invalid YAML{where}: {getattr(e, 'problem', e)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of fields at the top level")
    try:
        cfg = ProjectConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(_format_error(path, e)) from None
    cfg = cfg.model_copy(update={"source_path": path.absolute()})  # not resolve(): configs/ may be a link
    for i, src in enumerate(cfg.data):
        if not cfg.resolve(src.path).exists():
            raise ConfigError(f"{path}: data.{i}.path: file not found: {cfg.resolve(src.path)}")
    return cfg

"""The model-type table (models/specs.py) and the per-type args dataclasses (models/args.py): what the registry,
training, the config and `labelf train` read."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pydantic
import pytest
from helpers.cli import error_line

from labelf_trainer.config import TrainingConfig
from labelf_trainer.exceptions import ModelError
from labelf_trainer.loop.project import Project
from labelf_trainer.models.args import ModelArgs
from labelf_trainer.models.specs import MODEL_SPECS, model_spec, model_types


@pytest.mark.parametrize("name", list(MODEL_SPECS))
def test_every_spec_class_loads_and_has_the_spec_model_type(name: str) -> None:
    spec = model_spec(name)
    cls = spec.load_class()
    assert cls.model_type == spec.name
    assert cls.__name__ == spec.target.split(":")[1]
    if spec.trainable:
        assert spec.args is not None and issubclass(spec.args, ModelArgs)
    else:
        assert spec.args is None
        with pytest.raises(ModelError, match="takes no hyperparameters"):
            spec.make_args({"C": 1.0})


def test_the_table_partitions_the_types() -> None:
    names = model_types()
    assert names == tuple(MODEL_SPECS) and len(set(names)) == len(names)
    assert set(model_types(trainable=True)) | set(model_types(trainable=False)) == set(names)
    assert not set(model_types(trainable=True)) & set(model_types(trainable=False))
    assert set(model_types(frozen_encoder=True)) == {n for n in names if MODEL_SPECS[n].frozen_encoder}
    with pytest.raises(ModelError, match="unknown model type 'nope'; known: " + ", ".join(names)):
        model_spec("nope")


def test_training_config_type_accepts_exactly_the_trainable_types() -> None:
    accepted = set()
    for name in [*MODEL_SPECS, "nope", "Setfit", ""]:
        try:
            TrainingConfig(type=name)
        except pydantic.ValidationError as e:
            assert "must be one of " + ", ".join(model_types(trainable=True)) in str(e)
        else:
            accepted.add(name)
    assert accepted == set(model_types(trainable=True))


def test_a_config_with_an_untrainable_type_names_the_field(make_config) -> None:
    from labelf_trainer.config import load_config
    from labelf_trainer.exceptions import ConfigError

    with pytest.raises(ConfigError, match="training.type") as info:
        load_config(make_config(training={"type": "zero-shot"}))
    assert "embedding-head" in str(info.value)


@pytest.mark.parametrize("name", model_types(trainable=True))
def test_args_round_trip_through_dicts(name: str) -> None:
    args_cls = model_spec(name).args
    assert args_cls is not None
    default = args_cls()
    assert args_cls.from_dict(default.to_dict(), model_type=name) == default
    # every field changed from its default (numbers only: that is what the table holds)
    changed = {}
    for f in dataclasses.fields(args_cls):
        value = getattr(default, f.name)
        changed[f.name] = 3 if value is None else type(value)(value * 2 if value else 1)
    changed = {k: (min(v, 0.5) if k == "warmup_ratio" else v) for k, v in changed.items()}
    args = args_cls.from_dict(changed, model_type=name)
    assert args.to_dict() == changed
    assert args_cls.from_dict(args.to_dict(), model_type=name) == args
    assert model_spec(name).make_args(changed) == args
    # None means "the default"
    assert args_cls.from_dict({k: None for k in changed}, model_type=name) == default
    with pytest.raises(ModelError, match=f"{name} does not take hyperparameter\\(s\\) bogus; it takes: "):
        args_cls.from_dict({"bogus": 1}, model_type=name)


@pytest.mark.parametrize("name", model_types(trainable=True))
def test_args_reject_out_of_range_values_naming_the_flag(name: str) -> None:
    args_cls = model_spec(name).args
    assert args_cls is not None
    for f in dataclasses.fields(args_cls):
        meta = f.metadata
        low = meta.get("low")
        if low is None:
            continue
        flag = meta.get("flag") or f.name
        bad = low - 1 if meta.get("low_inclusive") else low
        with pytest.raises(ModelError, match=f"^{flag} must be "):
            args_cls(**{f.name: bad})
        with pytest.raises(ModelError, match=f"^{flag} must be a number"):
            args_cls(**{f.name: float("nan")})


def test_every_flag_of_the_table_is_a_labelf_train_option(cli) -> None:
    r = cli("train", "--help")
    assert r.returncode == 0, r.stderr
    flags = {flag for name in model_types(trainable=True) for flag in model_spec(name).args.flags()}
    assert flags and all(flag in r.stdout for flag in flags), (flags, r.stdout)


@pytest.fixture(scope="module")
def train_project(initialised_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised project folder (static encoder, `labelf.yaml`): the flags below fail before any training."""
    d = tmp_path_factory.mktemp("specs")
    shutil.copytree(initialised_project, d, dirs_exist_ok=True)
    return d


@pytest.mark.parametrize("args, message", [
    (["--type", "setfit", "--C", "0"], "error: --C must be greater than 0, not 0.0"),
    (["--type", "setfit", "--threads", "0"], "error: --threads must be greater than 0, not 0"),
    (["--type", "fine-tuned", "--threads", "-2"], "error: --threads must be greater than 0, not -2"),
    (["--type", "fine-tuned", "--num-iterations", "5"],
     "error: --num-iterations not applicable to --type fine-tuned; it takes: "),
    (["--type", "embedding-head", "--learning-rate", "0.1"],
     "error: --learning-rate not applicable to --type embedding-head; it takes: --C"),
    (["--type", "setfit", "--param", "unknown=1"], "error: unknown hyperparameter 'unknown'; it takes: "),
    (["--type", "setfit", "--param", "max_length=abc"], "error: --param max_length: 'abc' is not a number"),
    (["--type", "fine-tuned", "--param", "warmup_ratio=1.5"], "error: warmup_ratio must be below 1, not 1.5"),
    (["--type", "setfit", "--param", "max_length"], "error: --param must be NAME=VALUE for a hyperparameter of "
                                                    "setfit, not 'max_length'"),
    (["--type", "zero-shot"], "error: --type must be a trainable model type, not 'zero-shot'"),
    (["--type", "nope"], "error: unknown model type 'nope'; known: zero-shot, embedding-head"),
])
def test_bad_train_flags_are_one_clear_line(cli, train_project: Path, args: list[str], message: str) -> None:
    line = error_line(cli("train", *args, cwd=train_project))
    assert line.startswith(message), line
    assert len(line) < 300
    with Project.open(train_project / "labelf.yaml") as project:  # nothing was trained or registered
        assert [(m.id, len(m.versions)) for m in project.registry.list()] == [(1, 1)]

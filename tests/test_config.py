from pathlib import Path

import pytest
import yaml

from labelf_trainer.config import load_config
from labelf_trainer.exceptions import ConfigError


def _write(tmp_path: Path, cfg: dict) -> Path:
    p = tmp_path / "p.yaml"
    p.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return p


BASE = {"project": "x", "labels": [{"name": "A", "description": "a"}, {"name": "B"}]}


def test_valid_config_defaults(tmp_path):
    cfg = load_config(_write(tmp_path, BASE))
    assert cfg.label_names == ["A", "B"]
    assert (cfg.thresholds.auto, cfg.thresholds.review) == (0.9, 0.7)
    assert cfg.workspace_dir == tmp_path / ".labelf"
    assert cfg.labels[0].prompt == "A: a" and cfg.labels[1].prompt == "B"


def test_missing_labels_names_field_and_file(tmp_path):
    p = _write(tmp_path, {"project": "x"})
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert str(p) in str(e.value) and "labels: field required" in str(e.value)


def test_duplicate_labels(tmp_path):
    p = _write(tmp_path, {"project": "x", "labels": [{"name": "A"}, {"name": "A"}, {"name": "B"}]})
    with pytest.raises(ConfigError, match=r"labels: .*duplicate label name\(s\): A"):
        load_config(p)


@pytest.mark.parametrize("cfg, needle", [
    ({"project": "x", "labels": [{"name": "Fees|Charges"}, {"name": "B"}]}, r"labels\.0\.name: .*must not contain '\|'"),
    ({**BASE, "training": {"seed": -1}}, r"training\.seed: .*greater than or equal to 0"),
])
def test_invalid_values_name_the_field(tmp_path, cfg, needle):
    with pytest.raises(ConfigError, match=needle):
        load_config(_write(tmp_path, cfg))


def test_unknown_field_is_named(tmp_path):
    p = _write(tmp_path, {**BASE, "thresholds": {"auto": 0.9, "reveiw": 0.5}})
    with pytest.raises(ConfigError, match=r"p\.yaml: thresholds\.reveiw: unknown field"):
        load_config(p)


def test_token_in_file_is_refused_with_hint(tmp_path):
    p = _write(tmp_path, {**BASE, "label_studio": {"url": "http://x", "token": "secret"}})
    with pytest.raises(ConfigError, match="tokens never go in the config"):
        load_config(p)


def test_missing_config_and_missing_data_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    p = _write(tmp_path, {**BASE, "data": [{"path": "missing.csv"}]})
    with pytest.raises(ConfigError, match=r"data\.0\.path: file not found"):
        load_config(p)


def test_bad_yaml_and_bad_thresholds(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("project: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(p)
    p = _write(tmp_path, {**BASE, "thresholds": {"auto": 0.6, "review": 0.8}})
    with pytest.raises(ConfigError, match="review .* must not be above auto"):
        load_config(p)


def test_single_label_needs_two_labels(tmp_path):
    with pytest.raises(ConfigError, match="labels"):
        load_config(_write(tmp_path, {"project": "x", "labels": [{"name": "A"}]}))

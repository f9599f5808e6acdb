"""The connector layer: one protocol (connectors/base.py), one table of connectors, ``make_connector``."""

from __future__ import annotations

import inspect
import typing

import pytest

from labelf_trainer.config import LabelingConfig, load_config
from labelf_trainer.connectors import CONNECTORS, make_connector
from labelf_trainer.connectors.base import Connector
from labelf_trainer.exceptions import ConfigError
from labelf_trainer.loop.project import Project

PROTOCOL_METHODS = ("check", "sync_labels", "push", "pull")


@pytest.mark.parametrize("name", list(CONNECTORS))
def test_every_connector_satisfies_the_protocol(tmp_project: Project, name: str) -> None:
    conn = make_connector(tmp_project, name)  # built without touching the tool: no server, no folder needed
    assert isinstance(conn, Connector)
    assert conn.name == name and type(conn).__name__ == CONNECTORS[name].split(":")[1]
    for method in PROTOCOL_METHODS:  # same parameters, same kinds, same defaults as the protocol
        want = inspect.signature(getattr(Connector, method))
        got = inspect.signature(getattr(type(conn), method))
        assert [(p.name, p.kind, p.default) for p in got.parameters.values()] == \
            [(p.name, p.kind, p.default) for p in want.parameters.values()], (name, method, got)


def test_the_config_offers_exactly_the_known_connectors(make_config) -> None:
    offered = typing.get_args(LabelingConfig.model_fields["connector"].annotation)
    assert set(offered) == set(CONNECTORS)
    with pytest.raises(ConfigError, match="labeling.connector"):
        load_config(make_config(labeling={"connector": "dropbox"}))


def test_make_connector_names_unknown_connectors(tmp_project: Project) -> None:
    with pytest.raises(ConfigError) as info:
        make_connector(tmp_project, "dropbox")
    assert str(info.value) == f"unknown connector 'dropbox'; use one of: {', '.join(CONNECTORS)}"


def test_make_connector_follows_the_config(make_config) -> None:
    with Project.open(make_config(labeling={"connector": "folder", "folder": "to-label"}), create=True) as project:
        conn = make_connector(project)
        assert conn.name == "folder"
        assert conn.path.resolve() == (project.config.source_path.parent / "to-label").resolve()
        assert make_connector(project, "label-studio").name == "label-studio"  # an explicit name wins

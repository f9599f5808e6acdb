import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from labelf_trainer.exceptions import ModelNotFoundError
from labelf_trainer.models import ZeroShotClassifier
from labelf_trainer.registry import ModelRegistry, parse_model_ref
from labelf_trainer.store import Workspace

TEXTS = ["my bill is wrong", "internet down", "cancel please"]


def test_model_object_has_labelf_shape(tmp_project):
    rec = tmp_project.registry.get(tmp_project.active_model_id())
    obj = rec.to_api()
    assert list(obj) == ["id", "name", "type", "status", "labels", "metrics", "training_examples", "last_trained",
                         "confidence_threshold"]
    assert obj["type"] == "zero-shot" and obj["status"] == "deployed"
    assert set(obj["metrics"]) == {"accuracy", "f1_macro", "per_class"}
    assert obj["last_trained"].endswith("Z")


def test_versions_are_immutable_and_deploy_moves(tmp_project):
    reg = tmp_project.registry
    mid = tmp_project.active_model_id()
    p1 = reg.load(mid).predict_proba(TEXTS)
    labels = list(tmp_project.config.labels)
    labels[0] = labels[0].model_copy(update={"description": "money"})
    m2 = ZeroShotClassifier(labels, encoder="static").fit()
    v2 = reg.add_version(mid, m2, deploy=False)
    assert v2 == 2 and reg.get(mid).deployed_version == 1
    assert np.array_equal(reg.load(mid).predict_proba(TEXTS), p1)
    reg.deploy(mid, 2)
    assert reg.get(mid).deployed_version == 2
    assert np.array_equal(reg.load(mid, 1).predict_proba(TEXTS), p1)
    with pytest.raises(ModelNotFoundError, match="has no version 9"):
        reg.load(mid, 9)
    assert parse_model_ref("42@v3") == (42, 3)


def test_failed_write_leaves_previous_version_intact(tmp_project, monkeypatch):
    reg = tmp_project.registry
    mid = tmp_project.active_model_id()
    before = reg.load(mid).predict_proba(TEXTS)
    model = ZeroShotClassifier(tmp_project.config.labels, encoder="static").fit()

    def exploding_save(self, path):
        (path / "weights.safetensors").write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(ZeroShotClassifier, "_save", exploding_save)
    with pytest.raises(KeyboardInterrupt):
        reg.add_version(mid, model, deploy=True)
    rec = reg.get(mid)
    assert [v.version for v in rec.versions] == [1] and rec.deployed_version == 1
    assert np.array_equal(reg.load(mid).predict_proba(TEXTS), before)
    assert sorted(p.name for p in (tmp_project.ws.models_dir / str(mid)).iterdir()) == ["v1"]


def test_killed_writer_process_leaves_registry_loadable(tmp_project):
    """SIGKILL a process in the middle of writing a version: the registry still serves v1, v2 is clean later."""
    ws_root = tmp_project.ws.root
    cfg = tmp_project.config.source_path
    mid = tmp_project.active_model_id()
    child = textwrap.dedent(f"""
        import time, sys
        from pathlib import Path
        from labelf_trainer.loop.project import Project
        from labelf_trainer.models import ZeroShotClassifier
        orig = ZeroShotClassifier._save
        def slow_save(self, path):
            out = orig(self, path)
            Path(sys.argv[1]).write_text("saving")
            time.sleep(60)
            return out
        ZeroShotClassifier._save = slow_save
        p = Project.open({str(cfg)!r})
        p.registry.add_version({mid}, p.zero_shot(), deploy=True)
    """)
    flag = ws_root / "flag"
    proc = subprocess.Popen([sys.executable, "-c", child, str(flag)])
    try:
        for _ in range(600):
            if flag.exists():
                break
            time.sleep(0.1)
        assert flag.exists(), "child never reached the save"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    ws = Workspace.open(ws_root)
    reg = ModelRegistry(ws)
    rec = reg.get(mid)
    assert [v.version for v in rec.versions] == [1] and rec.deployed_version == 1
    assert reg.load(mid).predict(TEXTS)
    assert any(p.name.startswith(".tmp-") for p in (ws.models_dir / str(mid)).iterdir())  # the torn write
    v2 = reg.add_version(mid, ZeroShotClassifier(tmp_project.config.labels, encoder="static").fit())
    assert v2 == 2
    assert sorted(p.name for p in (ws.models_dir / str(mid)).iterdir()) == ["v1", "v2"]  # cleaned up


def test_switching_the_task_to_multi_label_makes_a_new_active_model(make_config):
    from labelf_trainer.loop.project import Project

    with Project.open(make_config(), create=True) as project:
        project.import_sources()
        single, _, _ = project.ensure_zero_shot()
    with Project.open(make_config(task="multi-label"), create=True) as project:
        multi, _, changed = project.ensure_zero_shot()
        assert changed and multi != single and project.active_model_id() == multi
        proba = project.registry.load(multi).predict_proba(["I was charged twice and want to cancel"])
        assert project.registry.get(multi).multi_label and not np.isclose(proba.sum(), 1.0)
        with pytest.raises(Exception, match="is single-label, the new version is multi-label"):
            project.registry.add_version(single, project.zero_shot())
        assert project.ensure_zero_shot() == (multi, 1, False)  # again: unchanged

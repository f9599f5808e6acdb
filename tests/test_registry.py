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
    assert set(obj["metrics"]) == {"accuracy", "f1_macro", "per_class",  # the documented ones, then how it was got
                                   "accuracy_interval", "accuracy_method", "accuracy_n", "heldout_accuracy", "ece"}
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


# -- concurrency and crashes (registry/artefacts.py) ---------------------------------------------------------------
CHILD_PRELUDE = """
import sys, time
from pathlib import Path
from labelf_trainer.loop.project import Project
from labelf_trainer.models import ZeroShotClassifier
import labelf_trainer.registry.registry as registry_module
from labelf_trainer.store.models import ModelStore
cfg, mid, flag = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])

def stop_here(what):
    flag.write_text(what)
    time.sleep(120)  # killed here by the test
"""


def _run_child(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD_PRELUDE + textwrap.dedent(code), *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(path, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"child exited ({proc.returncode}) before {path.name}: {proc.stderr.read()}")
        assert time.monotonic() < deadline, f"child never wrote {path.name}"
        time.sleep(0.05)


def _entries(ws: Workspace, mid: int) -> list[str]:
    return sorted(p.name for p in (ws.models_dir / str(mid)).iterdir())


def test_two_processes_adding_versions_at_once_get_consecutive_versions(tmp_project):
    """Both children are inside the save (in their temp folders) at the same time, then both publish."""
    cfg, mid = tmp_project.config.source_path, tmp_project.active_model_id()
    ready = tmp_project.ws.root
    child = """
        orig = ZeroShotClassifier._save
        def save_together(self, path):
            out = orig(self, path)
            (flag.parent / f"saving-{flag.name}").write_text("x")
            deadline = time.monotonic() + 120
            while len(list(flag.parent.glob("saving-*"))) < 2 and time.monotonic() < deadline:
                time.sleep(0.02)  # wait until the other process is saving too
            return out
        ZeroShotClassifier._save = save_together
        p = Project.open(cfg)
        print(p.registry.add_version(mid, p.zero_shot(), deploy=False))
    """
    procs = [_run_child(child, cfg, mid, ready / name) for name in ("a", "b")]
    outs = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        outs.append(int(out.strip()))
    assert sorted(outs) == [2, 3]
    assert len(list(ready.glob("saving-*"))) == 2  # they did overlap
    reg = ModelRegistry(Workspace.open(tmp_project.ws.root))
    rec = reg.get(mid)
    assert [v.version for v in rec.versions] == [1, 2, 3] and rec.deployed_version == 1
    assert _entries(tmp_project.ws, mid) == ["v1", "v2", "v3"]  # no temp folder left
    for v in (2, 3):
        assert reg.load(mid, v).predict(TEXTS) == reg.load(mid, 1).predict(TEXTS)


def test_temp_folders_of_dead_processes_are_cleaned_and_of_live_ones_kept(tmp_project):
    reg, mid = tmp_project.registry, tmp_project.active_model_id()
    base = tmp_project.ws.models_dir / str(mid)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(60)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        dead_tmp = base / f".tmp-{gone.pid}-0123abcd"
        live_tmp = base / f".tmp-{alive.pid}-4567ef01"
        legacy_tmp = base / ".tmp-v2-before-pids"  # a name from before owner-tagged temp folders
        for d in (dead_tmp, live_tmp, legacy_tmp):
            d.mkdir()
            (d / "weights.safetensors").write_bytes(b"partial")
        assert reg.add_version(mid, tmp_project.zero_shot()) == 2
        assert not dead_tmp.exists() and not legacy_tmp.exists()
        assert live_tmp.exists() and (live_tmp / "weights.safetensors").read_bytes() == b"partial"  # not ours to clean
        assert _entries(tmp_project.ws, mid) == [live_tmp.name, "v1", "v2"]
    finally:
        alive.kill()
        alive.wait(10)
    assert reg.add_version(mid, tmp_project.zero_shot()) == 3  # its owner is gone now: cleaned
    assert _entries(tmp_project.ws, mid) == ["v1", "v2", "v3"]


def test_a_version_folder_without_a_row_is_moved_aside(tmp_project):
    """A crash between the rename and the database row leaves ``v2`` on disk with no row: the registry still
    loads; the next version is 2 again, and the orphan is kept aside, not deleted."""
    import shutil

    reg, mid = tmp_project.registry, tmp_project.active_model_id()
    base = tmp_project.ws.models_dir / str(mid)
    shutil.copytree(base / "v1", base / "v2")
    (base / "v2" / "marker").write_text("the orphan")
    rec = reg.get(mid)
    assert [v.version for v in rec.versions] == [1] and reg.load(mid).predict(TEXTS)
    assert reg.add_version(mid, tmp_project.zero_shot(), deploy=True) == 2
    orphans = [p for p in base.iterdir() if p.name.startswith(".orphan-v2-")]
    assert len(orphans) == 1 and (orphans[0] / "marker").read_text() == "the orphan"
    assert not (base / "v2" / "marker").exists()  # v2 is the new version, not the orphan
    rec = reg.get(mid)
    assert [v.version for v in rec.versions] == [1, 2] and rec.deployed_version == 2
    assert reg.add_version(mid, tmp_project.zero_shot()) == 3
    assert sorted(p.name for p in base.iterdir() if not p.name.startswith(".orphan-")) == ["v1", "v2", "v3"]


#: where the child stops (and is killed): a patch that runs the step, or stops before it
KILL_POINTS = {
    "saving": """
        orig = ZeroShotClassifier._save
        def save(self, path):
            orig(self, path)
            stop_here("saving")
        ZeroShotClassifier._save = save
    """,
    "flushing": """
        def fsync_tree(path):
            stop_here("flushing")
        registry_module.fsync_tree = fsync_tree
    """,
    "locked": """
        orig = registry_module.recover_orphans
        def recover(base, registered):
            out = orig(base, registered)
            stop_here("locked")
        registry_module.recover_orphans = recover
    """,
    "renamed": """
        def add_version(self, *a, **k):
            stop_here("renamed")  # the folder is v2 already, the row is not written
        ModelStore.add_version = add_version
    """,
}


@pytest.mark.parametrize("step", list(KILL_POINTS))
def test_kill_9_at_each_step_of_add_version_leaves_the_registry_consistent(tmp_project, step):
    cfg, mid = tmp_project.config.source_path, tmp_project.active_model_id()
    flag = tmp_project.ws.root / "flag"
    proc = _run_child(KILL_POINTS[step] + """
        p = Project.open(cfg)
        p.registry.add_version(mid, p.zero_shot(), deploy=True)
    """, cfg, mid, flag)
    try:
        _wait_for(flag, proc)
        assert flag.read_text() == step
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    ws = Workspace.open(tmp_project.ws.root)
    reg = ModelRegistry(ws)
    rec = reg.get(mid)
    assert [v.version for v in rec.versions] == [1] and rec.deployed_version == 1
    assert reg.load(mid).predict(TEXTS) and reg.active_model_id() == mid
    left = _entries(ws, mid)
    if step == "renamed":
        assert left == ["v1", "v2"]  # renamed, never recorded
    else:
        assert left[-1] == "v1" and len(left) == 2 and left[0].startswith(f".tmp-{proc.pid}-")
    # the next writer (the lock of the killed process is gone with it) recovers: version 2, nothing skipped
    assert reg.add_version(mid, tmp_project.zero_shot(), deploy=True) == 2
    left = _entries(ws, mid)
    assert [n for n in left if not n.startswith(".orphan-")] == ["v1", "v2"]
    assert len([n for n in left if n.startswith(".orphan-v2-")]) == (step == "renamed")
    rec = reg.get(mid)
    assert [v.version for v in rec.versions] == [1, 2] and rec.deployed_version == 2
    assert reg.load(mid).predict(TEXTS)

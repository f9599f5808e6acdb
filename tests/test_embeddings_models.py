import numpy as np
import pytest

from labelf_trainer.config import LabelSpec
from labelf_trainer.embeddings import Embedder, load_encoder
from labelf_trainer.exceptions import EncoderError, ModelError, ModelMismatchError
from labelf_trainer.models import ZeroShotClassifier, load_classifier

LABELS = [LabelSpec(name="Billing", description="invoice charges payment bill"),
          LabelSpec(name="Technical", description="internet outage router signal broken",
                    examples=["wifi not working"]),
          LabelSpec(name="Cancel", description="cancel terminate contract leave")]


def test_cache_prevents_reembedding_across_embedders(tmp_path):
    enc = load_encoder("static")
    texts = ["first text", "second text", "first text"]
    before = enc.texts_encoded
    X1 = Embedder(enc, tmp_path).embed(texts)
    assert enc.texts_encoded - before == 2  # the duplicate is embedded once
    X2 = Embedder(enc, tmp_path).embed(texts + ["third"])  # a new command, same cache folder
    assert enc.texts_encoded - before == 3  # only "third" was new
    assert np.allclose(X1, X2[:3])
    assert np.allclose(np.linalg.norm(X2, axis=1), 1.0, atol=2e-4)  # unit length up to float16 rounding (HALF)


def test_fingerprints_differ_between_encoders():
    assert load_encoder("static").fingerprint != load_encoder("minilm").fingerprint
    assert load_encoder("minilm") is load_encoder("all-MiniLM-L6-v2")  # alias, loaded once


def test_unknown_encoder_is_a_clear_error():
    enc = load_encoder("no-such-org/no-such-model-xyz")
    with pytest.raises(EncoderError, match="cannot load encoder 'no-such-org/no-such-model-xyz'"):
        enc.encode_batch(["x"])


def test_zero_shot_single_label_minilm(tmp_path):
    zs = ZeroShotClassifier(LABELS, encoder="minilm").fit()
    texts = ["my invoice has a wrong charge", "the router shows a red light, no internet", "I want to end my contract"]
    proba = zs.predict_proba(texts)
    assert proba.shape == (3, 3) and np.allclose(proba.sum(axis=1), 1.0)
    assert zs.predict(texts) == ["Billing", "Technical", "Cancel"]
    zs.save(tmp_path / "m")
    again = load_classifier(tmp_path / "m")
    assert np.array_equal(again.predict_proba(texts), proba)


def test_zero_shot_multi_label_scores_are_independent():
    zs = ZeroShotClassifier(LABELS, encoder="minilm", multi_label=True).fit()
    proba = zs.predict_proba(["my internet is down and I was overcharged, I will cancel", "hello"])
    assert ((proba >= 0) & (proba <= 1)).all()
    assert not np.allclose(proba.sum(axis=1), 1.0)
    both = zs.predict(["my internet is down and I was overcharged on my bill"])[0]
    assert isinstance(both, tuple)


def test_load_refuses_label_mismatch_and_encoder_mismatch(tmp_path):
    zs = ZeroShotClassifier(LABELS, encoder="static").fit()
    zs.save(tmp_path / "m")
    with pytest.raises(ModelMismatchError, match="do not match the expected labels"):
        load_classifier(tmp_path / "m", expected_labels=["Billing", "Technical"])
    meta = (tmp_path / "m" / "labelf_model.json")
    meta.write_text(meta.read_text().replace(zs.encoder_fingerprint, "0" * 32))
    with pytest.raises(ModelMismatchError, match="encoder fingerprint"):
        load_classifier(tmp_path / "m")
    with pytest.raises(ModelError, match="not a saved model"):
        load_classifier(tmp_path)

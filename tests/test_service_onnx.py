"""The ONNX Runtime option of the service (`labelf serve --runtime onnx-int8`) on the real all-MiniLM-L6-v2."""

from __future__ import annotations

import numpy as np
from fastapi.testclient import TestClient
from helpers.service import DOC_MODELS, zero_shot

from labelf_trainer.service.app import create_app
from labelf_trainer.embeddings.onnx import OnnxEncoder
from labelf_trainer.models.runtime import accelerate
from labelf_trainer.service.settings import ServiceSettings

TEXTS = ["I can't log in to my account", "I want to cancel my subscription", "How do I update my payment method?",
         "my broadband keeps dropping every evening", "I'm switching to a competitor"]


def test_onnx_int8_serves_close_to_torch(tmp_project):
    model_id, _ = tmp_project.registry.register("reason", zero_shot(DOC_MODELS[42][1], "minilm"), deploy=True)
    static_id = tmp_project.active_model_id()
    results = {}
    for runtime in ("torch", "onnx-int8"):
        app = create_app(tmp_project, settings=ServiceSettings(auth=False, runtime=runtime))
        with TestClient(app) as client:
            r = client.post(f"/v2/models/{model_id}/inference", json={"texts": TEXTS})
            assert r.status_code == 200, r.text
            results[runtime] = r.json()["predictions"]
            served = app.state.manager.get(model_id)
            assert isinstance(served.model.embedder.encoder, OnnxEncoder) == (runtime == "onnx-int8")
            # a model on a non-transformer encoder keeps its own runtime
            assert not isinstance(app.state.manager.get(static_id).model.embedder.encoder, OnnxEncoder)
            assert client.post(f"/v2/models/{static_id}/inference", json={"texts": TEXTS}).status_code == 200
    onnx_files = list((tmp_project.ws.cache_dir / "onnx").glob("*.onnx"))
    assert len(onnx_files) == 1 and onnx_files[0].name.endswith("-int8.onnx")  # exported once, no temp files left
    for torch_preds, onnx_preds in zip(results["torch"], results["onnx-int8"]):
        assert torch_preds[0]["label"] == onnx_preds[0]["label"]
        a = {p["label"]: p["confidence"] for p in torch_preds}
        b = {p["label"]: p["confidence"] for p in onnx_preds}
        assert max(abs(a[k] - b[k]) for k in a) < 0.15
    # embeddings themselves stay close to torch's (same fingerprint: heads accept them)
    model = tmp_project.registry.load(model_id, cache=False)
    ref = model.embed(TEXTS)
    assert accelerate(model, "onnx-int8", tmp_project.ws.cache_dir)
    fast = model.embed(TEXTS)
    assert float(np.min((ref * fast).sum(axis=1))) > 0.9
    assert not accelerate(zero_shot(DOC_MODELS[87][1], "static"), "onnx-int8", tmp_project.ws.cache_dir)

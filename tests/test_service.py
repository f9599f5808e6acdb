"""The inference service through FastAPI's TestClient (lifespan runs): shapes, semantics, limits, auth, routing,
hot deploy. Real project on real SQLite, static encoder (plumbing); end-to-end HTTP is in test_service_e2e.py."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient
from helpers.data import TELECOM_LABELS, TELECOM_ROWS, write_csv
from helpers.service import DOC_MODELS, add_doc_models, zero_shot

from labelf_trainer.embeddings import load_encoder
from labelf_trainer.loop.project import Project
from labelf_trainer.service.app import create_app
from labelf_trainer.service.keys import ApiKeyStore
from labelf_trainer.service.schemas import DOC_EXAMPLES
from labelf_trainer.service.settings import ServiceSettings

SETTINGS = ServiceSettings(reload_interval_s=0.1)
LOGIN = ["I can't log in to my account"]


def _project(root) -> Project:  # noqa: ANN001
    import yaml

    write_csv(root / "d.csv", TELECOM_ROWS)
    (root / "c.yaml").write_text(yaml.safe_dump({
        "project": "svc", "encoder": "static", "workspace": "ws", "labels": TELECOM_LABELS,
        "data": [{"path": "d.csv", "id_column": "id", "label_column": "label"}]}), encoding="utf-8")
    project = Project.open(root / "c.yaml", create=True)
    project.import_sources()
    project.ensure_zero_shot()
    add_doc_models(project)
    return project


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """A read-only project with the docs' models, a TestClient and a valid key (module-scoped: built once)."""
    project = _project(tmp_path_factory.mktemp("svc"))
    _, key = ApiKeyStore(project.ws).create("tests")
    with TestClient(create_app(project, settings=SETTINGS)) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        yield client, project
    project.close()


@pytest.fixture
def client(shared):
    return shared[0]


@pytest.fixture
def fresh(tmp_path):
    """A project of its own (tests that change the registry or the pool)."""
    project = _project(tmp_path)
    _, key = ApiKeyStore(project.ws).create("tests")
    with TestClient(create_app(project, settings=SETTINGS)) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        yield client, project
    project.close()


def _err(r, status: int, *needles: str) -> dict:  # noqa: ANN001
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"detail", "errors", "request_id"}
    for n in needles:
        assert n in body["detail"], body["detail"]
    assert body["request_id"] == r.headers["x-request-id"]
    return body


# -- documented shapes ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("method,path,body", DOC_EXAMPLES, ids=[f"{m} {p} {i}" for i, (m, p, _) in enumerate(DOC_EXAMPLES)])
def test_every_documented_request_returns_the_documented_shape(client, method, path, body):
    r = client.request(method, path, json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    if path.endswith("/42/inference"):
        assert {"predictions", "model_id", "text_language", "processing_time_ms"} <= set(out)
        assert out["model_id"] == 42 and len(out["predictions"]) == len(body["texts"])
        for preds in out["predictions"]:
            assert all(set(p) == {"label", "confidence"} for p in preds)
    elif path == "/v2/models/inference":
        assert [res["model_id"] for res in out["results"]] == [s["model_id"] for s in body["model_settings"]]
        for res in out["results"]:
            assert {"model_id", "model_name", "predictions"} <= set(res)
            assert all(set(p) == {"label", "score"} for p in res["predictions"][0])
    elif path == "/v2/multi-model/inference":
        assert list(out["results"]) == [str(m) for m in body["model_ids"]] and "processing_time_ms" in out
        assert all(len(v["predictions"][0]) == 1 for v in out["results"].values())  # max_predictions 1
    elif path == "/v1/classify":
        assert set(out) == {"label", "confidence", "tokens", "latency_ms", "cached"}
        assert out["label"] in body["labels"] and 0 <= out["confidence"] <= 1 and out["tokens"] > 0
    elif path == "/v2/models":
        assert {m["id"] for m in out["models"]} >= set(DOC_MODELS)
    else:
        assert list(out) == ["id", "name", "type", "status", "labels", "metrics", "training_examples", "last_trained",
                             "confidence_threshold"]
        assert out["metrics"]["per_class"]["Login Issue"] == {"precision": 0.96, "recall": 0.93, "f1": 0.94}
        assert out["training_examples"] == 4280 and out["confidence_threshold"] == 0.65
        assert out["status"] == "deployed" and out["last_trained"].endswith("Z")


def test_predictions_sorted_and_max_predictions_semantics(client):
    labels = list(DOC_MODELS[42][1])
    full = client.post("/v2/models/42/inference", json={"texts": LOGIN}).json()["predictions"][0]
    assert sorted(p["label"] for p in full) == sorted(labels)  # omitted = every label
    scores = [p["confidence"] for p in full]
    assert scores == sorted(scores, reverse=True) and abs(sum(scores) - 1) < 0.01
    top1 = client.post("/v2/models/42/inference", json={"texts": LOGIN, "max_predictions": 1}).json()
    assert top1["predictions"][0] == full[:1]
    many = client.post("/v2/models/42/inference", json={"texts": LOGIN, "max_predictions": 500}).json()
    assert many["predictions"][0] == full


def test_label_filter_restricts_and_combines_with_max_predictions(client):
    filt = ["Cancellation", "Churn Risk", "Competitor Mention"]
    full = {p["label"]: p["confidence"] for p in
            client.post("/v2/models/42/inference", json={"texts": LOGIN}).json()["predictions"][0]}
    out = client.post("/v2/models/42/inference", json={"texts": LOGIN, "label_filter": filt}).json()["predictions"][0]
    assert sorted(p["label"] for p in out) == sorted(filt)
    assert all(p["confidence"] == full[p["label"]] for p in out)  # scores are not renormalised
    two = client.post("/v2/models/42/inference", json={"texts": LOGIN, "label_filter": filt, "max_predictions": 2})
    assert two.json()["predictions"][0] == out[:2]


def test_text_language_is_detected_offline(client):
    def lang(texts):
        return client.post("/v2/models/42/inference", json={"texts": texts}).json()["text_language"]

    assert lang(["Jag vill säga upp mitt abonnemang"]) == "sv"
    assert lang(["أريد إلغاء اشتراكي"]) == "ar"
    assert lang(["サブスクリプションを解約したいです"]) == "ja"
    assert lang(["ok"]) == "unknown"  # too short to tell
    assert lang(["ok", "I want to cancel my subscription", "How do I update my payment method?"]) == "en"


def test_multi_model_with_mixed_settings(client):
    body = {"texts": ["I was charged twice", "my internet is down"], "model_settings": [
        {"model_id": 87, "max_predictions": 2}, {"model_id": 201, "label_filter": ["Angry", "Satisfied"]},
        {"model_id": 156}]}
    out = client.post("/v2/models/inference", json=body).json()
    r87, r201, r156 = out["results"]
    assert (r87["model_name"], r201["model_name"]) == ("Issue Type", "Sentiment")
    assert all(len(p) == 2 for p in r87["predictions"]) and len(r87["predictions"]) == 2
    assert all({x["label"] for x in p} == {"Angry", "Satisfied"} for p in r201["predictions"])
    assert all(len(p) == len(DOC_MODELS[156][1]) for p in r156["predictions"])
    single = client.post("/v2/models/87/inference", json={"texts": body["texts"], "max_predictions": 2}).json()
    assert [[{"label": x["label"], "confidence": x["score"]} for x in p] for p in r87["predictions"]] == \
        single["predictions"]


def test_models_on_one_encoder_share_one_encoding_pass(client):
    enc = load_encoder("static")
    before = enc.calls
    r = client.post("/v2/multi-model/inference", json={"model_ids": [42, 87, 156, 201], "texts": ["a new text 1234"]})
    assert r.status_code == 200 and len(r.json()["results"]) == 4
    assert enc.calls - before == 1


def test_list_hides_undeployed_models_unless_asked(fresh):
    client, project = fresh
    mid, _ = project.registry.register("draft", zero_shot({"a": "x", "b": "y"}), deploy=False)
    assert mid not in {m["id"] for m in client.get("/v2/models").json()["models"]}
    assert mid in {m["id"] for m in client.get("/v2/models", params={"all": True}).json()["models"]}
    assert client.get(f"/v2/models/{mid}").json()["status"] == "trained"
    _err(client.post(f"/v2/models/{mid}/inference", json={"texts": ["x"]}), 404, "not deployed")


# -- bad input: 4xx naming the problem, never 500 --------------------------------------------------------------
@pytest.mark.parametrize("body,needle", [
    ({"texts": []}, "texts"),
    ({"texts": ["a"] * 9}, "texts: List should have at most 8"),
    ({"texts": ["x" * 10_001]}, "texts[0]"),
    ({"texts": ["ok", ""]}, "texts[1]"),
    ({"texts": ["ok", "   \n"]}, "texts[1] is empty"),
    ({"texts": "just a string"}, "texts"),
    ({"texts": [1, 2]}, "texts[0]"),
    ({}, "texts: field required"),
    ({"texts": ["ok"], "max_predictions": 0}, "max_predictions"),
    ({"texts": ["ok"], "max_predictions": "3"}, "max_predictions"),
    ({"texts": ["ok"], "max_predictions": 1.5}, "max_predictions"),
    ({"texts": ["ok"], "max_predictions": True}, "max_predictions"),
    ({"texts": ["ok"], "label_filter": "Cancellation"}, "label_filter"),
    ({"texts": ["ok"], "label_filter": []}, "label_filter"),
    ({"texts": ["ok"], "label_filter": ["Cancellation", "Nope"]}, "label_filter: unknown label(s) 'Nope'"),
    ({"texts": ["ok"], "lable_filter": ["x"]}, "lable_filter: unknown field"),
])
def test_bad_single_inference_input_is_422_naming_the_field(client, body, needle):
    _err(client.post("/v2/models/42/inference", json=body), 422, needle)


def test_ten_thousand_characters_is_the_limit(client):
    assert client.post("/v2/models/42/inference", json={"texts": ["y" * 10_000]}).status_code == 200


@pytest.mark.parametrize("path,status,needle", [
    ("/v2/models/999/inference", 404, "no model with id 999"),
    ("/v2/models/abc/inference", 422, "model_id"),
    ("/v2/models/-1/inference", 422, "model_id"),
    ("/v2/models/99999999999999999999999/inference", 422, "model_id"),
])
def test_bad_model_ids(client, path, status, needle):
    _err(client.post(path, json={"texts": ["ok"]}), status, needle)
    if status == 404:
        _err(client.get("/v2/models/999"), 404, "no model with id 999")


def test_malformed_bodies(client):
    _err(client.post("/v2/models/42/inference", content=b"{bad", headers={"content-type": "application/json"}),
         422, "invalid JSON")
    _err(client.post("/v2/models/42/inference", content=b"[1, 2]", headers={"content-type": "application/json"}), 422)
    _err(client.post("/v2/models/42/inference"), 422, "field required")
    big = b'{"texts": ["' + b"a" * (2 << 20) + b'"]}'
    _err(client.post("/v2/models/42/inference", content=big, headers={"content-type": "application/json"}), 413)


@pytest.mark.parametrize("body,status,needle", [
    ({"texts": ["ok"], "model_settings": []}, 422, "model_settings"),
    ({"texts": ["ok"]}, 422, "model_settings: field required"),
    ({"texts": ["ok"], "model_settings": [{"max_predictions": 1}]}, 422, "model_settings[0].model_id: field required"),
    ({"texts": ["ok"], "model_settings": [{"model_id": 42}, {"model_id": 7}]}, 404, "model_settings[1].model_id"),
    ({"texts": ["ok"], "model_settings": [{"model_id": 42}, {"model_id": 201, "label_filter": ["Happy"]}]}, 422,
     "model_settings[1].label_filter: unknown label(s) 'Happy'"),
    ({"texts": ["ok"], "model_settings": [{"model_id": "42"}]}, 422, "model_settings[0].model_id"),
    ({"texts": [], "model_settings": [{"model_id": 42}]}, 422, "texts"),
])
def test_bad_multi_inference_input(client, body, status, needle):
    _err(client.post("/v2/models/inference", json=body), status, needle)


@pytest.mark.parametrize("body,status,needle", [
    ({"texts": ["ok"], "model_ids": []}, 422, "model_ids"),
    ({"texts": ["ok"], "model_ids": [42, 1000]}, 404, "model_ids[1]"),
    ({"texts": ["a"] * 9, "model_ids": [42]}, 422, "texts"),
    ({"texts": ["ok"], "model_ids": [42], "max_predictions": -1}, 422, "max_predictions"),
    ({"texts": ["ok"], "model_ids": 42}, 422, "model_ids"),
])
def test_bad_multi_model_input(client, body, status, needle):
    _err(client.post("/v2/multi-model/inference", json=body), status, needle)


# -- /v1/classify -------------------------------------------------------------------------------------------
def test_classify_inline_labels_cache_and_descriptions(client):
    body = {"text": "We need pricing for 600 seats", "labels": ["hot", "warm", "cold"],
            "descriptions": {"hot": "Ready to buy, asking for pricing or demo", "warm": "Interested but still exploring",
                             "cold": "Just browsing, no clear intent"}}
    first = client.post("/v1/classify", json=body).json()
    second = client.post("/v1/classify", json={**body, "text_type": "sales lead"}).json()  # another request
    third = client.post("/v1/classify", json=body).json()
    assert first["cached"] is False and second["cached"] is False and third["cached"] is True
    assert {k: third[k] for k in ("label", "confidence", "tokens")} == {k: first[k] for k in ("label", "confidence",
                                                                                              "tokens")}
    assert client.post("/v1/classify", json={**body, "cache": False}).json()["cached"] is False
    assert round(first["confidence"], 4) == first["confidence"]
    ex = client.post("/v1/classify", json={"text": "refund please", "labels": ["money", "tech"],
                                           "examples": {"money": ["refund please", "give my money back"]}}).json()
    assert ex["label"] == "money"
    one = client.post("/v1/classify", json={"text": "refund please", "labels": ["money"]}).json()
    assert one["label"] == "money" and 0 < one["confidence"] < 1


def test_classify_saved_classifier_by_name_id_and_version(fresh):
    client, project = fresh
    v2 = project.registry.add_version(87, zero_shot({**DOC_MODELS[87][1], "Billing": "money"}), deploy=False)
    by_name = client.post("/v1/classify", json={"text": "charged twice", "classifier": "Issue Type"}).json()
    assert by_name["label"] in DOC_MODELS[87][1] and by_name["cached"] is False
    pinned = client.post("/v1/classify", json={"text": "charged twice", "classifier": f"Issue Type@v{v2}"}).json()
    by_id = client.post("/v1/classify", json={"text": "charged twice", "classifier": f"87@{v2}"}).json()
    assert pinned["confidence"] == by_id["confidence"]
    single = client.post("/v2/models/87/inference", json={"texts": ["charged twice"]}).json()["predictions"][0][0]
    assert (by_name["label"], by_name["confidence"]) == (single["label"], single["confidence"])
    _err(client.post("/v1/classify", json={"text": "x", "classifier": "Issue Type@v9"}), 404, "no version 9")
    _err(client.post("/v1/classify", json={"text": "x", "classifier": "nope"}), 404, "no saved classifier named 'nope'")
    _err(client.post("/v1/classify", json={"text": "x", "classifier": "Issue Type@latest"}), 404, "invalid version")


@pytest.mark.parametrize("body,needle", [
    ({"text": "x"}, "labels / classifier"),
    ({"text": "x", "labels": ["a", "b"], "classifier": "c"}, "labels / classifier"),
    ({"labels": ["a", "b"]}, "text: field required"),
    ({"text": "", "labels": ["a", "b"]}, "text"),
    ({"text": "  ", "labels": ["a", "b"]}, "text: text is empty"),
    ({"text": "x" * 10_001, "labels": ["a", "b"]}, "text"),
    ({"text": "x", "labels": []}, "labels"),
    ({"text": "x", "labels": [str(i) for i in range(201)]}, "labels"),
    ({"text": "x", "labels": ["a" * 101, "b"]}, "labels[0]"),
    ({"text": "x", "labels": ["a", "a"]}, "labels: duplicate label(s) 'a'"),
    ({"text": "x", "labels": ["a", "b"], "descriptions": {"c": "d"}}, "descriptions: keys not in labels: 'c'"),
    ({"text": "x", "labels": ["a", "b"], "examples": {"a": "not a list"}}, "examples.a"),
    ({"text": "x", "labels": ["a", "b"], "image": "https://example.com/x.png"}, "image"),
    ({"text": "x", "labels": ["a", "b"], "file": "abc"}, "file"),
    ({"text": "x", "labels": ["a", "b"], "priority": "urgent"}, "priority"),
    ({"text": "x", "labels": ["a", "b"], "cache": "no"}, "cache"),
    ({"text": 5, "labels": ["a", "b"]}, "text"),
])
def test_bad_classify_input_is_422(client, body, needle):
    _err(client.post("/v1/classify", json=body), 422, needle)


# -- auth -----------------------------------------------------------------------------------------------------
def test_auth_missing_wrong_malformed_and_revoked(fresh):
    client, project = fresh
    store = ApiKeyStore(project.ws)
    key_id, key = store.create("short-lived")
    ok = {"Authorization": f"Bearer {key}"}
    assert client.get("/v2/models", headers=ok).status_code == 200
    assert client.get("/health", headers={"Authorization": ""}).json() == {"status": "ok"}
    for headers, needle in [({"Authorization": ""}, "missing API key"),
                            ({"Authorization": "Token abc"}, "malformed"),
                            ({"Authorization": "Bearer"}, "malformed"),
                            ({"Authorization": f"Bearer {key[:-1]}x"}, "invalid or revoked"),
                            ({"Authorization": "Bearer lf_999_" + "a" * 43}, "invalid or revoked")]:
        r = client.post("/v2/models/42/inference", json={"texts": ["ok"]}, headers=headers)
        _err(r, 401, needle)
        assert r.headers["www-authenticate"].startswith("Bearer")
    for path in ("/ready", "/metrics", "/v2/models", "/v2/models/42"):
        assert client.get(path, headers={"Authorization": ""}).status_code == 401
    store.revoke(key_id)  # verified keys are remembered for a second: the revocation holds after that
    time.sleep(1.1)
    _err(client.get("/v2/models", headers=ok), 401, "invalid or revoked")
    # auth is checked before the body: no information about models leaks to a caller without a key
    _err(client.post("/v2/models/999/inference", json={"texts": []}, headers={"Authorization": ""}), 401)


def test_basic_auth_with_key_as_password(client, shared):
    import base64

    _, key = ApiKeyStore(shared[1].ws).create("label-studio")
    token = base64.b64encode(f"labelstudio:{key}".encode()).decode()
    assert client.get("/v2/models", headers={"Authorization": f"Basic {token}"}).status_code == 200
    assert client.get("/v2/models", headers={"Authorization": "Basic !!!"}).status_code == 401


def test_auth_can_be_turned_off(tmp_path):
    project = _project(tmp_path)
    with TestClient(create_app(project, settings=ServiceSettings(auth=False))) as client:
        assert client.post("/v2/models/42/inference", json={"texts": ["ok"]}).status_code == 200
    project.close()


# -- ops ------------------------------------------------------------------------------------------------------
def test_ready_metrics_request_ids_and_docs(client):
    ready = client.get("/ready").json()
    assert ready["status"] == "ready" and ready["models"]["42"] == 1 and ready["errors"] == {}
    r = client.post("/v2/models/42/inference", json={"texts": ["ok"]}, headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    assert len(client.get("/health").headers["x-request-id"]) == 16  # generated when not given
    text = client.get("/metrics").text
    assert 'labelf_requests_total{method="POST",route="/v2/models/{model_id}/inference",status="200"}' in text
    assert 'labelf_request_duration_seconds_bucket{route="/v2/models/{model_id}/inference",le="+Inf"}' in text
    assert 'labelf_model_predictions_total{model_id="42"}' in text
    schema = client.get("/openapi.json").json()
    examples = schema["paths"]["/v2/models/{model_id}/inference"]["post"]["requestBody"]["content"][
        "application/json"]["examples"]
    assert examples["utterance"]["value"] == {"texts": LOGIN}
    assert client.get("/docs").status_code == 200


def _wait_for(client, check, model_id: int = 87, timeout: float = 30.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not check(client.app.state.manager.get(model_id).record):
        assert time.monotonic() < deadline, "the server did not pick up the registry change"
        time.sleep(0.05)


# -- confidence routing ---------------------------------------------------------------------------------------
def test_low_confidence_traffic_is_routed_to_the_pool(fresh):
    client, project = fresh
    ws = project.ws
    before = ws.items.count()
    texts = ["the weather in Lisbon was lovely", "please call me back tomorrow"]
    client.post("/v2/models/87/inference", json={"texts": texts})
    assert ws.items.count() == before  # routing is opt-in per model
    project.registry.set_routing(87, True)
    project.registry.set_threshold(87, 0.99)  # every zero-shot guess of the static encoder is below this
    _wait_for(client, lambda rec: rec.routing and rec.confidence_threshold == 0.99)  # the poller picks it up
    r = client.post("/v2/models/87/inference", json={"texts": texts}, headers={"X-Request-ID": "req-routing-1"})
    assert r.status_code == 200
    routed = ws.items.all(origin="traffic")
    assert sorted(it.text for it in routed) == sorted(texts)
    meta = routed[0].meta
    assert meta["request_id"] == "req-routing-1" and meta["model_id"] == 87 and 0 <= meta["confidence"] < 0.99
    assert not any(client.headers["Authorization"].split()[1] in str(it.meta) for it in routed)  # never the key
    client.post("/v2/models/87/inference", json={"texts": texts})  # same texts again: not stored twice
    known = [TELECOM_ROWS[0][1]]  # already in the pool (imported): not added as traffic
    client.post("/v2/models/87/inference", json={"texts": known})
    assert len(ws.items.all(origin="traffic")) == 2 and ws.items.count() == before + 2
    metrics = client.get("/metrics").text
    assert 'labelf_routed_texts_total{model_id="87"} 2' in metrics


def test_confident_predictions_are_not_routed(fresh):
    client, project = fresh
    project.registry.set_routing(87, True)
    project.registry.set_threshold(87, 0.0)
    _wait_for(client, lambda rec: rec.routing and rec.confidence_threshold == 0.0)
    client.post("/v2/models/87/inference", json={"texts": ["the weather in Lisbon was lovely"]})
    assert project.ws.items.all(origin="traffic") == []


# -- hot deploy -----------------------------------------------------------------------------------------------
def test_new_version_is_picked_up_without_restart_or_failed_requests(fresh):
    client, project = fresh
    results: list[tuple[int, int]] = []
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            r = client.post("/v2/models/87/inference", json={"texts": ["charged twice this month"]})
            results.append((r.status_code, r.json().get("model_version", -1)))

    workers = [threading.Thread(target=hammer) for _ in range(3)]
    for w in workers:
        w.start()
    time.sleep(0.3)
    project.registry.add_version(87, zero_shot({**DOC_MODELS[87][1], "Billing": "refunds"}), deploy=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any(v == 2 for _, v in results[-5:]):
        time.sleep(0.05)
    time.sleep(0.2)
    stop.set()
    for w in workers:
        w.join()
    assert results and all(code == 200 for code, _ in results)
    versions = [v for _, v in results]
    assert versions[0] == 1 and versions[-1] == 2
    assert versions.index(2) > 0 and 1 not in versions[versions.index(2) + 3:]  # swapped once, for good
    assert client.get("/ready").json()["models"]["87"] == 2


def test_a_model_broken_at_start_recovers_when_a_good_version_is_deployed(tmp_path):
    project = _project(tmp_path)
    (project.ws.models_dir / "87" / "v1" / "labelf_model.json").write_text("{not json", encoding="utf-8")
    _, key = ApiKeyStore(project.ws).create("tests")
    with TestClient(create_app(project, settings=SETTINGS)) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        ready = client.get("/ready")
        assert ready.status_code == 503 and "model 87 v1 cannot be loaded" in ready.json()["errors"]["87"]
        for _ in range(2):  # answered from the remembered failure, not by reloading per request
            _err(client.post("/v2/models/87/inference", json={"texts": LOGIN}), 503, "model 87 v1 cannot be loaded")
        assert client.post("/v2/models/42/inference", json={"texts": LOGIN}).status_code == 200
        project.registry.add_version(87, zero_shot(DOC_MODELS[87][1]), deploy=True)
        deadline = time.monotonic() + 20
        while client.get("/ready").status_code != 200:
            assert time.monotonic() < deadline, client.get("/ready").json()
            time.sleep(0.05)
        r = client.post("/v2/models/87/inference", json={"texts": LOGIN})
        assert r.status_code == 200 and r.json()["model_version"] == 2
    project.close()


def test_label_studio_ml_backend_is_mounted_behind_auth(client, shared):
    assert client.get("/ml-backend/health", headers={"Authorization": ""}).status_code == 401
    r = client.get("/ml-backend/health")  # the client's key is an inference key: not allowed to label or retrain
    assert r.status_code == 403 and "--scope labeling" in r.json()["detail"]
    assert client.post("/ml-backend/webhook", json={"action": "START_TRAINING"}).status_code == 403
    _, key = ApiKeyStore(shared[1].ws).create("label-studio", "labeling")
    r = client.get("/ml-backend/health", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200 and r.json()["status"] == "UP"
    assert client.get("/v2/models", headers={"Authorization": f"Bearer {key}"}).status_code == 403

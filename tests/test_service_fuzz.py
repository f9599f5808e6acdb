"""Property-based fuzzing of every endpoint of the OpenAPI schema: no input produces a 5xx.

Bodies are drawn from the request schemas' own field names with values of every JSON type (near-valid requests
are the ones that reach the deepest code), plus arbitrary JSON and arbitrary bytes.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from helpers.data import TELECOM_LABELS
from helpers.service import add_doc_models

from labelf_trainer.loop.project import Project
from labelf_trainer.service.app import create_app
from labelf_trainer.service.settings import ServiceSettings

LABELS = ["Billing", "Technical", "Cancellation", "Upgrade", "Angry", "hot", "", " x"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30), st.sampled_from(LABELS))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=10),
                                                            st.dictionaries(st.text(max_size=10), inner, max_size=5)),
                           max_leaves=20)
texts = st.one_of(st.lists(st.text(max_size=60), max_size=10), json_values)
model_ids = st.one_of(st.sampled_from([42, 87, 201, 1, 0, 999, -1, 2**63]), json_values)
label_filter = st.one_of(st.none(), st.lists(st.sampled_from(LABELS), max_size=4), json_values)
max_predictions = st.one_of(st.none(), st.integers(min_value=-3, max_value=30), json_values)


def _opt(d: dict) -> st.SearchStrategy:
    return st.fixed_dictionaries({}, optional=d)


BODIES = {
    "/v2/models/{id}/inference": _opt({"texts": texts, "max_predictions": max_predictions, "label_filter": label_filter}),
    "/v2/models/inference": _opt({"texts": texts, "model_settings": st.one_of(st.lists(_opt({
        "model_id": model_ids, "max_predictions": max_predictions, "label_filter": label_filter}), max_size=4),
        json_values)}),
    "/v2/multi-model/inference": _opt({"texts": texts, "model_ids": st.one_of(st.lists(model_ids, max_size=4),
                                                                              json_values),
                                       "max_predictions": max_predictions}),
    "/v1/classify": _opt({"text": st.one_of(st.text(max_size=60), json_values),
                          "labels": st.one_of(st.lists(st.sampled_from(LABELS), max_size=5), json_values),
                          "classifier": st.one_of(st.sampled_from(["Issue Type", "Issue Type@v1", "87@1", "42@v9",
                                                                   "@", "x@", "Sentiment@v1@v2"]), json_values),
                          "descriptions": json_values, "examples": json_values, "cache": json_values,
                          "priority": json_values, "text_type": json_values, "image": json_values}),
}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    import yaml

    root = tmp_path_factory.mktemp("fuzz")
    (root / "c.yaml").write_text(yaml.safe_dump({"project": "fuzz", "encoder": "static", "workspace": "ws",
                                                 "labels": TELECOM_LABELS}), encoding="utf-8")
    project = Project.open(root / "c.yaml", create=True)
    add_doc_models(project)
    with TestClient(create_app(project, settings=ServiceSettings(auth=False)), raise_server_exceptions=False) as c:
        yield c
    project.close()


def _check(r) -> None:  # noqa: ANN001
    assert r.status_code < 500, (r.status_code, r.text)
    if r.status_code >= 400:
        assert r.json()["detail"]


FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                          HealthCheck.too_slow])


@pytest.mark.parametrize("route", list(BODIES))
def test_no_5xx_for_any_body(client, route):
    @FUZZ
    @given(body=BODIES[route], model_id=st.one_of(st.sampled_from(["42", "87", "7"]), st.text(max_size=8)))
    def run(body, model_id):  # noqa: ANN001
        path = route.replace("{id}", quote(model_id, safe="") or "42")
        _check(client.post(path, json=body))

    run()


@FUZZ
@given(raw=st.one_of(st.binary(max_size=200), json_values.map(lambda v: json.dumps(v).encode())),
       route=st.sampled_from(["/v2/models/42/inference", "/v2/models/inference", "/v2/multi-model/inference",
                              "/v1/classify"]))
def test_no_5xx_for_arbitrary_bytes(client, raw, route):
    _check(client.post(route, content=raw, headers={"content-type": "application/json"}))


def test_every_schema_path_is_fuzzed(client):
    paths = set(client.get("/openapi.json").json()["paths"])
    posts = {p for p, ops in client.get("/openapi.json").json()["paths"].items() if "post" in ops}
    assert {p.replace("{model_id}", "{id}") for p in posts if not p.startswith("/ml-backend")} == set(BODIES)
    assert {"/health", "/ready", "/metrics", "/v2/models", "/v2/models/{model_id}"} <= paths

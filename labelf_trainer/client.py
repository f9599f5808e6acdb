"""A small Python client for `labelf serve` (the Labelf v2 API and /v1/classify), on httpx.

Usage::

    from labelf_trainer.client import LabelfClient

    with LabelfClient("http://127.0.0.1:8000", api_key=os.environ["LABELF_API_KEY"]) as client:
        client.inference(42, ["I can't log in to my account"], max_predictions=3)
        client.multi_inference(["..."], [{"model_id": 42, "max_predictions": 1}, {"model_id": 87}])
        client.classify("We need pricing for 500 users", labels=["hot", "warm", "cold"])

Every method returns the decoded JSON response. A 4xx/5xx response raises :class:`LabelfApiError` with the
status code and the server's ``detail`` line; network failures raise :class:`LabelfConnectionError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from .exceptions import ConnectorError

__all__ = ["LabelfClient", "LabelfApiError", "LabelfConnectionError"]


class LabelfApiError(ConnectorError):
    """The server answered with an error status."""

    def __init__(self, status_code: int, detail: str, request_id: str | None = None) -> None:
        super().__init__(f"HTTP {status_code}: {detail}")
        self.status_code = status_code
        self.detail = detail
        self.request_id = request_id


class LabelfConnectionError(ConnectorError):
    """The server could not be reached (or timed out)."""


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


class LabelfClient:
    """Mirrors the service's endpoints; pass ``httpx_client`` to control transport, retries or timeouts."""

    def __init__(self, base_url: str = "http://127.0.0.1:8000", api_key: str | None = None, *,
                 timeout: float = 30.0, httpx_client: httpx.Client | None = None) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._own = httpx_client is None
        self.http = httpx_client or httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout)
        self.http.headers.update(headers)

    def close(self) -> None:
        if self._own:
            self.http.close()

    def __enter__(self) -> "LabelfClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, json: dict[str, Any] | None = None) -> Any:
        try:
            r = self.http.request(method, path, json=json)
        except httpx.HTTPError as e:
            raise LabelfConnectionError(f"{method} {path}: {type(e).__name__}: {e}") from None
        if r.status_code >= 400:
            try:
                body = r.json()
                detail, rid = str(body.get("detail", r.text)), body.get("request_id")
            except ValueError:
                detail, rid = r.text[:200], None
            raise LabelfApiError(r.status_code, detail, rid)
        return r.json() if r.headers.get("content-type", "").startswith("application/json") else r.text

    # -- models --------------------------------------------------------------------------------------------
    def list_models(self) -> list[dict[str, Any]]:
        return self._call("GET", "/v2/models")["models"]

    def get_model(self, model_id: int) -> dict[str, Any]:
        return self._call("GET", f"/v2/models/{int(model_id)}")

    # -- inference -----------------------------------------------------------------------------------------
    def inference(self, model_id: int, texts: Sequence[str], *, max_predictions: int | None = None,
                  label_filter: Sequence[str] | None = None) -> dict[str, Any]:
        body = _drop_none({"texts": list(texts), "max_predictions": max_predictions,
                           "label_filter": list(label_filter) if label_filter is not None else None})
        return self._call("POST", f"/v2/models/{int(model_id)}/inference", body)

    def multi_inference(self, texts: Sequence[str], model_settings: Sequence[dict[str, Any]]) -> dict[str, Any]:
        return self._call("POST", "/v2/models/inference",
                          {"texts": list(texts), "model_settings": [_drop_none(dict(s)) for s in model_settings]})

    def multi_model_inference(self, model_ids: Sequence[int], texts: Sequence[str], *,
                              max_predictions: int | None = None) -> dict[str, Any]:
        return self._call("POST", "/v2/multi-model/inference",
                          _drop_none({"model_ids": list(model_ids), "texts": list(texts),
                                      "max_predictions": max_predictions}))

    def classify(self, text: str, *, labels: Sequence[str] | None = None, classifier: str | None = None,
                 descriptions: dict[str, str] | None = None, examples: dict[str, list[str]] | None = None,
                 cache: bool = True) -> dict[str, Any]:
        body = _drop_none({"text": text, "labels": list(labels) if labels is not None else None,
                           "classifier": classifier, "descriptions": descriptions, "examples": examples})
        if not cache:
            body["cache"] = False
        return self._call("POST", "/v1/classify", body)

    # -- operations ----------------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        return self._call("GET", "/health")

    def ready(self) -> dict[str, Any]:
        return self._call("GET", "/ready")

    def metrics(self) -> str:
        return self._call("GET", "/metrics")

"""``POST /v1/classify``: the second vendor's single-call classification shape."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from ..deps import ClassifyDep
from ..schemas import CLASSIFY_EXAMPLES, ClassifyRequest, ClassifyResponse

router = APIRouter(tags=["classify"])


@router.post("/v1/classify", response_model=ClassifyResponse, summary="Classify one text",
             responses={401: {"description": "Missing, wrong or revoked API key."},
                        404: {"description": "Unknown saved classifier or version."},
                        422: {"description": "Invalid input; `detail` names the field."}})
def classify(body: Annotated[ClassifyRequest, Body(openapi_examples=CLASSIFY_EXAMPLES)], svc: ClassifyDep) -> dict:
    """Inline `labels` (+ optional `descriptions` and per-label `examples`) are classified zero-shot with the
    embedding layer; `classifier` names a saved registry model (`support-tickets`, `support-tickets@v2`, `42@3`).
    Identical requests are answered from a cache unless `cache` is false. Text only: `image` and `file` are 422."""
    return svc.classify(body)

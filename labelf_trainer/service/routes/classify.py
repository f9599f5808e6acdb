"""``POST /v1/classify``: the second vendor's single-call classification shape."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from ..deps import ClassifyDep, SettingsDep
from ..errors import ApiError
from ..schemas import CLASSIFY_EXAMPLES, ClassifyRequest, ClassifyResponse

router = APIRouter(tags=["classify"])


def document_text(data: bytes) -> str:
    """The text of a PDF/DOCX document of ``file`` (its first 10,000 characters); DataError (422) naming the field
    when it is not one, has more than 20 pages or no text layer."""
    from ...config import MAX_TEXT_CHARS
    from ...data.documents import extract_text
    from ...exceptions import DataError

    try:
        text = extract_text(data, name="file", over_limit="error").text
    except ImportError as e:
        raise DataError(f"file: this server cannot read documents ({e.name} is missing: pip install "
                        "'labelf-trainer[documents]')") from None
    if not text.strip():
        raise DataError("file: the document has no text (a scanned document without a text layer?)")
    return text[:MAX_TEXT_CHARS]


@router.post("/v1/classify", response_model=ClassifyResponse, summary="Classify one text",
             responses={401: {"description": "Missing, wrong or revoked API key."},
                        404: {"description": "Unknown saved classifier or version."},
                        413: {"description": "More inline labels or examples than the server embeds per request."},
                        422: {"description": "Invalid input; `detail` names the field."}})
def classify(body: Annotated[ClassifyRequest, Body(openapi_examples=CLASSIFY_EXAMPLES)], svc: ClassifyDep,
             settings: SettingsDep) -> dict:
    """Inline `labels` (+ optional `descriptions` and per-label `examples`) are classified zero-shot with the
    embedding layer; `classifier` names a saved registry model (`support-tickets`, `support-tickets@v2`, `42@3`).
    Identical requests are answered from a cache unless `cache` is false. `file` is a PDF or DOCX document as base64
    instead of `text` (at most 10 MB and 20 pages; its first 10,000 characters are classified; a URL is a 422: the
    server fetches nothing). `image` is a 422.
    Every inline label and example is embedded, so a request may carry at most `classify_max_labels` labels and
    `classify_max_examples` examples (server settings; 413 above)."""
    if body.document is not None:
        body.text = document_text(body.document)
    n_labels = len(body.labels or [])
    n_examples = sum(len(v) for v in (body.examples or {}).values())
    for field, n, limit in (("labels", n_labels, settings.classify_max_labels),
                            ("examples", n_examples, settings.classify_max_examples)):
        if n > limit:
            raise ApiError(413, f"{field}: {n} in one request; this server embeds at most {limit} per request",
                           errors=[{"loc": field, "msg": f"at most {limit} per request"}])
    return svc.classify(body)

"""Model ids that are not ids (``/v2/models/abc``, ``/v2/models/-1/inference``): a 422 naming ``model_id``.

The real routes take ``{model_id:int}`` so that ``/v2/models/inference`` never matches them (``OPTIONS`` there
answers 405 with ``Allow: POST``); these fallbacks, registered after them and left out of the schema, keep the error
for any other segment a 422 that names the field instead of a bare 404.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError
from starlette.convertors import Convertor, register_url_convertor

__all__ = ["router"]


class _NotAnId(Convertor[str]):
    """Any path segment but ``inference`` (the multi-model route's own name)."""

    regex = r"(?!inference(?:/|$))[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("notanid", _NotAnId())
router = APIRouter(tags=["models"], include_in_schema=False)


def _reject(model_id: str) -> None:
    raise RequestValidationError([{"type": "int_parsing", "loc": ("path", "model_id"), "input": model_id[:100],
                                   "msg": "model_id must be a model id: an integer from 0 to 2^53-1"}])


@router.get("/v2/models/{model_id:notanid}")
def get_bad_id(model_id: str) -> None:
    _reject(model_id)


@router.post("/v2/models/{model_id:notanid}/inference")
def inference_bad_id(model_id: str) -> None:
    _reject(model_id)

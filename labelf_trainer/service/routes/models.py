"""``GET /v2/models`` and ``GET /v2/models/{model_id}``: the model objects of the Labelf API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from ..deps import ProjectDep
from ..schemas import MAX_MODEL_ID, ModelList, ModelObject

router = APIRouter(prefix="/v2/models", tags=["models"])

ModelIdPath = Annotated[int, Path(ge=0, le=MAX_MODEL_ID, description="A model id from GET /v2/models.")]


@router.get("", response_model=ModelList, summary="List deployed models")
def list_models(project: ProjectDep, all: Annotated[bool, Query(
        description="Also list models that have no deployed version.")] = False) -> dict:
    """The deployed models of the workspace (ids, names, types, status, labels, metrics)."""
    return {"models": [r.to_api() for r in project.registry.list() if all or r.deployed_version is not None]}


@router.get("/{model_id:int}", response_model=ModelObject, summary="Get a model",
            responses={404: {"description": "No model with this id."}})
def get_model(model_id: ModelIdPath, project: ProjectDep) -> dict:
    """Labels, type, status, metrics with per-class scores, training examples, last trained, confidence threshold."""
    return project.registry.get(model_id).to_api()

"""JSON API of the StateDictExplorer, under /api/state-dict-explorer (see /docs)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.components.answer import LabFailed
from app.components.labs import SandboxSlot
from app.components.state_dict_explorer import service
from app.components.state_dict_explorer.schemas import Explored, Models, ReferenceDemo
from app.components.state_dict_explorer.service import ModelName
from app.components.state_dict_explorer.strings import MODELS

router = APIRouter(prefix="/api/state-dict-explorer", tags=["state_dict explorer"])


@router.get("/models", response_model=Models, summary="The models one can explore")
def models() -> dict:
    return {"models": {name: MODELS["en"][name] for name in service.MODEL_NAMES}}


@router.get(
    "/models/{model}",
    response_model=Explored,
    summary="A real model's state_dict: every entry, parameter or buffer, and stateless modules",
)
def explore(request: Request, _: SandboxSlot, model: ModelName) -> dict:
    return service.explore(request, model)


@router.get(
    "/reference",
    response_model=ReferenceDemo | LabFailed,
    summary="state_dict() returns references: a 'best' snapshot without a copy changes with training",
)
def reference(request: Request, _: SandboxSlot) -> dict:
    return service.reference(request)

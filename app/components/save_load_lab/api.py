"""JSON API of the SaveLoadLab, under /api/save-load-lab (see /docs)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.components.answer import LabFailed
from app.components.labs import SandboxSlot
from app.components.save_load_lab import service
from app.components.save_load_lab.schemas import Inside, RefactorOut, Refactors, Saved, SaveFailed, TrainEval
from app.components.save_load_lab.service import Refactor
from app.components.save_load_lab.strings import REFACTORS

router = APIRouter(prefix="/api/save-load-lab", tags=["save and load lab"])


@router.get("/refactors", response_model=Refactors, summary="The code changes one can make after saving")
def refactors() -> dict:
    return {"refactors": {name: REFACTORS["en"][name][1] for name in service.REFACTOR_NAMES}}


@router.get(
    "/save",
    response_model=Saved | SaveFailed,
    summary="Save a state_dict and a whole pickled model for real: code and file sizes",
)
def save(request: Request, _: SandboxSlot) -> dict:
    return service.saved(request)["save"]


@router.get(
    "/refactors/{refactor}",
    response_model=RefactorOut,
    summary="Refactor the code, then load each file in a fresh process: every attempt",
)
def refactor(request: Request, _: SandboxSlot, refactor: Refactor) -> dict:
    return service.refactor(request, refactor)


@router.get(
    "/inside",
    response_model=Inside,
    summary="Inside both .pt files: zip entries and the globals their pickles refer to",
)
def inside(request: Request, _: SandboxSlot) -> dict:
    return service.saved(request)["inside"]


@router.get(
    "/train-eval",
    response_model=TrainEval | LabFailed,
    summary="Same input in train mode and after model.eval()",
)
def train_eval(request: Request, _: SandboxSlot) -> dict:
    return service.train_eval(request)

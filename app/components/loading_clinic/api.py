"""JSON API of the LoadingClinic, under /api/loading-clinic (see /docs)."""
from __future__ import annotations

from fastapi import APIRouter, Request

from app.components.loading_clinic import service
from app.components.loading_clinic.service import CaseId
from app.components.loading_clinic.strings import CASES

router = APIRouter(prefix="/api/loading-clinic", tags=["loading clinic"])


@router.get("/cases", summary="The clinic's cases")
def cases() -> dict:
    return {"cases": {case_id: CASES["en"][case_id] for case_id in service.CASE_IDS}}


@router.get("/cases/{case_id}", summary="Run a case: broken code and torch's real error, the fix and its evidence")
def run_case(request: Request, case_id: CaseId) -> dict:
    return service.run_case(request, case_id)

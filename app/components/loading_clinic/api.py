"""JSON API of the LoadingClinic, under /api/loading-clinic (see /docs)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request

from app.components.labs import SandboxSlot
from app.components.loading_clinic import service
from app.components.loading_clinic.schemas import Attempt, CaseRun, Cases
from app.components.loading_clinic.service import CaseId
from app.components.loading_clinic.strings import CASES, FIXES

router = APIRouter(prefix="/api/loading-clinic", tags=["loading clinic"])


@router.get("/cases", response_model=Cases, summary="The clinic's cases and the candidate fixes of each")
def cases() -> dict:
    return {
        "cases": {
            case_id: {
                "title": CASES["en"][case_id],
                "fixes": {fix: label for fix, (label, _) in FIXES["en"][case_id].items()},
            }
            for case_id in service.CASE_IDS
        }
    }


@router.get(
    "/cases/{case_id}",
    response_model=CaseRun,
    summary="Run a case: broken code and torch's real error, the fix and its evidence",
)
def run_case(request: Request, _: SandboxSlot, case_id: CaseId) -> dict:
    return service.run_case(request, case_id)


@router.get(
    "/cases/{case_id}/fixes/{fix_id}",
    response_model=Attempt,
    summary="Try one candidate fix: the server runs it for real against the broken checkpoint",
)
def try_fix(request: Request, _: SandboxSlot, case_id: CaseId, fix_id: str) -> dict:
    if fix_id not in service.FIX_IDS[case_id]:
        raise HTTPException(404, f"no such fix; choose one of: {', '.join(service.FIX_IDS[case_id])}")
    result = service.try_fix(request, case_id, fix_id)
    return {**result, "why": FIXES["en"][case_id][fix_id][1]}

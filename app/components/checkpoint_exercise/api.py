"""JSON API of the CheckpointExercise, under /api/exercises (see /docs)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse

from app.components.checkpoint_exercise import service as svc
from app.components.checkpoint_exercise import words
from app.components.checkpoint_exercise.exercises import EXERCISES, ORDER
from app.components.checkpoint_exercise.schemas import (
    Attempt,
    Cleared,
    ExerciseList,
    ExerciseQueue,
    Progress,
    Solution,
    Submission,
)
from app.deps import Lang
from app.sessions import client_address, session_id

router = APIRouter(prefix="/api/exercises", tags=["checkpoint exercises"])


@router.get(
    "",
    response_model=ExerciseList,
    summary="The exercises with their scaffolds, and the mode this server offers",
)
def list_exercises(request: Request, lang: Lang) -> dict:
    service = svc.of(request)
    mode, why = service.mode()
    return {
        "mode": mode,
        "mode_reason": why,
        "code_max_kb": service.settings.exercise_code_max_kb,
        "exercises": [
            {
                "id": k,
                "title": EXERCISES[k]["title"][lang],
                "task": EXERCISES[k]["task"][lang],
                "functions": EXERCISES[k]["learner"],
                "scaffold": EXERCISES[k]["scaffold"],
                "bank": EXERCISES[k]["bank"],
            }
            for k in ORDER
        ],
    }


@router.get(
    "/progress",
    response_model=dict[str, Progress],
    summary="This browser's solved exercises and failed checks",
)
def progress(request: Request) -> dict:
    return svc.of(request).progress(session_id(request))


def attempt_view(service, attempt: dict, lang: str) -> dict:
    ex = EXERCISES[attempt["exercise"]]
    out = {
        "id": attempt["id"],
        "exercise": attempt["exercise"],
        "status": attempt["status"],
        "place": service.place(attempt) if attempt["status"] == svc.AttemptStatus.WAITING else 0,
        "verdict": None,
        "hint": None,
        "solution_available": False,
        "progress": attempt["progress"],
    }
    v = attempt["verdict"]
    if v is not None:
        out["verdict"] = {**v, **words.explain(lang, ex, v)}
        failures = (attempt["progress"] or {}).get("failures", 0)
        if v["status"] != "solved" and failures >= 2:
            out["solution_available"] = True
            out["hint"] = words.hint(lang, ex, v)
    return out


@router.post(
    "/{exercise_id}/checks",
    response_model=Attempt,
    status_code=202,
    summary="Submit code (or assembled lines) for one exercise; poll the attempt for its verdict",
)
def submit(request: Request, exercise_id: str, body: Submission, lang: Lang):
    service = svc.of(request)
    sid = session_id(request)
    try:
        attempt = service.submit(
            sid, exercise_id, code=body.code, picks=body.lines, address=client_address(request)
        )
    except svc.Refused as r:
        return JSONResponse(
            {"detail": words.REFUSED[lang][r.code].format(**r.details), "code": r.code},
            status_code=r.status,
        )
    return attempt_view(service, attempt, lang)


@router.get(
    "/checks/{attempt_id}",
    response_model=Attempt,
    summary="An attempt: waiting, running, or done with its verdict",
)
def poll(request: Request, attempt_id: str, lang: Lang) -> dict:
    service = svc.of(request)
    attempt = service.attempt(session_id(request), attempt_id)
    if attempt is None:
        raise HTTPException(404, "no such check for this browser")
    return attempt_view(service, attempt, lang)


def solution_allowed(row: dict, explicit: bool) -> bool:
    """Offered after two failed checks or once solved; after one failure only when asked for."""
    return row["solved"] or row["failures"] >= 2 or (explicit and row["failures"] >= 1)


@router.get(
    "/{exercise_id}/solution",
    response_model=Solution,
    summary="The reference solution: after two failed checks, or after one when asked for explicitly",
)
def solution(request: Request, exercise_id: str, explicit: bool = False) -> dict:
    if exercise_id not in EXERCISES:
        raise HTTPException(404, "no such exercise")
    row = svc.of(request).progress(session_id(request))[exercise_id]
    if not solution_allowed(row, explicit):
        raise HTTPException(
            403, "the solution is shown after two failed checks (or one, asked for explicitly)"
        )
    return {"exercise": exercise_id, "code": EXERCISES[exercise_id]["solution"]}


TEACHER_ONLY: dict[int | str, dict] = {
    403: {"description": "teacher only: the teacher's cookie or key is missing or wrong"},
    429: {"description": "too many wrong teacher keys from this address; try again in a minute"},
}


def require_teacher(request: Request) -> None:
    from app.components.teacher_dashboard.api import require_teacher as teacher_only

    teacher_only(request)


@router.get(
    "/queue",
    response_model=ExerciseQueue,
    dependencies=[Depends(require_teacher)],
    responses=TEACHER_ONLY,
    summary="Teacher: the checks waiting and running now",
)
def queue(request: Request) -> dict:
    return svc.of(request).queue()


@router.post(
    "/queue/clear",
    response_model=Cleared,
    dependencies=[Depends(require_teacher)],
    responses=TEACHER_ONLY,
    summary="Teacher: cancel every waiting check (the learners are told and may check again)",
)
def clear_queue(request: Request) -> dict:
    return {"cleared": svc.of(request).clear()}

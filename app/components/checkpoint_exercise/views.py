"""HTML side of the CheckpointExercise: the partial in the chapter and its htmx routes."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from app.components.checkpoint_exercise import api, words
from app.components.checkpoint_exercise import service as svc
from app.components.checkpoint_exercise.exercises import EXERCISES
from app.components.htmx import require_htmx
from app.deps import Lang
from app.sessions import client_address, session_id
from app.templating import templates

PREFIX = "/components/checkpoint-exercise"
router = APIRouter(prefix=PREFIX, include_in_schema=False)


def render_placeholder(request: Request, lang: str, attrs: dict | None = None) -> Markup:
    name = (attrs or {}).get("exercise", "resume")
    ex = EXERCISES.get(name)
    if ex is None:
        return Markup(templates.get_template("checkpoint_exercise/unknown.html").render(lang=lang, name=name))
    mode, why = svc.of(request).mode()
    context = {
        "lang": lang,
        "prefix": PREFIX,
        "ex": ex,
        "mode": mode,
        "why": why,
        "max_kb": svc.of(request).settings.exercise_code_max_kb,
    }
    return Markup(templates.get_template("checkpoint_exercise/component.html").render(context))


def _attempt(
    request: Request,
    lang: str,
    attempt: dict | None = None,
    message: str | None = None,
    exercise_id: str | None = None,
) -> Response:
    service = svc.of(request)
    view = api.attempt_view(service, attempt, lang) if attempt else None
    context = {
        "lang": lang,
        "prefix": PREFIX,
        "a": view,
        "message": message,
        "exercise": exercise_id or (attempt or {}).get("exercise"),
        "output_kb": service.limits.output_kb,
    }
    return templates.TemplateResponse(request, "checkpoint_exercise/attempt.html", context)


@router.post("/{exercise_id}/check", response_class=HTMLResponse, dependencies=[Depends(require_htmx)])
async def check(request: Request, lang: Lang, exercise_id: str):
    form = await request.form()
    picks = None
    if form.get("mode") == "assemble" and exercise_id in EXERCISES:
        picks = []
        for i in range(len(EXERCISES[exercise_id]["bank"])):
            raw = str(form.get(f"pos-{i}", "")).strip()
            picks.append(int(raw) if raw.isdigit() and 0 < int(raw) <= 50 else None)
    code = str(form.get("code", ""))
    sid = session_id(request)
    service = svc.of(request)
    try:
        attempt = await run_in_threadpool(
            service.submit, sid, exercise_id, code, picks, client_address(request)
        )
    except svc.Refused as r:
        message = words.REFUSED[lang][r.code].format(**r.details)
        running = service.attempt(sid, service.in_flight.get(sid, "")) if r.code == "busy" else None
        if running and running["exercise"] != exercise_id:
            # Another exercise's check: its verdict belongs under that exercise, not this one.
            title = EXERCISES[running["exercise"]]["title"][lang]
            message, running = words.REFUSED[lang]["busy_other"].format(title=title), None
        # "Busy" with this exercise: the check already running keeps its place (and its polling).
        return _attempt(request, lang, attempt=running, message=message, exercise_id=exercise_id)
    return _attempt(request, lang, attempt)


@router.get("/checks/{attempt_id}", response_class=HTMLResponse)
def poll(request: Request, lang: Lang, attempt_id: str):
    attempt = svc.of(request).attempt(session_id(request), attempt_id)
    if attempt is None:
        return _attempt(request, lang, message=words.REFUSED[lang]["unknown"])
    return _attempt(request, lang, attempt)


@router.get("/{exercise_id}/solution", response_class=HTMLResponse)
def solution(request: Request, lang: Lang, exercise_id: str, explicit: bool = False):
    ex = EXERCISES.get(exercise_id)
    row = svc.of(request).progress(session_id(request)).get(exercise_id) if ex else None
    allowed = bool(ex and row and api.solution_allowed(row, explicit))
    return templates.TemplateResponse(
        request,
        "checkpoint_exercise/solution.html",
        {"lang": lang, "code": ex["solution"] if ex and allowed else None},
    )


@router.get("/queue", response_class=HTMLResponse, dependencies=[Depends(api.require_teacher)])
def queue(request: Request, lang: Lang):
    """The teacher's view of the check queue (a fragment for the dashboard), with a Clear button."""
    return _queue(request, lang, None)


@router.post(
    "/queue/clear",
    response_class=HTMLResponse,
    dependencies=[Depends(require_htmx), Depends(api.require_teacher)],
)
def clear_queue(request: Request, lang: Lang):
    return _queue(request, lang, svc.of(request).clear())


def _queue(request: Request, lang: str, cleared: int | None) -> Response:
    q = svc.of(request).queue()
    titles = {k: ex["title"][lang] for k, ex in EXERCISES.items()}
    context = {"lang": lang, "prefix": PREFIX, "q": q, "titles": titles, "cleared": cleared}
    return templates.TemplateResponse(request, "checkpoint_exercise/queue.html", context)

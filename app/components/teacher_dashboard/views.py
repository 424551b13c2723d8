"""The teacher's pages: /teach (dashboard), its live fragment and event stream, the presenter
view, export, reset and archives. Every one of them answers 403 unless the request carries the
teacher's cookie (or key); a learner's session opens none of them."""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sse_starlette import EventSourceResponse

from app import i18n
from app.components.checkpoint_simulator import ledger as cs_ledger
from app.components.checkpoint_simulator.schemas import RunRequest
from app.components.checkpoint_simulator.strings import RESTORE_LABELS, STATUS
from app.components.teacher_dashboard import service
from app.components.teacher_dashboard.auth import TEACHER_COOKIE, auth_of
from app.components.teacher_dashboard.classroom import label
from app.components.teacher_dashboard.strings import HELP
from app.i18n import request_lang
from app.templating import templates

router = APIRouter(prefix="/teach", include_in_schema=False)
TICK = 0.2  # s between looks at the board (a few counters when nothing changed)
PING = 15


def _page_context(request: Request, lang: str, **extra) -> dict:
    from app.pages import page_context

    other = next(code for code in i18n.LANGS if code != lang)
    path = request.url.path
    query = {k: v for k, v in request.query_params.items() if k not in ("lang", "key")}
    query["lang"] = other
    return page_context(request, lang) | {"other_lang_url": f"{path}?{urlencode(query)}"} | extra


def denied(request: Request, status: str) -> Response:
    lang = request_lang(request)
    if status == "limited":
        seconds = auth_of(request).wrong_keys.retry_after(
            request.client.host if request.client else "unknown"
        )
        message = i18n.t(lang, "tm.limited").format(s=seconds)
        code, headers = 429, {"retry-after": str(seconds)}
    else:
        message = i18n.t(lang, "tm.wrong_key") if status == "wrong" else ""
        code, headers = 403, {}
    context = _page_context(request, lang, message=message)
    return templates.TemplateResponse(
        request, "teacher/denied.html", context, status_code=code, headers=headers
    )


def guard(request: Request) -> Response | None:
    status = auth_of(request).is_teacher(request)
    return None if status == "ok" else denied(request, status)


def board_context(request: Request, lang: str, board=None) -> dict:
    board = board or service.classroom(request).board()
    now = time.time()

    def ago(ts: float) -> str:
        seconds = max(0, int(now - ts))
        return (
            i18n.t(lang, "tm.ago_s").format(n=seconds)
            if seconds < 120
            else i18n.t(lang, "tm.ago_m").format(n=seconds // 60)
        )

    return {
        "lang": lang,
        "board": board,
        "ago": ago,
        "label": lambda n: label(lang, n),
        "restore_labels": RESTORE_LABELS[lang],
        "status_names": STATUS[lang],
        "help_names": HELP[lang],
        "idle_minutes": service.fmt_num(request.app.state.settings.teacher_idle_minutes),
        "fmt_change": service.fmt_change,
        "fmt_num": service.fmt_num,
        "spike": cs_ledger.SPIKE,
        "exercise_title": lambda ex: service.exercise_title(lang, ex),
        "exercise_short": lambda ex: service.exercise_short(lang, ex),
        "diagnosis_name": lambda code: service.diagnosis_name(lang, code),
    }


@router.get("", response_class=HTMLResponse)
def dashboard(request: Request):
    key = request.query_params.get("key")
    if key is not None:
        status = auth_of(request).check_key(request, key)
        if status != "ok":
            return denied(request, status)
        service.classroom(request).state.mark_teacher()
        # The key leaves the address bar (and the history) at once; the cookie carries on.
        lang = request.query_params.get("lang")
        response = RedirectResponse(
            "/teach" + (f"?lang={lang}" if lang in i18n.LANGS else ""), status_code=303
        )
        response.set_cookie(
            TEACHER_COOKIE,
            auth_of(request).cookie_value(),
            max_age=auth_of(request).max_age,
            httponly=True,
            samesite="lax",
            path="/",
        )
        return response
    if (refused := guard(request)) is not None:
        return refused
    service.classroom(request).state.mark_teacher()
    lang = request_lang(request)
    defaults = RunRequest.model_validate({}).model_dump()
    context = (
        _page_context(request, lang)
        | board_context(request, lang)
        | {
            "defaults": defaults,
            "scenario": service.scenario(request, {}, [], lang),
            "fields": service.SIM_FIELDS,
            "field_labels": service.field_labels(lang),
        }
    )
    return templates.TemplateResponse(request, "teacher/dashboard.html", context)


@router.get("/board", response_class=HTMLResponse)
def board_fragment(request: Request):
    if (refused := guard(request)) is not None:
        return refused
    lang = request_lang(request)
    return templates.TemplateResponse(request, "teacher/board.html", board_context(request, lang))


async def _follow(request: Request):
    room = service.classroom(request)
    sent, count = None, 0
    while True:
        board = room.recent_board()
        if board is None:
            board = await anyio.to_thread.run_sync(room.board)
        if board.sig != sent:
            sent, count = board.sig, count + 1
            yield {"event": "changed", "data": json.dumps({"n": count, **board.counts, **board.queue})}
        await asyncio.sleep(TICK)


@router.get("/events")
async def events(request: Request):
    """'changed' whenever the class's board changes, with its counts; the page then fetches it once."""
    if (refused := guard(request)) is not None:
        return refused
    return EventSourceResponse(_follow(request), ping=PING)


def _present_context(request: Request, lang: str) -> dict:
    board = service.classroom(request).board()
    context = board_context(request, lang, board)
    learner = request.query_params.get("learner")
    number = int(learner) if learner and learner.isdigit() and len(learner) < 7 else None
    context.update(number=number, chart=None, learner=None)
    if number is not None:
        context["learner"] = board.learner(number)
        context["chart"] = service.learner_chart(request, board, number, lang)
    context["query"] = urlencode({"lang": lang, **({"learner": number} if number is not None else {})})
    return context


def _presenter(request: Request, template: str):
    if (refused := guard(request)) is not None:
        return refused
    lang = request_lang(request)
    return templates.TemplateResponse(request, template, _present_context(request, lang))


@router.get("/present", response_class=HTMLResponse)
def present(request: Request):
    return _presenter(request, "teacher/present.html")


@router.get("/present/content", response_class=HTMLResponse)
def present_content(request: Request):
    return _presenter(request, "teacher/present_content.html")


@router.get("/scenario", response_class=HTMLResponse)
def scenario(request: Request):
    if (refused := guard(request)) is not None:
        return refused
    lang = request_lang(request)
    link_lang = request.query_params.get("link_lang")
    link_lang = link_lang if link_lang in i18n.LANGS else lang
    result = service.scenario(
        request, dict(request.query_params), request.query_params.getlist("lock"), lang, link_lang
    )
    context = {
        "lang": lang,
        "scenario": result,
        "fields": service.SIM_FIELDS,
        "field_labels": service.field_labels(lang),
        "oob": True,
    }
    return templates.TemplateResponse(request, "teacher/scenario.html", context)


# Excel on Windows reads a CSV without a byte-order mark in the machine's code page and garbles
# Chinese; with one it reads UTF-8. Other readers (Python's utf-8-sig, LibreOffice) skip it.
BOM = "\ufeff"


def csv_response(text: str, filename: str) -> Response:
    return Response(
        (BOM + text).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


def _export_name(ext: str) -> str:
    return f"class-{time.strftime('%Y%m%d-%H%M')}.{ext}"


@router.get("/export.csv")
def export_csv(request: Request):
    if (refused := guard(request)) is not None:
        return refused
    lang = request_lang(request)
    board = service.classroom(request).fresh_board()
    part = request.query_params.get("part")
    runs = service.to_csv(service.export_rows(board.rows, lang))
    ex_rows = service.exercise_rows(board, lang)
    exercises = service.to_csv(ex_rows, service.EXERCISE_COLUMNS)
    # One row per run; then, once any learner has run an exercise check, an empty line and a second
    # table, one row per learner and exercise. ?part=runs or ?part=exercises sends one table alone.
    if part == "runs" or (part != "exercises" and not ex_rows):
        text = runs
    elif part == "exercises":
        text = exercises
    else:
        text = runs + "\n" + exercises
    return csv_response(text, _export_name("csv"))


@router.get("/export.json")
def export_json(request: Request):
    if (refused := guard(request)) is not None:
        return refused
    lang = request_lang(request)
    board = service.classroom(request).fresh_board()
    data = {"runs": service.export_rows(board.rows, lang), "exercises": service.exercise_rows(board, lang)}
    return Response(
        json.dumps(data, ensure_ascii=False, indent=1),
        media_type="application/json",
        headers={"content-disposition": f'attachment; filename="{_export_name("json")}"'},
    )


@router.get("/reset", response_class=HTMLResponse)
def reset_confirm(request: Request):
    if (refused := guard(request)) is not None:
        return refused
    lang = request_lang(request)
    board = service.classroom(request).fresh_board()
    context = _page_context(
        request, lang, size=service.class_size(lang, board.counts), error=request.query_params.get("error")
    )
    return templates.TemplateResponse(request, "teacher/reset.html", context)


@router.post("/reset")
async def reset(request: Request):
    if (refused := guard(request)) is not None:
        return refused
    lang = request_lang(request)
    form = await request.form()
    if form.get("confirm") != "yes":
        return RedirectResponse(f"/teach/reset?lang={lang}&error=1", status_code=303)
    entry = await anyio.to_thread.run_sync(service.classroom(request).reset)
    return RedirectResponse(f"/teach/archives?lang={lang}&archived={entry['id']}", status_code=303)


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


@router.get("/archives", response_class=HTMLResponse)
def archives(request: Request):
    if (refused := guard(request)) is not None:
        return refused
    lang = request_lang(request)
    room = service.classroom(request)
    archived = room.state.archive_entry((request.query_params.get("archived") or "")[:40])
    restored = room.state.archive_entry((request.query_params.get("restored") or "")[:40])
    message = None
    if archived is not None:
        message = i18n.t(lang, "tm.archived").format(what=service.class_size(lang, archived))
    elif restored is not None:
        message = i18n.t(lang, "tm.restored").format(
            when=_when(restored["created"]), what=service.class_size(lang, restored)
        )
    context = _page_context(
        request,
        lang,
        archives=list(reversed(room.state.archives)),
        message=message,
        when=_when,
        size=lambda a: service.class_size(lang, a),
    )
    return templates.TemplateResponse(request, "teacher/archives.html", context)


@router.get("/archives/{archive_id}/restore", response_class=HTMLResponse)
def restore_confirm(request: Request, archive_id: str):
    """The restore's confirmation step: a form of its own, so it works without JavaScript."""
    if (refused := guard(request)) is not None:
        return refused
    lang = request_lang(request)
    entry = service.classroom(request).state.archive_entry(archive_id[:40])
    if entry is None:
        return Response(i18n.t(lang, "tm.no_archive"), status_code=404)
    context = _page_context(
        request,
        lang,
        entry=entry,
        when=_when,
        size=service.class_size(lang, entry),
        error=request.query_params.get("error"),
    )
    return templates.TemplateResponse(request, "teacher/archive_restore.html", context)


@router.get("/archives/{archive_id}.csv")
def archive_csv(request: Request, archive_id: str):
    if (refused := guard(request)) is not None:
        return refused
    rows = service.classroom(request).state.archived_rows(archive_id[:40])
    if rows is None:
        return Response(i18n.t(request_lang(request), "tm.no_archive"), status_code=404)
    lang = request_lang(request)
    return csv_response(service.to_csv(service.export_rows(rows, lang)), f"class-{archive_id[:40]}.csv")


@router.post("/archives/{archive_id}/restore")
async def restore(request: Request, archive_id: str):
    if (refused := guard(request)) is not None:
        return refused
    lang = request_lang(request)
    archive_id = archive_id[:40]
    room = service.classroom(request)
    entry = room.state.archive_entry(archive_id)
    if entry is None:
        return Response(i18n.t(lang, "tm.no_archive"), status_code=404)
    form = await request.form()
    if form.get("confirm") != "yes" and not entry.get("restored"):
        return RedirectResponse(f"/teach/archives/{archive_id}/restore?lang={lang}&error=1", status_code=303)
    if not entry.get("restored"):
        await anyio.to_thread.run_sync(room.restore, archive_id)
    return RedirectResponse(f"/teach/archives?lang={lang}&restored={archive_id}", status_code=303)


@router.post("/leave")
def leave(request: Request):
    lang = request_lang(request)
    auth_of(request).end(request.cookies.get(TEACHER_COOKIE))  # refused from now on, even if replayed
    response = RedirectResponse(f"/{lang}/", status_code=303)
    response.delete_cookie(TEACHER_COOKIE, path="/")
    return response

"""HTML side of the CheckpointSimulator: the stable shell placed in the chapter, its fragments
(each with its own route, rendered per request from the job backend's state), the event stream
that tells the fragments when to fetch themselves again, and the actions.

An action answers with the fragment it changed; `HX-Trigger` asks the other fragments it
touched to refresh at once (the stream would tell them a moment later anyway).
Blocking work (SQLite, run folders, rendering) runs through `service.in_slot`.
"""

from __future__ import annotations

import contextlib
import json
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from pydantic import ValidationError
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from app import i18n
from app.components.checkpoint_simulator import explain, service, stream
from app.components.checkpoint_simulator.panels import (
    PREFIX,
    LineageView,
    fmt,
    lineage_name,
    lineage_view,
    naive_why,
)
from app.components.checkpoint_simulator.schemas import (
    RESTORE_MODES,
    SCENARIO,
    Prediction,
    ResumeRequest,
    RunRequest,
)
from app.components.checkpoint_simulator.service import OwnedRun
from app.components.checkpoint_simulator.strings import RESTORE_LABELS, STATUS
from app.components.htmx import require_htmx
from app.components.labs import SandboxSlot
from app.deps import Jobs, Lang, Session
from app.jobs.processes import SandboxError, SandboxFailure, call_cached
from app.jobs.protocol import JobBackend, LimitReached, NotAllowed, Run
from app.jobs.tasks import describe_file
from app.ml import layout
from app.templating import templates

assert explain  # its strings are registered on import
router = APIRouter(prefix=PREFIX, include_in_schema=False)
# The chart view a page asked for (per epoch or per step); anything else is the default.
View = Annotated[str, Query(pattern="^(epochs|steps)$")]


def _render(name: str, context: dict) -> str:
    return templates.get_template(f"checkpoint_simulator/{name}").render(context)


def _context(lang: str, v: LineageView | None, **extra: object) -> dict:
    return {"lang": lang, "prefix": PREFIX, "v": v, "fmt": fmt, "scenario": SCENARIO, **extra}


def _note(lang: str, message: str | None = None, detail: str | None = None) -> str:
    """An action's message, out of band: shown until the next action, which clears it."""
    return _render("message.html", {"lang": lang, "message": message, "detail": detail})


def _respond(body: str, trigger: dict[str, str] | None = None, focus: str | None = None) -> HTMLResponse:
    response = HTMLResponse(body)
    if trigger:  # event -> the fragment it is for: refreshed now rather than at the stream's word
        response.headers["HX-Trigger"] = json.dumps({e: {"target": t} for e, t in trigger.items()})
    if focus:  # an element outside the answer takes focus once it is in place (simulator.js)
        response.headers["HX-Trigger-After-Settle"] = json.dumps({"cs-focus": {"target": focus}})
    return response


def _root(jobs: JobBackend, run: Run) -> Run:
    return jobs.run(run.root_id) or run


def live_html(jobs: JobBackend, sid: str, lang: str, picked: str | None = None, view: str = "epochs") -> str:
    """The learner's runs and the lineage on screen (the picked one, else the latest). Blocking."""
    roots = service.learner_roots(jobs, sid)
    root = next((r for r in roots if r.id == picked), roots[-1] if roots else None)
    v = lineage_view(jobs, lang, roots, root, view) if root else None
    picked = root.id if root and picked == root.id else ""
    return _render("live.html", _context(lang, v, picked=picked, **_nav(roots, root, lang))) + _render(
        "announce.html", {"v": v}
    )


def _nav(roots: list[Run], shown: Run | None, lang: str) -> dict:
    return {
        "roots": roots,
        "shown": shown.id if shown else "",
        "names": {r.id: lineage_name(r, lang) for r in roots},
        "status_names": STATUS[lang],
    }


def fragment_html(
    jobs: JobBackend, lang: str, run: Run, name: str, view: str = "epochs", focus: object = None
) -> str:
    """One fragment of the lineage `run` belongs to, rendered from the backend's state now."""
    v = lineage_view(jobs, lang, [], _root(jobs, run), view)
    body = _render(name, _context(lang, v, focus=focus))
    return body + _render("announce.html", {"v": v}) if name in ("now.html", "ledger.html") else body


def render_placeholder(request: Request, lang: str) -> Markup:
    # The learner's own runs load into #cs-live on the stream's first event: the same for everyone.
    context = {
        "lang": lang,
        "prefix": PREFIX,
        "form": RunRequest.model_validate({}).model_dump(),
        "errors": {},
        "restore_modes": RESTORE_MODES,
        "restore_labels": RESTORE_LABELS[lang],
        "scenario": SCENARIO,
    }
    return Markup(_render("component.html", context))


def form_errors(exc: ValidationError, lang: str) -> dict[str, str]:
    """Field -> message in the page's language, from pydantic's error types and context."""
    errors = {}
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ()) if p != "body"]
        kind = e.get("type", "")
        key = f"cs.err.{kind}"
        text = i18n.t(lang, key) if key in i18n.STRINGS[lang] else i18n.t(lang, "cs.err.other")
        ctx = {k: v for k, v in (e.get("ctx") or {}).items() if isinstance(v, (int, float, str))}
        with contextlib.suppress(KeyError, IndexError):  # a message without the placeholder
            text = text.format(**ctx)
        # Rules across fields carry their field in the message: "crash_epoch: …".
        field = loc[0] if loc else e.get("msg", "").partition(":")[0]
        errors[field if field in RunRequest.model_fields else "form"] = text
    return errors


def limit_message(exc: LimitReached, lang: str) -> str:
    key = f"cs.limit.{exc.code}"
    return i18n.t(lang, key if key in i18n.STRINGS[lang] else "cs.limit.limit").format(**exc.params)


def _predictions(form: dict) -> dict[str, dict]:
    """predict-<mode>-<what> fields of the optional guess form -> {mode: {what: bool}}."""
    out: dict[str, dict] = {}
    for mode in RESTORE_MODES:
        raw = {what: form.get(f"predict-{mode}-{what}") for what in ("identical", "spike")}
        guess = Prediction.model_validate(
            {k: v == "yes" for k, v in raw.items() if v in ("yes", "no")}
        ).stored()
        if guess:
            out[mode] = guess
    return out


# --- the shell, its stream, its fragments ---


@router.get("/live", response_class=HTMLResponse)
async def live(request: Request, jobs: Jobs, sid: Session, lang: Lang, view: View = "epochs", run: str = ""):
    return HTMLResponse(await service.in_slot(request, partial(live_html, jobs, sid, lang, run[:64], view)))


@router.get("/nav", response_class=HTMLResponse)
async def nav(request: Request, jobs: Jobs, sid: Session, lang: Lang, run: str = ""):
    def draw() -> str:
        roots = service.learner_roots(jobs, sid)
        shown = next((r for r in roots if r.id == run), None)
        return _render("nav.html", _context(lang, None, **_nav(roots, shown, lang)))

    return HTMLResponse(await service.in_slot(request, draw))


@router.get("/events")
async def events(request: Request, jobs: Jobs, sid: Session, lang: Lang):
    """Small named events for the learner's runs (stream.py); the fragments fetch themselves."""
    return EventSourceResponse(
        stream.events(jobs, sid, lambda fn: service.in_slot(request, fn), lang), ping=stream.PING
    )


async def _part(
    request: Request, jobs: JobBackend, lang: str, run: Run, name: str, view: str
) -> HTMLResponse:
    return HTMLResponse(await service.in_slot(request, partial(fragment_html, jobs, lang, run, name, view)))


@router.get("/runs/{run_id}/now", response_class=HTMLResponse)
async def now(request: Request, jobs: Jobs, lang: Lang, run: OwnedRun, view: View = "epochs"):
    return await _part(request, jobs, lang, run, "now.html", view)


@router.get("/runs/{run_id}/timeline", response_class=HTMLResponse)
async def timeline(request: Request, jobs: Jobs, lang: Lang, run: OwnedRun, view: View = "epochs"):
    return await _part(request, jobs, lang, run, "timeline.html", view)


@router.get("/runs/{run_id}/checkpoints", response_class=HTMLResponse)
async def checkpoints(request: Request, jobs: Jobs, lang: Lang, run: OwnedRun, view: View = "epochs"):
    return await _part(request, jobs, lang, run, "checkpoints.html", view)


@router.get("/runs/{run_id}/ledger", response_class=HTMLResponse)
async def ledger(request: Request, jobs: Jobs, lang: Lang, run: OwnedRun, view: View = "epochs"):
    return await _part(request, jobs, lang, run, "ledger.html", view)


@router.get("/runs/{run_id}/compare", response_class=HTMLResponse)
async def compare(request: Request, jobs: Jobs, lang: Lang, run: OwnedRun, view: View = "epochs"):
    return await _part(request, jobs, lang, run, "compare.html", view)


@router.get("/runs/{run_id}/disk", response_class=HTMLResponse)
async def disk(request: Request, jobs: Jobs, lang: Lang, run: OwnedRun, view: View = "epochs"):
    return await _part(request, jobs, lang, run, "disk.html", view)


# --- actions ---


@router.post("/runs", response_class=HTMLResponse, dependencies=[Depends(require_htmx)])
async def start_run(request: Request, jobs: Jobs, sid: Session, lang: Lang, view: View = "epochs"):
    raw: dict[str, object] = dict(await request.form())
    raw["scheduler"] = raw.get("scheduler") in ("on", "true", "1")
    raw["mid_epoch"] = raw.get("mid_epoch") in ("on", "true", "1")
    if not raw.get("crash_epoch") or raw.get("crash") in (None, "none"):
        raw.pop("crash_epoch", None)

    def submit() -> HTMLResponse:
        try:
            req = RunRequest.model_validate(raw)
        except ValidationError as exc:
            context = {"lang": lang, "form": raw, "errors": form_errors(exc, lang), "prefix": PREFIX}
            response = HTMLResponse(_render("form.html", context))
            response.headers["HX-Retarget"] = "#cs-form"
            response.headers["HX-Reswap"] = "outerHTML"
            return response
        try:
            jobs.submit(sid, "train", req.train_config(), req.options())
        except LimitReached as exc:
            return HTMLResponse(
                live_html(jobs, sid, lang, None, view) + _note(lang, limit_message(exc, lang))
            )
        return _respond(live_html(jobs, sid, lang, None, view) + _note(lang), focus="#cs-now")

    return await service.in_slot(request, submit)


@router.post("/runs/{run_id}/crash", response_class=HTMLResponse, dependencies=[Depends(require_htmx)])
async def crash(request: Request, jobs: Jobs, lang: Lang, run: OwnedRun, view: View = "epochs"):
    def attempt() -> str | None:
        try:
            jobs.crash(run.id)
        except NotAllowed as exc:
            return str(exc)
        return None

    refused = await service.in_slot(request, attempt)
    if refused is None:
        # The answer shows the run crashed, not "running" for the moment the process takes to die.
        await service.ended(request, jobs, run.id)
    body = await service.in_slot(request, partial(fragment_html, jobs, lang, run, "now.html", view, True))
    trigger = {"cs-epoch": "#cs-timeline", "cs-checkpoint": "#cs-ckpts", "cs-ledger": "#cs-ledger-box"}
    return _respond(body + _note(lang, refused), trigger={**trigger, "cs-status": "#cs-disk-box"})


def _resumed(jobs: JobBackend, lang: str, source: Run, view: str, submit, focus: object) -> HTMLResponse:
    """A resume's answer: the ledger with the new row(s), or the refusal in words."""
    try:
        submit()
    except LimitReached as exc:
        note = _note(lang, limit_message(exc, lang))
    except service.Refused as exc:
        message = i18n.t(lang, f"cs.refused.{exc.code}")
        if exc.code == "rejected" and exc.file == layout.NAIVE_FILE:
            message += ("" if lang == "zh" else " ") + naive_why(lang)
        note = _note(lang, message, exc.detail)
    else:
        body = fragment_html(jobs, lang, source, "ledger.html", view, focus) + _note(lang)
        return _respond(body, trigger={"cs-ledger": "#cs-compare-box", "cs-checkpoint": "#cs-disk-box"})
    return HTMLResponse(fragment_html(jobs, lang, source, "ledger.html", view) + note)


@router.post("/resume", response_class=HTMLResponse, dependencies=[Depends(require_htmx)])
async def resume(request: Request, jobs: Jobs, sid: Session, lang: Lang, view: View = "epochs"):
    form = dict(await request.form())

    def submit() -> HTMLResponse:
        try:
            req = ResumeRequest.model_validate(
                {
                    "from_run": form.get("from_run", ""),
                    "file": form.get("file", ""),
                    "restore": form.get("restore", "everything"),
                }
            )
        except ValidationError as exc:
            return HTMLResponse(_note(lang, " ".join(form_errors(exc, lang).values())))
        source = service.owned_run(jobs, sid, req.from_run)
        guess = _predictions(form).get(req.restore)
        return _resumed(
            jobs,
            lang,
            source,
            view,
            lambda: service.resume(jobs, source, req.file, req.restore, guess),
            req.restore,
        )

    return await service.in_slot(request, submit)


@router.post("/resume-all", response_class=HTMLResponse, dependencies=[Depends(require_htmx)])
async def resume_all(request: Request, jobs: Jobs, sid: Session, lang: Lang, view: View = "epochs"):
    form = dict(await request.form())

    def submit() -> HTMLResponse:
        source = service.owned_run(jobs, sid, str(form.get("from_run", ""))[:64])
        file = str(form.get("file", ""))[:64]
        return _resumed(
            jobs, lang, source, view, lambda: service.resume_all(jobs, source, file, _predictions(form)), True
        )

    return await service.in_slot(request, submit)


@router.delete("/runs/{run_id}", response_class=HTMLResponse, dependencies=[Depends(require_htmx)])
async def delete(
    request: Request, jobs: Jobs, sid: Session, lang: Lang, run: OwnedRun, view: View = "epochs"
):
    def attempt() -> HTMLResponse:
        try:
            jobs.delete(run.root_id)
        except NotAllowed as exc:
            return HTMLResponse(live_html(jobs, sid, lang, run.root_id, view) + _note(lang, str(exc)))
        return _respond(live_html(jobs, sid, lang, None, view) + _note(lang), focus="#cs-start")

    return await service.in_slot(request, attempt)


@router.get("/runs/{run_id}/inside", response_class=HTMLResponse)
async def inside(request: Request, _: SandboxSlot, jobs: Jobs, lang: Lang, run: OwnedRun, file: str):
    """The one sandbox call of the simulator's routes: it waits for a sandbox place on the event
    loop (SandboxSlot, app/components/labs.py) and, holding it, runs in the thread pool rather
    than a simulator slot, so that a slow torch.load cannot hold up the class's fragments."""
    path = await service.in_slot(request, partial(service.checkpoint_path, jobs, run, file))

    def look() -> Response:
        context = {"lang": lang, "file": file, "run": run, "summary": None, "error": None, "prefix": PREFIX}
        if request.state.sandbox_waited_out:  # waited for a sandbox place on the event loop, in vain
            context["error"] = "waited too long for a free sandbox (the class is busy); try again"
            return templates.TemplateResponse(request, "checkpoint_simulator/inside.html", context)
        try:
            # Once per file version, a few sandboxes at a time (app.jobs.processes.call_cached).
            context["summary"] = call_cached(request.app.state.settings, describe_file, str(path))
        except (SandboxFailure, SandboxError) as exc:
            context["error"] = str(exc)  # torch's own words for a truncated file; else why it stopped
            if file == layout.NAIVE_FILE:
                context["why"] = naive_why(lang)
        return templates.TemplateResponse(request, "checkpoint_simulator/inside.html", context)

    return await run_in_threadpool(look)

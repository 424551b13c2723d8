"""HTML side of the CheckpointSimulator: the partial placed in the chapter and its htmx routes."""
from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse, HTMLResponse
from markupsafe import Markup
from pydantic import ValidationError
from sse_starlette import EventSourceResponse

from app import i18n
from app.components import charts
from app.components.htmx import lang_of, require_htmx
from app.components.checkpoint_simulator import service
from app.components.checkpoint_simulator.schemas import RESTORE_MODES, ResumeRequest, RunRequest
from app.components.checkpoint_simulator.stream import PING, Watch, follow
from app.components.checkpoint_simulator.strings import RESTORE_LABELS, STATUS
from app.jobs.manager import LimitReached, NotAllowed
from app.jobs.processes import SandboxError, SandboxFailure, call_limited
from app.jobs.tasks import describe_file
from app.sessions import session_id
from app.templating import templates

PREFIX = "/components/checkpoint-simulator"
router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _fmt(v: float | None, digits: int = 4) -> str:
    return "–" if v is None else f"{v:.{digits}g}"


def _series_css(restore: str | None) -> str:
    return {"everything": "series-3", "weights": "series-6", "weights_optimizer": "series-2",
            "no_scheduler": "series-4", "no_rng": "series-7"}.get(restore or "", "series-1")


def lr_points(epochs) -> list[tuple[float, float]]:
    # The LR of epoch e holds from e-1 to e: a staircase needs each value at its epoch's start.
    return [(e.epoch - 1, e.lr) for e in epochs] + [(e.epoch, e.lr) for e in epochs[-1:]]


def build_charts(lineage: service.Lineage, lang: str) -> tuple[Markup, Markup]:
    tr = lambda key: i18n.t(lang, key)  # noqa: E731
    labels = RESTORE_LABELS[lang]
    loss_series, lr_series, markers = [], [], []
    if lineage.reference:
        ref = lineage.reference
        loss_series.append(charts.Series(tr("cs.reference"), service.step_points(ref), "series-5", dashed=True))
        lr_series.append(charts.Series(tr("cs.reference"), lr_points(ref.epochs), "series-5", dashed=True, step=True))
    for seg in lineage.segments:
        if seg.run.kind == "train":
            label, css = tr("cs.original"), "series-1"
        else:
            label = tr("cs.resumed").format(mode=labels[seg.restore][0])
            css = _series_css(seg.restore)
            markers.append(charts.Marker(seg.first_epoch, tr("cs.resume_marker"), "resume"))
        loss_series.append(charts.Series(label, service.step_points(seg), css))
        lr_series.append(charts.Series(label, lr_points(seg.epochs), css, step=True))
        for cp in seg.checkpoints:
            markers.append(charts.Marker(cp.epoch, f"{tr('cs.checkpoint')} {cp.epoch}", "checkpoint"))
        if seg.crash:
            x = seg.crash.get("epoch", 0)
            if lineage.steps_per_epoch and seg.crash.get("step"):
                x = seg.crash["step"] / lineage.steps_per_epoch
            markers.append(charts.Marker(x, tr("cs.crash"), "crash"))
    names = {"checkpoint": tr("cs.checkpoint"), "crash": tr("cs.crash"), "resume": tr("cs.resume_marker")}
    loss = charts.Chart(tr("cs.loss_chart"), "loss", tr("cs.epoch"), loss_series, markers,
                        x_max=lineage.epochs_total, log_y=True)
    lr = charts.Chart(tr("cs.lr_chart"), "lr", tr("cs.epoch"), lr_series, [], x_max=lineage.epochs_total,
                      height=160)
    return charts.render(loss, marker_names=names), charts.render(lr, marker_names=names)


def live_context(request: Request, lang: str, root_id: str | None = None, message: str | None = None,
                 message_kind: str = "bad") -> dict:
    jobs = service.manager(request)
    sid = session_id(request)
    roots = service.learner_roots(jobs, sid)
    root = next((r for r in roots if r.id == root_id), roots[-1] if roots else None)
    lineage, key = service.current_lineage(jobs, root) if root else (None, None)
    loss_chart = lr_chart = None
    verdicts = []
    if lineage:
        loss_chart, lr_chart = service.charts_cache.get((*key, lang), lambda: build_charts(lineage, lang))
        for seg in lineage.segments:
            if seg.run.kind == "resume":
                verdicts.append((seg, service.first_resumed_epoch_gap(seg, lineage.reference)))
    return {
        "lang": lang, "roots": roots, "lineage": lineage, "loss_chart": loss_chart, "lr_chart": lr_chart,
        "verdicts": verdicts, "message": message, "message_kind": message_kind,
        "status_names": STATUS[lang], "restore_labels": RESTORE_LABELS[lang], "prefix": PREFIX,
        "fmt": _fmt,
    }


def render_live(request: Request, lang: str, **kwargs) -> HTMLResponse:
    return templates.TemplateResponse(request, "checkpoint_simulator/live.html", live_context(request, lang, **kwargs))


def render_placeholder(request: Request, lang: str) -> Markup:
    # The learner's own runs load into #cs-live with htmx: the partial is the same for everyone.
    context = {"lang": lang, "prefix": PREFIX, "form": RunRequest().model_dump(), "errors": {},
               "restore_modes": RESTORE_MODES, "restore_labels": RESTORE_LABELS[lang]}
    return Markup(templates.get_template("checkpoint_simulator/component.html").render(context))


def _form_errors(exc: ValidationError) -> dict[str, str]:
    errors = {}
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ()) if p != "body"]
        msg = e.get("msg", "").removeprefix("Value error, ")
        field, _, rest = msg.partition(": ")
        if not loc and rest and field in RunRequest.model_fields:
            errors[field] = rest
        else:
            errors[loc[0] if loc else "form"] = msg
    return errors


@router.get("/live", response_class=HTMLResponse)
async def live(request: Request, run: str | None = None):
    return await service.in_slot(request, partial(render_live, request, lang_of(request), root_id=run))


@router.get("/events")
async def events(request: Request):
    """The page's event stream: "changed" when the learner's runs change, "queue" places in line."""
    watch = Watch(service.manager(request), session_id(request), lang_of(request))
    return EventSourceResponse(follow(watch, lambda fn: service.in_slot(request, fn)), ping=PING)


@router.post("/runs", response_class=HTMLResponse, dependencies=[Depends(require_htmx)])
async def start_run(request: Request):
    lang = lang_of(request)
    raw = dict(await request.form())
    raw["scheduler"] = raw.get("scheduler") in ("on", "true", "1")
    if not raw.get("crash_epoch"):
        raw.pop("crash_epoch", None)
    try:
        req = RunRequest.model_validate(raw)
    except ValidationError as exc:
        context = {"lang": lang, "form": raw, "errors": _form_errors(exc), "prefix": PREFIX}
        response = templates.TemplateResponse(request, "checkpoint_simulator/form.html", context)
        response.headers["HX-Retarget"] = "#cs-form"
        response.headers["HX-Reswap"] = "outerHTML"
        return response
    try:
        run = service.manager(request).submit_train(session_id(request), req.train_config(), req.options())
    except LimitReached as exc:
        return render_live(request, lang, message=str(exc))
    return render_live(request, lang, root_id=run.id)


def _act(request: Request, run_id: str, action, after_root: bool = True) -> HTMLResponse:
    """Crash or delete: the action's refusal is a message in the page, never an error page."""
    run = service.owned_run(request, run_id)
    try:
        action(service.manager(request), run)
    except NotAllowed as exc:
        return render_live(request, lang_of(request), root_id=run.root_id, message=str(exc))
    return render_live(request, lang_of(request), root_id=run.root_id if after_root else None)


@router.post("/runs/{run_id}/crash", response_class=HTMLResponse, dependencies=[Depends(require_htmx)])
def crash(request: Request, run_id: str):
    return _act(request, run_id, lambda jobs, run: jobs.crash(run.id))


@router.post("/resume", response_class=HTMLResponse, dependencies=[Depends(require_htmx)])
def resume(request: Request, from_run: str = Form(...), file: str = Form(...), restore: str = Form("everything")):
    lang = lang_of(request)
    try:
        req = ResumeRequest(from_run=from_run, file=file, restore=restore)
    except ValidationError as exc:
        return render_live(request, lang, message="; ".join(e["msg"] for e in exc.errors()))
    source = service.owned_run(request, req.from_run)
    try:
        service.resume(request, source, req.file, req.restore)
    except LimitReached as exc:
        return render_live(request, lang, root_id=source.root_id, message=str(exc))
    return render_live(request, lang, root_id=source.root_id)


@router.post("/runs/{run_id}/delete", response_class=HTMLResponse, dependencies=[Depends(require_htmx)])
def delete(request: Request, run_id: str):
    return _act(request, run_id, lambda jobs, run: jobs.delete(run.root_id), after_root=False)


@router.get("/runs/{run_id}/files/{file:path}")
def download(request: Request, run_id: str, file: str):
    run = service.owned_run(request, run_id)
    path = service.checkpoint_path(service.manager(request), run, file)
    name = f"{run.id[:8]}-{path.name}"
    return FileResponse(path, media_type="application/octet-stream", filename=name)


@router.get("/runs/{run_id}/inside", response_class=HTMLResponse)
def inside(request: Request, run_id: str, file: str):
    run = service.owned_run(request, run_id)
    jobs = service.manager(request)
    path = service.checkpoint_path(jobs, run, file)
    context = {"lang": lang_of(request), "file": file, "run": run, "summary": None, "error": None, "prefix": PREFIX}
    try:
        context["summary"] = call_limited(request.app.state.settings, describe_file, str(path))
    except (SandboxFailure, SandboxError) as exc:
        context["error"] = str(exc)  # torch's own words for a truncated file; else why it stopped
    return templates.TemplateResponse(request, "checkpoint_simulator/inside.html", context)

"""HTML side of the CheckpointSimulator: the partial placed in the chapter and its htmx routes.

Blocking work, one rule for every route here and in api.py: the route is `async def`, and its
body that touches SQLite, the run folders or renders runs through `service.in_slot` (a few
threads for the whole simulator). `inside` alone holds a sandbox place instead (see there).
"""

from __future__ import annotations

import time
from functools import partial

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from pydantic import ValidationError
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from app import i18n
from app.components.cache import ViewCache
from app.components.checkpoint_simulator import data_order, service, words
from app.components.checkpoint_simulator.figures import build_figures, order_strip
from app.components.checkpoint_simulator.schemas import RESTORE_MODES, Prediction, ResumeRequest, RunRequest
from app.components.checkpoint_simulator.service import OwnedRun
from app.components.checkpoint_simulator.stream import PING, Watch, follow
from app.components.checkpoint_simulator.strings import PIECE_LABELS, RESTORE_LABELS, STATUS
from app.components.htmx import require_htmx
from app.components.labs import SandboxSlot
from app.deps import Jobs, Lang, Session
from app.jobs.processes import SandboxError, SandboxFailure, call_cached
from app.jobs.protocol import JobBackend, LimitReached, NotAllowed
from app.jobs.tasks import describe_file
from app.responses import held_file_response
from app.templating import templates

PREFIX = "/components/checkpoint-simulator"
router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _fmt(v: float | None, digits: int = 4) -> str:
    return "–" if v is None else f"{v:.{digits}g}"


def lineage_name(root, lang: str) -> str:
    """What tells one lineage from another: its crash plan, when it started, a short id."""
    plan = "none"
    epoch = None
    if root.options.get("crash_at_epoch"):
        plan, epoch = "at_epoch", root.options["crash_at_epoch"]
    elif root.options.get("crash_while_saving_at"):
        plan, epoch = "while_saving", root.options["crash_while_saving_at"]
    when = time.strftime("%H:%M", time.localtime(root.created))
    return f"{i18n.t(lang, 'cs.lineage_plan.' + plan).format(epoch=epoch)} · {when} · #{root.id[:6]}"


def _steps_lost(lin: service.Lineage) -> int | None:
    """Training steps done after the last checkpoint that a crash took with it."""
    seg = lin.segments[0]
    if not seg.crash or not lin.steps_per_epoch:
        return None
    saved = max((cp.epoch * lin.steps_per_epoch + cp.batch for cp in seg.checkpoints), default=0)
    return max(int(seg.crash.get("step", 0)) - saved, 0)


def _checkpoint_choices(seg: service.Segment, steps: int | None, lang: str) -> list[dict]:
    """The original run's checkpoints that a resume may start from, newest first, with torch's verdict."""
    verdict = {f["file"]: f for f in (seg.survivors or {}).get("files", [])}
    out = []
    for cp in reversed(seg.checkpoints):
        check = verdict.get(f"checkpoints/{cp.file}")
        where = {"epoch": cp.epoch + 1, "batch": cp.batch, "batches": steps or "?"} if cp.batch else None
        out.append(
            {
                "file": cp.file,
                "epoch": cp.epoch,
                "batch": cp.batch,
                "key": cp.key,
                "latest": cp.latest,
                "mid": where and i18n.t(lang, "cs.ckpt_mid").format(**where),
                "menu": i18n.t(lang, "cs.resume_menu_mid" if where else "cs.resume_menu").format(
                    **(where or {"epoch": cp.epoch})
                ),
                "all": i18n.t(lang, "cs.resume_all_mid" if where else "cs.resume_all").format(
                    **(where or {"epoch": cp.epoch})
                ),
                "ok": None if check is None else check["ok"],
                "error": check and check.get("error"),
            }
        )
    return out


def order_context(lin: service.Lineage, lang: str) -> dict | None:
    """The interrupted epoch's data order, rows with their sentence and strip, or None."""
    view = data_order.build(lin)
    if view is None:
        return None
    labels = RESTORE_LABELS[lang]
    ref_text = data_order.reference_sentence(view, lang)
    ref_label = i18n.t(lang, "cs.reference") if view.reference_same_order else i18n.t(lang, "cs.original")
    ref_label = ref_label[:1].upper() + ref_label[1:]
    rows = [
        {
            "mode": "reference",
            "label": ref_label,
            "sentence": ref_text,
            "twice": 0,
            "never": 0,
            "strip": order_strip(
                [[0, 0]] * view.batches,
                view.batch_size,
                view.samples,
                view.before,
                f"{ref_label}: {ref_text}",
            ),
        }
    ]
    for r in view.rows:
        text = data_order.sentence(r, view, lang)
        rows.append(
            {
                "mode": r.mode,
                "label": labels[r.mode][0],
                "sentence": text,
                "twice": r.twice,
                "never": r.never,
                "kind": r.kind,
                "run_id": r.run_id,
                "strip": order_strip(
                    r.per_batch, view.batch_size, view.samples, view.before, f"{labels[r.mode][0]}: {text}"
                ),
            }
        )
    return {"view": view, "summary": data_order.summary(view, lang), "rows": rows}


def _naive(seg: service.Segment) -> dict | None:
    if seg.naive_bytes is None or not (seg.crash or seg.survivors):
        return None
    check = next((f for f in (seg.survivors or {}).get("files", []) if f["file"] == "naive/latest.pt"), None)
    return {
        "bytes": seg.naive_bytes,
        "ok": None if check is None else check["ok"],
        "error": check and check.get("error"),
    }


def _announcement(lin: service.Lineage | None, ledger, lang: str) -> str:
    """A sentence for screen readers; it changes with the run's state, not with every step."""
    if lin is None:
        return ""
    t = lambda key, **kw: i18n.t(lang, key).format(**kw)  # noqa: E731
    root = lin.segments[0]
    n = len(root.checkpoints)
    parts = []
    if root.run.status in ("queued", "planned"):
        parts.append(t("cs.now_waiting"))
    elif root.run.status == "running":
        parts.append(t("cs.announce.running"))
    elif root.crash:
        parts.append(t("cs.announce.crashed", epoch=root.crash.get("epoch"), n=n))
    elif root.run.status == "done":
        parts.append(t("cs.announce.done", n=n))
    if ledger.tried:
        done = sum(1 for r in ledger.rows if r.identical is not None)
        parts.append(t("cs.announce.ledger", done=done, total=len(ledger.rows)))
    return " ".join(parts)


def live_context(jobs: JobBackend, lang: str, roots: list, root, view: str = "epochs") -> dict:
    lin, key = service.current_lineage(jobs, root) if root else (None, None)
    context = {
        "lang": lang,
        "roots": roots,
        "lineage": lin,
        "prefix": PREFIX,
        "fmt": _fmt,
        "view": view,
        "status_names": STATUS[lang],
        "restore_labels": RESTORE_LABELS[lang],
        "modes": RESTORE_MODES,
        "pieces": PIECE_LABELS[lang],
        "names": {r.id: lineage_name(r, lang) for r in roots},
    }
    if lin is None:
        return context
    ledger = service.build_ledger(lin)
    figures = service.charts_cache.get((*key, lang, view), lambda: build_figures(lin, ledger, lang, view))
    margin = ledger.margin
    first = lin.segments[0]
    choices = _checkpoint_choices(first, lin.steps_per_epoch, lang)
    loadable = [c for c in choices if c["ok"] is not False]
    context.update(
        root_seg=first,
        figures=figures,
        ledger=ledger,
        steps_lost=_steps_lost(lin),
        costs={r.mode: words.cost(r, lang, margin) for r in ledger.rows},
        guesses={r.mode: words.guesses(r, lang) for r in ledger.rows},
        conclusion=words.conclusion(ledger, lang),
        margin_pct=f"{margin * 100:.0f}",
        choices=choices,
        resume_from=loadable[0] if loadable else None,
        naive=_naive(first),
        can_resume=not first.run.active and bool(loadable),
        announce=_announcement(lin, ledger, lang),
        order=order_context(lin, lang),
        mid_epoch=bool(root.config.get("mid_epoch_checkpoint")),
    )
    return context


# Whole live views, keyed by what they show: the learner's runs (session version), the lineage on
# screen and its reference (their versions), language and chart view. Between two epochs nothing
# shown changes, so a view the stream pushes then (or an action's answer already drew) costs a
# dictionary look-up, not a render.
# (Places in line change without a version; the stream patches them into the page itself.)
_views = ViewCache(size=256, concurrent=8)
LIVE = "checkpoint_simulator/live.html"
MESSAGE = "checkpoint_simulator/message.html"


def chart_view(value: str | None) -> str:
    """The chart view a page asked for; anything else is the default (a bad value is no error)."""
    return "steps" if value == "steps" else "epochs"


def live_body(jobs: JobBackend, sid: str, lang: str, root_id: str | None = None, view: str = "epochs") -> str:
    """The learner's live view as HTML, from the cache when nothing it shows has changed.
    Blocking (SQLite, the run folders, the render): call it through service.in_slot."""
    # Read before the runs: the view then shows this version or a later one, never an earlier
    # one under this version's key (nor tagged with it for the page's ordering, data-version).
    version = jobs.session_version(sid)
    roots = service.learner_roots(jobs, sid)
    root = next((r for r in roots if r.id == root_id), roots[-1] if roots else None)
    key = (sid, version, *(service.lineage_key(jobs, root) if root else ()), lang, view)
    return _views.get(
        key,
        lambda: templates.get_template(LIVE).render(
            live_context(jobs, lang, roots, root, view), version=version
        ),
    )


def render_live(
    request: Request,
    jobs: JobBackend,
    sid: str,
    lang: str,
    root_id: str | None = None,
    message: str | None = None,
    detail: str | None = None,
    focus: str | None = None,
) -> HTMLResponse:
    """The learner's live view; an action's message and focus target ride along out of band.
    Blocking (SQLite, the run folders, the render): call it through service.in_slot."""
    body = live_body(jobs, sid, lang, root_id, chart_view(request.query_params.get("view")))
    if message is None and focus is None:
        return HTMLResponse(body)
    # An action's answer is the view as the action left it, rendered into the same cache: the
    # view the event stream pushes next is found there (one render per click). The message
    # rides along out of band.
    note = templates.get_template(MESSAGE).render(lang=lang, message=message, detail=detail)
    response = HTMLResponse(body + note)
    if focus:
        # After the swap settles, the page moves focus here (static/js/simulator.js).
        response.headers["X-CS-Focus"] = focus
    return response


def render_placeholder(request: Request, lang: str) -> Markup:
    # The learner's own runs load into #cs-live with htmx: the partial is the same for everyone.
    context = {
        "lang": lang,
        "prefix": PREFIX,
        "form": RunRequest().model_dump(),
        "errors": {},
        "restore_modes": RESTORE_MODES,
        "restore_labels": RESTORE_LABELS[lang],
    }
    return Markup(templates.get_template("checkpoint_simulator/component.html").render(context))


def form_errors(exc: ValidationError, lang: str) -> dict[str, str]:
    """Field -> message in the page's language, from pydantic's error types and context."""
    errors = {}
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ()) if p != "body"]
        kind = e.get("type", "")
        key = f"cs.err.{kind}"
        text = i18n.t(lang, key) if key in i18n.STRINGS[lang] else i18n.t(lang, "cs.err.other")
        ctx = {k: v for k, v in (e.get("ctx") or {}).items() if isinstance(v, (int, float, str))}
        try:
            text = text.format(**ctx)
        except (KeyError, IndexError):
            pass
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
        guess = Prediction(**{k: v == "yes" for k, v in raw.items() if v in ("yes", "no")}).stored()
        if guess:
            out[mode] = guess
    return out


@router.get("/live", response_class=HTMLResponse)
async def live(request: Request, jobs: Jobs, sid: Session, lang: Lang, run: str | None = None):
    return await service.in_slot(request, partial(render_live, request, jobs, sid, lang, root_id=run))


@router.get("/events")
async def events(request: Request, jobs: Jobs, sid: Session, lang: Lang, run: str = "", view: str = ""):
    """The page's event stream: the live view itself whenever the learner's runs change (the
    lineage `run` and chart `view` the page shows), "queue" places in line."""
    watch = Watch(
        jobs, sid, lang, draw=partial(live_body, jobs, sid, lang, run[:64] or None, chart_view(view))
    )
    return EventSourceResponse(follow(watch, lambda fn: service.in_slot(request, fn)), ping=PING)


@router.post("/runs", response_class=HTMLResponse, dependencies=[Depends(require_htmx)])
async def start_run(request: Request, jobs: Jobs, sid: Session, lang: Lang):
    raw = dict(await request.form())
    raw["scheduler"] = raw.get("scheduler") in ("on", "true", "1")
    raw["mid_epoch"] = raw.get("mid_epoch") in ("on", "true", "1")
    if not raw.get("crash_epoch") or raw.get("crash") in (None, "none"):
        raw.pop("crash_epoch", None)

    def submit() -> HTMLResponse:
        try:
            req = RunRequest.model_validate(raw)
        except ValidationError as exc:
            context = {"lang": lang, "form": raw, "errors": form_errors(exc, lang), "prefix": PREFIX}
            response = templates.TemplateResponse(request, "checkpoint_simulator/form.html", context)
            response.headers["HX-Retarget"] = "#cs-form"
            response.headers["HX-Reswap"] = "outerHTML"
            return response
        try:
            run = jobs.submit(sid, "train", req.train_config(), req.options())
        except LimitReached as exc:
            return render_live(request, jobs, sid, lang, message=limit_message(exc, lang))
        return render_live(request, jobs, sid, lang, root_id=run.id, focus="#cs-now")

    return await service.in_slot(request, submit)


async def _act(
    request: Request,
    jobs: JobBackend,
    sid: str,
    lang: str,
    run,
    action,
    focus: str,
    after_root: bool = True,
    settle=None,
) -> HTMLResponse:
    """Crash or delete: the action's refusal is a message in the page, never an error page.
    `settle()`, awaited after a successful action, lets the answer show its outcome."""

    def attempt() -> str | None:
        try:
            action(run)
        except NotAllowed as exc:
            return str(exc)
        return None

    refused = await service.in_slot(request, attempt)
    if refused is not None:
        return await service.in_slot(
            request, partial(render_live, request, jobs, sid, lang, root_id=run.root_id, message=refused)
        )
    if settle is not None:
        await settle()
    return await service.in_slot(
        request,
        partial(
            render_live, request, jobs, sid, lang, root_id=run.root_id if after_root else None, focus=focus
        ),
    )


@router.post("/runs/{run_id}/crash", response_class=HTMLResponse, dependencies=[Depends(require_htmx)])
async def crash(request: Request, jobs: Jobs, sid: Session, lang: Lang, run: OwnedRun):
    # The answer shows the run crashed, not still "running" for the moment the process takes to
    # die and be recorded (an answer the next refresh would have to correct: two renders).
    return await _act(
        request,
        jobs,
        sid,
        lang,
        run,
        lambda r: jobs.crash(r.id),
        "#cs-now",
        settle=lambda: service.ended(request, jobs, run.id),
    )


def _resume_refused(
    request: Request, jobs: JobBackend, sid: str, lang: str, root_id: str, exc: Exception
) -> HTMLResponse:
    if isinstance(exc, LimitReached):
        return render_live(request, jobs, sid, lang, root_id=root_id, message=limit_message(exc, lang))
    return render_live(
        request,
        jobs,
        sid,
        lang,
        root_id=root_id,
        message=i18n.t(lang, f"cs.refused.{exc.code}"),
        detail=exc.detail,
    )


@router.post("/resume", response_class=HTMLResponse, dependencies=[Depends(require_htmx)])
async def resume(request: Request, jobs: Jobs, sid: Session, lang: Lang):
    form = dict(await request.form())

    def submit() -> HTMLResponse:
        try:
            req = ResumeRequest(
                from_run=form.get("from_run", ""),
                file=form.get("file", ""),
                restore=form.get("restore", "everything"),
            )
        except ValidationError as exc:
            return render_live(request, jobs, sid, lang, message=" ".join(form_errors(exc, lang).values()))
        source = service.owned_run(jobs, sid, req.from_run)
        prediction = _predictions(form).get(req.restore)
        try:
            run = service.resume(jobs, source, req.file, req.restore, prediction)
        except (LimitReached, service.Refused) as exc:
            return _resume_refused(request, jobs, sid, lang, source.root_id, exc)
        return render_live(
            request, jobs, sid, lang, root_id=source.root_id, focus=f"#cs-row-{run.options['restore']}"
        )

    return await service.in_slot(request, submit)


@router.post("/resume-all", response_class=HTMLResponse, dependencies=[Depends(require_htmx)])
async def resume_all(request: Request, jobs: Jobs, sid: Session, lang: Lang):
    form = dict(await request.form())

    def submit() -> HTMLResponse:
        source = service.owned_run(jobs, sid, str(form.get("from_run", ""))[:64])
        try:
            service.resume_all(jobs, source, str(form.get("file", ""))[:64], _predictions(form))
        except (LimitReached, service.Refused) as exc:
            return _resume_refused(request, jobs, sid, lang, source.root_id, exc)
        return render_live(request, jobs, sid, lang, root_id=source.root_id, focus="#cs-ledger-title")

    return await service.in_slot(request, submit)


@router.post("/runs/{run_id}/delete", response_class=HTMLResponse, dependencies=[Depends(require_htmx)])
async def delete(request: Request, jobs: Jobs, sid: Session, lang: Lang, run: OwnedRun):
    return await _act(
        request, jobs, sid, lang, run, lambda r: jobs.delete(r.root_id), "#cs-start", after_root=False
    )


@router.get("/runs/{run_id}/files/{file:path}")
async def download(request: Request, jobs: Jobs, run: OwnedRun, file: str):
    def open_file():
        path = service.checkpoint_path(jobs, run, file)
        # Opened now: keep-last-N may delete the file before the body is sent (app/responses.py).
        return held_file_response(
            path, f"{run.id[:8]}-{path.name}", missing="that checkpoint is no longer on disk"
        )

    return await service.in_slot(request, open_file)


@router.get("/runs/{run_id}/inside", response_class=HTMLResponse)
async def inside(request: Request, _: SandboxSlot, jobs: Jobs, lang: Lang, run: OwnedRun, file: str):
    """The one sandbox call of the simulator's routes: it waits for a sandbox place on the event
    loop (SandboxSlot, app/components/labs.py) and, holding it, runs in the thread pool rather
    than a simulator slot, so that a slow torch.load cannot hold up the class's live views."""
    path = await service.in_slot(request, partial(service.checkpoint_path, jobs, run, file))

    def look() -> HTMLResponse:
        context = {"lang": lang, "file": file, "run": run, "summary": None, "error": None, "prefix": PREFIX}
        if request.state.sandbox_waited_out:  # waited for a sandbox place on the event loop, in vain
            context["error"] = "waited too long for a free sandbox (the class is busy); try again"
            return templates.TemplateResponse(request, "checkpoint_simulator/inside.html", context)
        try:
            # Once per file version, a few sandboxes at a time (app.jobs.processes.call_cached).
            context["summary"] = call_cached(request.app.state.settings, describe_file, str(path))
        except (SandboxFailure, SandboxError) as exc:
            context["error"] = str(exc)  # torch's own words for a truncated file; else why it stopped
        return templates.TemplateResponse(request, "checkpoint_simulator/inside.html", context)

    return await run_in_threadpool(look)

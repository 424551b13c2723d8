"""HTML side of the TransferLearningVisualizer: the partial in the chapter and its htmx routes."""

from __future__ import annotations

import functools
import json
import random
from itertools import product
from typing import Any, get_args

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from app import i18n
from app.components import charts, labs, validation
from app.components.htmx import require_htmx
from app.components.transfer_visualizer import service, story, strings, tell
from app.components.transfer_visualizer.schemas import (
    FinetuneRequest,
    Source,
    Strategy,
    TransferQuery,
    Variant,
)
from app.deps import Jobs, Lang
from app.jobs.protocol import LimitReached
from app.templating import templates

PREFIX = "/components/transfer-visualizer"
router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _query(request: Request) -> TransferQuery | ValidationError:
    """The learner's question from the query string, or why it is not one."""
    raw = {k: v for k, v in request.query_params.items() if k in TransferQuery.model_fields}
    try:
        return TransferQuery.model_validate(raw)
    except ValidationError as exc:
        return exc


def _labels(lang: str) -> dict[str, str]:
    """Form fields as the form labels them, for validation messages."""
    keys = {
        "source": "tl.source",
        "variant": "tl.variant",
        "num_classes": "tl.classes",
        "strategy": "tl.strategy",
        "shots": "tl.shots",
        "epochs": "tl.epochs",
        "seed": "tl.seed",
        "freeze_backbone": "tl.freeze",
    }
    return {name: i18n.t(lang, key) for name, key in keys.items()}


def _base(lang: str) -> dict:
    return {
        "lang": lang,
        "prefix": PREFIX,
        "sources": strings.SOURCES[lang],
        "variants": strings.VARIANTS[lang],
        "strategies": strings.STRATEGIES[lang],
        "status_names": strings.STATUS[lang],
        "status_help": strings.STATUS_HELP[lang],
    }


def diagram_context(
    request: Request,
    lang: str,
    query: TransferQuery | None,
    error: str | None,
    ask: bool = False,
    compare: str | None = None,
) -> dict:
    context = _base(lang) | {"query": query, "error": error, "view": None, "pretraining": None, "ask": ask}
    if query is None:
        return context
    jobs = request.app.state.jobs
    pending = service.pretraining_status(jobs, query.source)
    if pending:
        context["pretraining"] = pending
        context["poll_ms"] = random.randint(1500, 2500)
        return context
    view = service.load_view(request, query)
    context["view"] = view
    # Inherited by the rows' tensor requests (hx-vals): the query once per group, not per row.
    context["tensor_query"] = json.dumps({"lang": lang, **query.model_dump()})
    context |= tell.diagram(lang, query, view)
    if compare and compare != query.strategy:
        before = service.load_view(request, query.model_copy(update={"strategy": compare}))
        context["compare"] = tell.comparison(lang, story.compare(before, view))
    return context


# Every question in both languages (288 x 2, ~22 kB each: ~13 MB): a class clicking through the
# diagram must never wait for a render that an LRU too small for the set threw away.
_rendered = service.ViewCache(size=640, concurrent=4)


def diagram_html(
    request: Request,
    lang: str,
    query: TransferQuery | None,
    error: str | None,
    ask: bool = False,
    compare: str | None = None,
) -> Markup:
    """The diagram is the same for every learner: once the source is ready, render it once."""

    def render() -> str:
        context = diagram_context(request, lang, query, error, ask, compare)
        return templates.get_template("transfer_visualizer/diagram.html").render(context)

    key = _diagram_key(request, lang, query, ask, compare)
    return Markup(render() if key is None else _rendered.get(key, render))


def _diagram_key(
    request: Request, lang: str, query: TransferQuery | None, ask: bool = False, compare: str | None = None
) -> tuple | None:
    """The key a finished diagram is kept under; None while it cannot be kept (no query, or the
    source still pretraining)."""
    jobs = request.app.state.jobs
    if query is None or service.pretraining_status(jobs, query.source):
        return None
    return (*query.key(), lang, ask, compare, service.pretrained_path(jobs, query.source).stat().st_mtime_ns)


def prerender(app, stop) -> None:
    """Every diagram in every language, as the learner meets it after changing a setting (with
    the prediction question), so that the first learner to ask does not pay for its render."""
    request = Request({"type": "http", "app": app, "headers": [], "query_string": b""})
    for lang in i18n.LANGS:
        for source, variant, num_classes, strategy in product(
            get_args(Source), get_args(Variant), range(2, 11), get_args(Strategy)
        ):
            if stop.is_set():
                return
            query = TransferQuery(source=source, variant=variant, num_classes=num_classes, strategy=strategy)
            diagram_html(request, lang, query, None, ask=True)


def render_placeholder(request: Request, lang: str) -> Markup:
    query = TransferQuery()
    # The learner's last comparison loads into #tl-finetune with htmx (see /finetune/latest).
    context = _base(lang) | {"query": query, "diagram": diagram_html(request, lang, query, None)}
    return Markup(templates.get_template("transfer_visualizer/component.html").render(context))


def _view_options(request: Request) -> tuple[bool, str | None]:
    """How the diagram is shown: behind a prediction question (after the learner changed a
    setting), and compared with another strategy (after "apply the fix")."""
    compare = request.query_params.get("compare")
    # Asking is the default: the form's questions are the ones prerendered at start-up.
    return request.query_params.get("ask", "1") == "1", compare if compare in get_args(Strategy) else None


@router.get("/diagram", response_class=HTMLResponse)
async def diagram(request: Request, lang: Lang):
    # A class exploring the diagram asks a few hundred questions, all answered at start-up: those
    # are served on the event loop; anything else is rendered (or computed) in a thread.
    parsed = _query(request)
    query = parsed if isinstance(parsed, TransferQuery) else None
    error = validation.message(lang, parsed, _labels(lang)) if isinstance(parsed, ValidationError) else None
    ask, compare = _view_options(request)
    key = _diagram_key(request, lang, query, ask, compare)
    known = _rendered.peek(key) if key is not None else None
    if known:
        return HTMLResponse(known)
    async with labs.sandbox_slot_held(request) as got:  # the render may compute in a sandbox
        if not got:
            raise HTTPException(503, "waited too long for a free sandbox (the class is busy); try again")
        return HTMLResponse(await run_in_threadpool(diagram_html, request, lang, query, error, ask, compare))


@router.get("/tensor", response_class=HTMLResponse)
async def tensor(request: Request, lang: Lang, key: str):
    query = _query(request)
    if isinstance(query, ValidationError):
        raise HTTPException(422, validation.message(lang, query, _labels(lang)))
    preview = (await service.view(request, query))["previews"].get(key)
    if preview is None:
        raise HTTPException(404, "no such tensor")
    context = _base(lang) | {"p": preview}
    return templates.TemplateResponse(request, "transfer_visualizer/tensor.html", context)


def _finetune_context(request: Request, lang: str, run=None, message: str | None = None) -> dict:
    jobs = request.app.state.jobs
    run = run or service.latest_finetune(request)
    state = service.finetune_state(jobs, run) if run else None
    context = _base(lang) | {"ft": state, "message": message, "acc_chart": None, "loss_chart": None}
    if state:
        tr = lambda k: i18n.t(lang, k)  # noqa: E731
        names = {"transfer": (tr("tl.transfer"), "series-3"), "scratch": (tr("tl.scratch"), "series-5")}
        acc, loss = [], []
        for name, rows in state["curves"].items():
            label, css = names.get(name, (name, "series-1"))
            acc.append(charts.Series(label, [(r["epoch"], r["test_acc"]) for r in rows], css))
            loss.append(charts.Series(label, [(r["epoch"], r["train_loss"]) for r in rows], css))
        epochs = state["config"]["epochs"]
        # Compact pictures, two side by side on a laptop: their text stays >= 11 px on a phone.
        small = functools.partial(charts.Chart, x_max=epochs, width=360, height=240, size="compact")
        context["acc_chart"] = charts.render(small(tr("tl.acc_chart"), "acc", "epoch", acc))
        context["loss_chart"] = charts.render(small(tr("tl.loss_chart"), "loss", "epoch", loss, log_y=True))
        context["poll_ms"] = random.randint(400, 600)
        context["frozen"] = _frozen_story(lang, state["frozen"]) if state["frozen"] else None
    return context


@router.post("/finetune", response_class=HTMLResponse, dependencies=[Depends(require_htmx)])
async def start_finetune(request: Request, lang: Lang, jobs: Jobs):
    form = await request.form()
    raw: dict[str, object] = {k: v for k, v in form.items() if k in FinetuneRequest.model_fields}
    raw["freeze_backbone"] = raw.get("freeze_backbone") in ("on", "true", "1")
    try:
        req = FinetuneRequest.model_validate(raw)
    except ValidationError as exc:
        message = validation.message(lang, exc, _labels(lang))
        return _render_finetune(request, lang, message=message)
    if service.pretraining_status(jobs, req.source):
        return _render_finetune(request, lang, message=i18n.t(lang, "tl.pretraining"))
    try:
        run = service.submit_finetune(request, req)
    except LimitReached as exc:
        return _render_finetune(request, lang, message=limit_message(request, lang, exc))
    return _render_finetune(request, lang, run=run)


@router.get("/finetune/latest", response_class=HTMLResponse)
def latest_finetune(request: Request, lang: Lang):
    return _render_finetune(request, lang)


@router.get("/finetune/{run_id}", response_class=HTMLResponse)
def finetune_view(request: Request, lang: Lang, run_id: str):
    run = service.owned_finetune(request, run_id)
    return _render_finetune(request, lang, run=run)


def _frozen_story(lang: str, f: dict) -> list[str]:
    """What "frozen" meant in this run, in numbers torch measured."""
    tr = lambda k: i18n.t(lang, k)  # noqa: E731
    return [
        tr("tl.frozen_params").format(d=f["params_max_change"]),
        tr("tl.frozen_bn").format(d=f["bn_stats_max_change"], n=f["bn_layers"]),
        tr("tl.frozen_train_mode").format(
            d=f["train_mode_bn_stats_max_change"],
            b=f["train_mode_batches_tracked"],
            w=f["train_mode_params_max_change"],
        ),
    ]


def limit_message(request: Request, lang: str, exc: LimitReached) -> str:
    """The job manager's refusal in the page's language (it words it in English)."""
    if exc.code == "queue":
        return i18n.t(lang, "tl.limit_queue").format(n=exc.params.get("n", "?"))
    n = exc.params.get("n", request.app.state.settings.max_active_runs_per_session)
    return i18n.t(lang, "tl.limit_active").format(n=n)


def _render_finetune(request: Request, lang: str, **kwargs: Any) -> Response:
    return templates.TemplateResponse(
        request, "transfer_visualizer/finetune.html", _finetune_context(request, lang, **kwargs)
    )

"""HTML side of the ShardedCheckpointLab: the partial in chapter 7 and its htmx routes.

A button queues an experiment (a job of the learner's session); its fragment shows the place in
line, then that the ranks run, then the result. While the experiment is active the fragment asks
again after a short delay (`hx-trigger="load delay:…"`): no request waits for the ranks."""

from __future__ import annotations

import random
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from pydantic import ValidationError

from app import i18n
from app.components.htmx import require_htmx
from app.components.sharded_checkpoint_lab import service
from app.components.sharded_checkpoint_lab.schemas import Case, ExperimentIn
from app.deps import Lang
from app.jobs.protocol import LimitReached
from app.templating import templates

PREFIX = "/components/sharded-checkpoint-lab"
router = APIRouter(prefix=PREFIX, include_in_schema=False)
WORLDS = (1, 2, 4)
TEMPLATES = {"save": "saved.html", "reshard": "reshard.html", "killed": "killed.html", "ddp": "ddp.html"}


def _base(lang: str, world: int = 2, sharding: str = "sharded", load_world: int = 4) -> dict[str, Any]:
    return {
        "lang": lang,
        "prefix": PREFIX,
        "worlds": WORLDS,
        "world": world,
        "sharding": sharding,
        "load_world": load_world,
        "message": None,
        "file_rows": service.file_rows,
        "worst_diff": service.worst_diff,
        "mask_text": service.mask_text,
    }


def render_placeholder(request: Request, lang: str) -> Markup:
    return Markup(templates.get_template("sharded_checkpoint_lab/component.html").render(_base(lang)))


def _render(request: Request, lang: str, x: dict[str, Any] | None, message: str | None = None) -> Response:
    context = _base(lang) | {"x": x, "message": message, "poll_ms": random.randint(600, 900)}
    if x is not None:
        context |= {k: x[k] for k in ("world", "sharding", "load_world", "result")}
        context["template"] = TEMPLATES[x["case"]]
    return templates.TemplateResponse(request, "sharded_checkpoint_lab/experiment.html", context)


def _limit_message(lang: str, exc: LimitReached) -> str:
    if exc.code in ("queue", "address"):
        return i18n.t(lang, "scl.limit_queue")
    return i18n.t(lang, "scl.limit_active").format(n=exc.params.get("n", "?"))


@router.post("/experiments", response_class=HTMLResponse, dependencies=[Depends(require_htmx)])
def start(
    request: Request,
    lang: Lang,
    case: Annotated[Case, Form()],
    world: Annotated[int, Form()] = 2,
    sharding: Annotated[str, Form()] = "sharded",
    load_world: Annotated[int, Form()] = 4,
) -> Response:
    if case == "killed" and world == 1:
        world = 2  # a world of one has no other rank to lose: the form's one-rank choice means two
    if case == "ddp":
        world = 4 if world == 4 else 2
    try:
        raw = {"case": case, "world": world, "sharding": sharding, "load_world": load_world}
        experiment = ExperimentIn.model_validate(raw)
    except ValidationError:
        return _render(request, lang, None, i18n.t(lang, "scl.bad_choice"))
    try:
        run = service.submit(request, experiment)
    except LimitReached as exc:
        return _render(request, lang, None, _limit_message(lang, exc))
    return _render(request, lang, service.state(request, run))


@router.get("/experiments/{experiment_id}", response_class=HTMLResponse)
def experiment(request: Request, lang: Lang, experiment_id: str) -> Response:
    return _render(request, lang, service.state(request, service.owned(request, experiment_id)))

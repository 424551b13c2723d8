"""HTML side of the ShardedCheckpointLab: the partial in chapter 7 and its htmx routes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from app import i18n
from app.components.labs import LabUnavailable, SandboxSlot
from app.components.sharded_checkpoint_lab import service
from app.components.sharded_checkpoint_lab.schemas import ShardingName, World
from app.deps import Lang
from app.templating import templates

PREFIX = "/components/sharded-checkpoint-lab"
router = APIRouter(prefix=PREFIX, include_in_schema=False)
WORLDS = (1, 2, 4)


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


def _answer(request: Request, template: str, context: dict[str, Any], compute: Callable[[], Any]) -> Response:
    try:
        context["result"] = compute()
    except LabUnavailable:
        context["message"] = i18n.t(context["lang"], "lab.unavailable")
    return templates.TemplateResponse(request, f"sharded_checkpoint_lab/{template}", context)


@router.get("/save", response_class=HTMLResponse)
def save(
    request: Request, lang: Lang, _: SandboxSlot, world: World = 2, sharding: ShardingName = "sharded"
) -> Response:
    context = _base(lang, world, sharding)
    return _answer(request, "saved.html", context, lambda: service.save(request, world, sharding))


@router.get("/reshard", response_class=HTMLResponse)
def reshard(
    request: Request,
    lang: Lang,
    _: SandboxSlot,
    world: World = 2,
    sharding: ShardingName = "sharded",
    load_world: World = 4,
) -> Response:
    context = _base(lang, world, sharding, load_world)
    return _answer(
        request, "reshard.html", context, lambda: service.reshard(request, world, sharding, load_world)
    )


@router.get("/killed", response_class=HTMLResponse)
def killed(
    request: Request, lang: Lang, _: SandboxSlot, world: World = 2, sharding: ShardingName = "sharded"
) -> Response:
    context = _base(lang, max(world, 2), sharding)
    ranks = 2 if world == 1 else world  # a world of one has no other rank to lose
    return _answer(request, "killed.html", context, lambda: service.killed(request, ranks, sharding))


@router.get("/ddp", response_class=HTMLResponse)
def ddp(request: Request, lang: Lang, _: SandboxSlot, world: World = 2) -> Response:
    ranks = 4 if world == 4 else 2
    return _answer(request, "ddp.html", _base(lang, ranks), lambda: service.ddp(request, ranks))

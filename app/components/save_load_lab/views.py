"""HTML side of the SaveLoadLab: the partial in the chapter and its htmx routes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from app import i18n
from app.components.labs import LabUnavailable, SandboxSlot
from app.components.save_load_lab import service, strings
from app.deps import Lang
from app.templating import templates

PREFIX = "/components/save-load-lab"
router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _base(lang: str) -> dict:
    return {
        "lang": lang,
        "prefix": PREFIX,
        "refactors": strings.REFACTORS[lang],
        "refactor_names": service.REFACTOR_NAMES,
        "attempt_text": strings.ATTEMPTS[lang],
        "roles": strings.ROLES[lang],
        "message": None,
    }


def render_placeholder(request: Request, lang: str) -> Markup:
    # Results load right after the page (hx-trigger="load"): the chapter never waits for torch.
    context = _base(lang) | {"refactor": service.REFACTOR_NAMES[0]}
    return Markup(templates.get_template("save_load_lab/component.html").render(context))


def _render(
    request: Request, template: str, context: dict[str, Any], compute: Callable[[], dict[str, Any]]
) -> Response:
    try:
        context.update(compute())
    except LabUnavailable:
        context["message"] = i18n.t(context["lang"], "lab.unavailable")
    return templates.TemplateResponse(request, template, context)


@router.get("/save", response_class=HTMLResponse)
def save(request: Request, lang: Lang, _: SandboxSlot):
    return _render(
        request, "save_load_lab/save.html", _base(lang), lambda: {"save": service.saved(request)["save"]}
    )


@router.get("/refactor", response_class=HTMLResponse)
def refactor(request: Request, lang: Lang, _: SandboxSlot, refactor: str = "none"):
    context = _base(lang) | {"refactor": refactor, "result": None}
    if refactor not in service.REFACTOR_NAMES:
        context["message"] = i18n.t(lang, "sl.unknown_refactor").format(
            names=", ".join(service.REFACTOR_NAMES)
        )
        return templates.TemplateResponse(request, "save_load_lab/refactor.html", context)
    return _render(
        request,
        "save_load_lab/refactor.html",
        context,
        lambda: {"result": service.refactor(request, refactor)},
    )


@router.get("/inside", response_class=HTMLResponse)
def inside(request: Request, lang: Lang, _: SandboxSlot):
    return _render(
        request,
        "save_load_lab/inside.html",
        _base(lang),
        lambda: {"inside": service.saved(request)["inside"]},
    )


@router.get("/train-eval", response_class=HTMLResponse)
def train_eval(request: Request, lang: Lang, _: SandboxSlot):
    return _render(
        request, "save_load_lab/train_eval.html", _base(lang), lambda: {"te": service.train_eval(request)}
    )

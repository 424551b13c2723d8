"""HTML side of the StateDictExplorer: the partial in the chapter and its htmx routes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from app import i18n
from app.components.labs import LabUnavailable, SandboxSlot
from app.components.state_dict_explorer import service, strings
from app.deps import Lang
from app.templating import templates

PREFIX = "/components/state-dict-explorer"
router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _base(lang: str) -> dict:
    return {
        "lang": lang,
        "prefix": PREFIX,
        "models": strings.MODELS[lang],
        "model_names": service.MODEL_NAMES,
    }


def render_placeholder(request: Request, lang: str) -> Markup:
    # Results load right after the page (hx-trigger="load"): the chapter never waits for torch.
    context = _base(lang) | {"model": service.MODEL_NAMES[0]}
    return Markup(templates.get_template("state_dict_explorer/component.html").render(context))


@router.get("/explore", response_class=HTMLResponse)
def explore(request: Request, lang: Lang, _: SandboxSlot, model: str = "linear"):
    context = _base(lang) | {"model": model, "view": None, "message": None}
    if model not in service.MODEL_NAMES:
        context["message"] = strings.unknown_model(lang, service.MODEL_NAMES)
    else:
        try:
            context["view"] = service.explore(request, model)
        except LabUnavailable:
            context["message"] = i18n.t(lang, "lab.unavailable")
    return templates.TemplateResponse(request, "state_dict_explorer/explore.html", context)


@router.get("/reference", response_class=HTMLResponse)
def reference(request: Request, lang: Lang, _: SandboxSlot):
    context = _base(lang) | {"demo": None, "message": None}
    try:
        context["demo"] = service.reference(request)
    except LabUnavailable:
        context["message"] = i18n.t(context["lang"], "lab.unavailable")
    return templates.TemplateResponse(request, "state_dict_explorer/reference.html", context)

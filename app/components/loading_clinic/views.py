"""HTML side of the LoadingClinic: the partial in the chapter and its htmx routes."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from app import i18n
from app.components.htmx import lang_of
from app.components.labs import LabUnavailable
from app.components.loading_clinic import service, strings
from app.templating import templates

PREFIX = "/components/loading-clinic"
router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _base(lang: str) -> dict:
    return {"lang": lang, "prefix": PREFIX, "cases": strings.CASES[lang], "case_ids": service.CASE_IDS,
            "message": None, "result": None}


def render_placeholder(request: Request, lang: str) -> Markup:
    return Markup(templates.get_template("loading_clinic/component.html").render(_base(lang)))


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def run_case(request: Request, case_id: str):
    lang = lang_of(request)
    context = _base(lang)
    if case_id not in service.CASE_IDS:
        context["message"] = i18n.t(lang, "cl.unknown_case").format(names=", ".join(service.CASE_IDS))
    else:
        try:
            context["result"] = service.run_case(request, case_id)
        except LabUnavailable as exc:
            context["message"] = exc.message
    return templates.TemplateResponse(request, "loading_clinic/case.html", context)

"""HTML side of the LoadingClinic: the partial in the chapter and its htmx routes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape

from app import i18n
from app.components.labs import LabUnavailable, SandboxSlot
from app.components.loading_clinic import service, strings
from app.deps import Lang
from app.templating import templates

PREFIX = "/components/loading-clinic"
router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _base(lang: str) -> dict:
    return {
        "lang": lang,
        "prefix": PREFIX,
        "cases": strings.CASES[lang],
        "case_ids": service.CASE_IDS,
        "message": None,
        "result": None,
    }


def _wrap_name(name: str) -> Markup:
    """`head_fits_3_classes` may wrap after an underscore on a phone, never inside a word."""
    return Markup("_<wbr>").join(escape(part) for part in name.split("_"))


def render_placeholder(request: Request, lang: str) -> Markup:
    return Markup(templates.get_template("loading_clinic/component.html").render(_base(lang)))


def _fixes(lang: str, case_id: str, codes: dict[str, str]) -> list[dict]:
    return [
        {"id": fix, "label": label, "code": codes.get(fix, "")}
        for fix, (label, _) in strings.FIXES[lang][case_id].items()
    ]


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def run_case(request: Request, lang: Lang, _: SandboxSlot, case_id: str):
    """The case as an exercise: the broken code and torch's real error, then candidate fixes."""
    context = _base(lang)
    if case_id not in service.CASE_IDS:
        context["message"] = i18n.t(lang, "cl.unknown_case").format(names=", ".join(service.CASE_IDS))
    else:
        try:
            context["result"] = result = service.run_case(request, case_id)
            context["fixes"] = _fixes(lang, case_id, result.get("candidates") or {})
        except LabUnavailable:
            context["message"] = i18n.t(lang, "lab.unavailable")
    return templates.TemplateResponse(request, "loading_clinic/case.html", context)


@router.get("/cases/{case_id}/try", response_class=HTMLResponse)
def try_fix(request: Request, lang: Lang, _: SandboxSlot, case_id: str, fix: str = ""):
    context = _base(lang)
    if case_id not in service.CASE_IDS:
        context["message"] = i18n.t(lang, "cl.unknown_case").format(names=", ".join(service.CASE_IDS))
    elif fix not in service.FIX_IDS[case_id]:
        context["message"] = i18n.t(lang, "cl.unknown_fix").format(names=", ".join(service.FIX_IDS[case_id]))
    else:
        try:
            attempt = service.try_fix(request, case_id, fix)
            label, why = strings.FIXES[lang][case_id][fix]
            proof = attempt.get("proof") or {}
            facts = {k: v for k, v in (attempt.get("evidence") or {}).items() if k not in proof}
            context["attempt"] = {
                **attempt,
                "label": label,
                "why": why,
                "facts": facts,
                "proof": proof,
                "names": {k: _wrap_name(k) for k in (*facts, *proof)},
            }
        except LabUnavailable:
            context["message"] = i18n.t(lang, "lab.unavailable")
    return templates.TemplateResponse(request, "loading_clinic/attempt.html", context)

"""HTML side of the CheckpointInspector: the upload form in the chapter and its htmx routes."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from app import i18n
from app.components.checkpoint_inspector import audit_words, service, strings  # noqa: F401 - registers text
from app.components.checkpoint_inspector.upload import ALLOWED_EXTENSIONS, UploadRejected
from app.components.htmx import require_htmx
from app.deps import Lang
from app.sessions import has_session, session_id
from app.templating import templates

PREFIX = "/components/checkpoint-inspector"
router = APIRouter(prefix=PREFIX, include_in_schema=False)


def section_href(request: Request, lang: str, section: str) -> str | None:
    """The link to a chapter section by its number ("7.1.2"), from the chapters' own TOC: a
    renamed heading keeps its link."""
    for chapter in request.app.state.library.chapters(lang):
        for entry in chapter.rendered.toc:
            if entry.title.startswith(section + " "):
                return f"/{lang}/{chapter.slug}#{entry.anchor}"
    return None


def _base(request: Request, lang: str) -> dict:
    limit_mb = request.app.state.settings.upload_max_mb
    return {
        "section_href": lambda section: section_href(request, lang, section),
        "in_words": lambda report: audit_words.in_words(report, lang),
        "kind_text": lambda kind: audit_words.kind_text(kind, lang),
        "ledger_text": lambda mode: audit_words.ledger_text(mode, lang),
        "lang": lang,
        "prefix": PREFIX,
        "limit_mb": limit_mb,
        "limit_bytes": limit_mb * 1024 * 1024,
        "extensions": ALLOWED_EXTENSIONS,
        "recent": service.store(request).list(session_id(request)) if has_session(request) else [],
        "entry": None,
        "message": None,
        "oob": False,
        "key_tree": service.key_tree,
        "human_bytes": service.human_bytes,
    }


def render_placeholder(request: Request, lang: str) -> Markup:
    # The learner's recent reports load with htmx (see /recent): the partial is the same for everyone.
    limit_mb = request.app.state.settings.upload_max_mb
    context = {
        "lang": lang,
        "prefix": PREFIX,
        "limit_mb": limit_mb,
        "limit_bytes": limit_mb * 1024 * 1024,
        "extensions": ALLOWED_EXTENSIONS,
        "lazy_recent": True,
    }
    return Markup(templates.get_template("checkpoint_inspector/component.html").render(context))


@router.get("/recent", response_class=HTMLResponse)
def recent(request: Request, lang: Lang):
    return templates.TemplateResponse(request, "checkpoint_inspector/recent.html", _base(request, lang))


def _message(lang: str, code: str, detail: str, limit_mb: int) -> str:
    key = f"ci.reject.{code}"
    text = i18n.t(lang, key)
    return (text if text != key else i18n.t(lang, "ci.reject.malformed")).format(
        limit=limit_mb, detail=detail
    )


@router.post("/upload", response_class=HTMLResponse, dependencies=[Depends(require_htmx)])
async def upload(request: Request, lang: Lang):
    # Always a 200 fragment: htmx swaps it into the page, whatever went wrong with the file.
    try:
        entry = await service.inspect_upload(request, drain=True)
    except UploadRejected as exc:
        context = _base(request, lang) | {
            "message": _message(lang, exc.code, exc.detail, request.app.state.settings.upload_max_mb)
        }
        return templates.TemplateResponse(request, "checkpoint_inspector/result.html", context)
    context = _base(request, lang) | {"entry": entry, "oob": True}
    return templates.TemplateResponse(request, "checkpoint_inspector/result.html", context)


@router.get("/reports/{report_id}", response_class=HTMLResponse)
def report(request: Request, lang: Lang, report_id: str):
    entry = service.store(request).get(session_id(request), report_id)
    if entry is None:
        raise HTTPException(404, "no such report")
    context = _base(request, lang) | {"entry": entry}
    return templates.TemplateResponse(request, "checkpoint_inspector/result.html", context)

"""HTML side of the CheckpointInspector: the upload form in the chapter and its htmx routes."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from app import i18n
from app.components.checkpoint_inspector import audit_words, service, strings  # noqa: F401 - registers text
from app.components.checkpoint_inspector.upload import (
    ALLOWED_EXTENSIONS,
    HEAD_MAX_BYTES,
    TAIL_MAX_BYTES,
    UploadRejected,
)
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
        "binary_size": binary_size,
    }


def binary_size(n: int) -> str:
    """8 MiB, 22.9 MiB, 1.5 GiB: the units the upload limit is set in (a no-break space: the
    number never ends a line without its unit)."""
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:,.1f}".removesuffix(".0") + f"\u00a0{unit}"
    return f"{n:,}\u00a0B"


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
        "head_bytes": HEAD_MAX_BYTES,
        "tail_bytes": TAIL_MAX_BYTES,
        "binary_size": binary_size,
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


def _same_origin_form(request: Request) -> bool:
    """A plain form post from one of this server's own pages (a browser without JavaScript): the
    browser says so itself. Cross-site ones never get here (app.security refuses them)."""
    origin = request.headers.get("origin")
    return request.headers.get("sec-fetch-site") == "same-origin" or (
        origin is not None and urlsplit(origin).netloc.lower() == request.headers.get("host", "").lower()
    )


@router.post("/upload", response_class=HTMLResponse)
async def upload(request: Request, lang: Lang):
    # htmx: always a 200 fragment, swapped into the page whatever went wrong with the file.
    # Without JavaScript the form posts here itself and gets a whole page with the same answer.
    whole_page = request.headers.get("hx-request") != "true"
    if whole_page and not _same_origin_form(request):
        require_htmx(request)  # neither htmx nor a browser's own form: refused as before
    status = 200
    try:
        entry = await service.inspect_upload(request, drain=True)
    except UploadRejected as exc:
        context = _base(request, lang) | {
            "message": _message(lang, exc.code, exc.detail, request.app.state.settings.upload_max_mb)
        }
        status = exc.status
    else:
        context = _base(request, lang) | {"entry": entry, "oob": not whole_page}
    if not whole_page:
        return templates.TemplateResponse(request, "checkpoint_inspector/result.html", context)
    from app.pages import page_context  # pages renders components: imported when used, no cycle

    back = request.headers.get("referer", "")
    context |= page_context(request, lang) | {"back": urlsplit(back).path if back else f"/{lang}/"}
    return templates.TemplateResponse(request, "checkpoint_inspector/page.html", context, status_code=status)


@router.get("/reports/{report_id}", response_class=HTMLResponse)
def report(request: Request, lang: Lang, report_id: str):
    entry = service.store(request).get(session_id(request), report_id)
    if entry is None:
        raise HTTPException(404, "no such report")
    context = _base(request, lang) | {"entry": entry}
    return templates.TemplateResponse(request, "checkpoint_inspector/result.html", context)

"""Chapter pages: the index and one page per Markdown file, with components filled in."""
from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup

from app import components, i18n
from app.content.library import Chapter, ChapterLibrary
from app.content.render import Slot
from app.sessions import session_id
from app.templating import templates

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
YEAR = 365 * 24 * 3600


def library(request: Request) -> ChapterLibrary:
    return request.app.state.library


def page_context(request: Request, lang: str, chapter: Chapter | None = None) -> dict:
    lib = library(request)
    other = next(code for code in i18n.LANGS if code != lang)
    twin = chapter and lib.get(other, chapter.slug)
    return {
        "lang": lang,
        "chapter": chapter,
        "nav_chapters": lib.chapters(lang),
        "other_lang": other,
        "other_lang_url": f"/{other}/{twin.slug}" if twin else f"/{other}/",
    }


def remember(response, lang: str):
    response.set_cookie(i18n.LANG_COOKIE, lang, max_age=YEAR, samesite="lax", httponly=True)
    return response


def render_component(request: Request, name: str, lang: str) -> Markup:
    component = components.get(name)
    if component is None:
        log.warning("chapter %s refers to unknown component %r", request.url.path, name)
    else:
        try:
            return component.render(request, lang)
        except Exception:
            # One broken component must not take the lesson page down with it.
            log.exception("component %s failed to render", name)
    return Markup(templates.get_template("components/unknown.html").render(name=name, lang=lang))


@router.get("/", response_class=HTMLResponse)
def home(request: Request):
    lang = i18n.pick_language(request.cookies.get(i18n.LANG_COOKIE), request.headers.get("accept-language"))
    return index_page(request, lang)


@router.get("/{lang}", response_class=HTMLResponse)
def lang_root(lang: str):
    if lang not in i18n.LANGS:
        raise HTTPException(404)
    return RedirectResponse(f"/{lang}/", status_code=308)


@router.get("/{lang}/", response_class=HTMLResponse)
def index_page(request: Request, lang: str):
    if lang not in i18n.LANGS:
        raise HTTPException(404)
    lib = library(request)
    context = page_context(request, lang) | {"chapters": lib.chapters(lang), "errors": lib.errors()}
    return remember(templates.TemplateResponse(request, "index.html", context), lang)


def _versions(request: Request, chapter: Chapter) -> tuple:
    found = (components.get(part.name) for part in chapter.rendered.parts if isinstance(part, Slot))
    return tuple(c.version(request) if c and c.version else None for c in found)


def _render_chapter(request: Request, lang: str, chapter: Chapter) -> str:
    body = Markup("").join(
        render_component(request, part.name, lang) if isinstance(part, Slot) else Markup(part)
        for part in chapter.rendered.parts
    )
    context = page_context(request, lang, chapter) | {"body": body}
    return templates.get_template("chapter.html").render(context)


@router.get("/{lang}/{slug}", response_class=HTMLResponse)
def chapter_page(request: Request, lang: str, slug: str):
    chapter = library(request).get(lang, slug)
    if chapter is None:
        raise HTTPException(404)
    # The same bytes for every learner until the chapter or a component's state changes:
    # a classroom opening the lesson at once costs one render.
    lib = library(request)
    key = (lang, slug, id(chapter.rendered), lib.generation, _versions(request, chapter))
    html = request.app.state.page_cache.get(key, lambda: _render_chapter(request, lang, chapter))
    session_id(request)  # the learner's session starts with the page, not with its first fragment
    return remember(HTMLResponse(html), lang)

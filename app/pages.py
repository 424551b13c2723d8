"""Chapter pages: the index and one page per Markdown file, with components filled in."""

from __future__ import annotations

import gzip
import logging
from dataclasses import dataclass

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor

from app import components, i18n
from app.content.library import Chapter, ChapterLibrary
from app.content.render import Slot
from app.sessions import session_id
from app.templating import templates

log = logging.getLogger(__name__)
YEAR = 365 * 24 * 3600


class LangConvertor(Convertor):
    """A path segment that is one of the lesson's languages. With it the page routes cannot
    swallow /api/... or /components/... paths, so they are tried first: a chapter request then
    skips matching against every component route (~0.17 ms of the ~1 ms a page costs)."""

    regex = "|".join(i18n.LANGS)

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("lang", LangConvertor())
router = APIRouter(include_in_schema=False)


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


def render_component(request: Request, name: str, lang: str, attrs: tuple = ()) -> Markup:
    component = components.get(name)
    if component is None:
        log.warning("chapter %s refers to unknown component %r", request.url.path, name)
    else:
        try:
            # Extra data-* attributes of the placeholder, for components that take them.
            return component.render(request, lang, dict(attrs)) if attrs else component.render(request, lang)
        except Exception:
            # One broken component must not take the lesson page down with it.
            log.exception("component %s failed to render", name)
    return Markup(templates.get_template("components/unknown.html").render(name=name, lang=lang))


@router.get("/", response_class=HTMLResponse)
def home(request: Request):
    lang = i18n.pick_language(request.cookies.get(i18n.LANG_COOKIE), request.headers.get("accept-language"))
    return index_page(request, lang)


@router.get("/{lang:lang}", response_class=HTMLResponse)
def lang_root(lang: str):
    if lang not in i18n.LANGS:
        raise HTTPException(404)
    return RedirectResponse(f"/{lang}/", status_code=308)


@router.get("/{lang:lang}/", response_class=HTMLResponse)
def index_page(request: Request, lang: str):
    if lang not in i18n.LANGS:
        raise HTTPException(404)
    lib = library(request)
    context = page_context(request, lang) | {"chapters": lib.chapters(lang), "errors": lib.errors()}
    return remember(templates.TemplateResponse(request, "index.html", context), lang)


_hooks: dict[int, tuple] = {}  # id(chapter.rendered) -> (that object, its version hooks)


def _version_hooks(rendered) -> tuple:
    """The version hooks of a chapter's components, found once per chapter text: the page asks
    them on every request, and most components have none."""
    kept = _hooks.get(id(rendered))
    if kept is not None and kept[0] is rendered:
        return kept[1]
    found = (components.get(part.name) for part in rendered.parts if isinstance(part, Slot))
    hooks = tuple(c.version for c in found if c and c.version)
    if len(_hooks) > 64:  # chapters edited while served leave old texts behind
        _hooks.clear()
    _hooks[id(rendered)] = (rendered, hooks)
    return hooks


def _versions(request: Request, chapter: Chapter) -> tuple:
    return tuple(version(request) for version in _version_hooks(chapter.rendered))


@dataclass(frozen=True)
class RenderedPage:
    html: bytes
    gzipped: bytes  # compressed once for the whole class: ~1/6 of the bytes on a classroom's Wi-Fi


def _render_chapter(request: Request, lang: str, chapter: Chapter) -> RenderedPage:
    body = Markup("").join(
        render_component(request, part.name, lang, part.attrs) if isinstance(part, Slot) else Markup(part)
        for part in chapter.rendered.parts
    )
    context = page_context(request, lang, chapter) | {"body": body}
    html = templates.get_template("chapter.html").render(context).encode()
    return RenderedPage(html, gzip.compress(html, compresslevel=9, mtime=0))


def accepts_gzip(header: str) -> bool:
    for item in header.split(","):
        coding, *params = [p.strip() for p in item.split(";")]
        if coding.lower() in ("gzip", "*"):
            q = next((p.split("=", 1)[1] for p in params if p.replace(" ", "").startswith("q=")), "1")
            try:
                return float(q) > 0
            except ValueError:
                return False
    return False


def _page_response(request: Request, page: RenderedPage) -> HTMLResponse:
    if accepts_gzip(request.headers.get("accept-encoding", "")):
        response = HTMLResponse(page.gzipped, headers={"content-encoding": "gzip"})
    else:
        response = HTMLResponse(page.html)
    response.headers["vary"] = "Accept-Encoding"
    return response


def page_key(request: Request, lang: str, slug: str) -> tuple[Chapter | None, tuple]:
    """The chapter and what its page's bytes depend on: the same for every learner until the
    chapter or a component's state changes (app.page_cache keeps the answers by this key too)."""
    lib = library(request)
    chapter = lib.get(lang, slug)
    if chapter is None:
        return None, ()
    return chapter, (lang, slug, id(chapter.rendered), lib.generation, _versions(request, chapter))


@router.get("/{lang:lang}/{slug}", response_class=HTMLResponse)
async def chapter_page(request: Request, lang: str, slug: str):
    chapter, key = page_key(request, lang, slug)
    if chapter is None:
        raise HTTPException(404)
    # A classroom opening the lesson at once costs one render, off the event loop.
    cache = request.app.state.page_cache
    page = cache.peek(key) or await run_in_threadpool(
        cache.get, key, lambda: _render_chapter(request, lang, chapter)
    )
    session_id(request)  # the learner's session starts with the page, not with its first fragment
    return remember(_page_response(request, page), lang)

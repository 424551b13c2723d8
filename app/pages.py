"""Chapter pages: the index and one page per Markdown file, with components filled in."""

from __future__ import annotations

import gzip
import hashlib
import logging
import secrets

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from app import components, i18n
from app.components.cache import app_cache
from app.content.library import Chapter, ChapterLibrary
from app.content.render import Slot
from app.sessions import session_id
from app.templating import templates

log = logging.getLogger(__name__)
YEAR = 365 * 24 * 3600


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
def home(request: Request) -> HTMLResponse:
    return index_page(request, i18n.request_lang(request))


def index_page(request: Request, lang: str) -> HTMLResponse:
    lib = library(request)
    context = page_context(request, lang) | {"chapters": lib.chapters(lang), "errors": lib.errors()}
    return remember(templates.TemplateResponse(request, "index.html", context), lang)


def _versions(request: Request, chapter: Chapter) -> tuple:
    """What the chapter's components draw into the page besides the text (most: nothing)."""
    found = (components.get(part.name) for part in chapter.rendered.parts if isinstance(part, Slot))
    return tuple(c.version(request) for c in found if c and c.version)


def _render_chapter(request: Request, lang: str, chapter: Chapter, gzipped: bool) -> bytes:
    body = Markup("").join(
        render_component(request, part.name, lang, part.attrs) if isinstance(part, Slot) else Markup(part)
        for part in chapter.rendered.parts
    )
    context = page_context(request, lang, chapter) | {"body": body}
    html = templates.get_template("chapter.html").render(context).encode()
    # Level 6: most of level 9's saving on a classroom's Wi-Fi at half its CPU.
    return gzip.compress(html, compresslevel=6, mtime=0) if gzipped else html


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


# A restarted server may have edited chapters behind the same numbers: its pages are new to every browser.
_BOOT = secrets.token_hex(8)


def page_etag(request: Request, chapter: Chapter, gzipped: bool) -> str:
    """A chapter page is the same for every learner until its text, the library or a component's
    state (its `version`) changes: the tag names exactly that, so it is known without rendering.
    The compressed and the plain page are different bytes, so they have different tags."""
    lib = library(request)
    key = (
        _BOOT,
        chapter.lang,
        chapter.slug,
        id(chapter.rendered),
        lib.generation,
        _versions(request, chapter),
    )
    return '"' + hashlib.sha256(repr(key).encode()).hexdigest()[:24] + ("-gz" if gzipped else "") + '"'


def _revalidated(request: Request, etag: str) -> bool:
    given = request.headers.get("if-none-match", "")
    return given.strip() == "*" or etag in (tag.strip().removeprefix("W/") for tag in given.split(","))


async def chapter_page(request: Request, lang: str, slug: str) -> Response:
    chapter = library(request).get(lang, slug)
    if chapter is None:
        raise HTTPException(404)
    session_id(request)  # the learner's session starts with the page, not with its first fragment
    gzipped = accepts_gzip(request.headers.get("accept-encoding", ""))
    etag = page_etag(request, chapter, gzipped)
    # no-cache: the browser keeps the page but asks each time; an unchanged page is a 304.
    headers = {"etag": etag, "cache-control": "no-cache", "vary": "Accept-Encoding"}
    if _revalidated(request, etag):
        return remember(Response(status_code=304, headers=headers), lang)
    if gzipped:
        headers["content-encoding"] = "gzip"
    # The app's one render cache: the page is the same for every learner under one tag, and a class
    # loading it at once would otherwise render and compress it once per learner.
    pages = app_cache(request.app, "pages", size=32)
    page = pages.peek((etag,)) or await run_in_threadpool(
        pages.get, (etag,), lambda: _render_chapter(request, lang, chapter, gzipped)
    )
    return remember(HTMLResponse(page, headers=headers), lang)


def _language_routes(lang: str) -> None:
    """The lesson's pages under one language's prefix: plain paths, so that nothing else
    (/api/..., /components/...) can ever be taken for a chapter."""

    async def chapter(request: Request, slug: str) -> Response:
        return await chapter_page(request, lang, slug)

    def index(request: Request) -> HTMLResponse:
        return index_page(request, lang)

    def root() -> RedirectResponse:
        return RedirectResponse(f"/{lang}/", status_code=308)

    router.add_api_route(f"/{lang}", root, response_class=HTMLResponse, name=f"{lang}-root")
    router.add_api_route(f"/{lang}/", index, response_class=HTMLResponse, name=f"{lang}-index")
    router.add_api_route(f"/{lang}/{{slug}}", chapter, response_class=HTMLResponse, name=f"{lang}-chapter")


for _lang in i18n.LANGS:
    _language_routes(_lang)

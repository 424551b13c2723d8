"""The JSON API for chapters; each component adds its own routes under /api too."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel

from app import i18n
from app.sessions import session_id

router = APIRouter(prefix="/api", tags=["chapters"])


class ChapterSummary(BaseModel):
    lang: str
    slug: str
    title: str
    description: str
    updated: str
    url: str
    components: list[str]


class ChapterProblem(BaseModel):
    lang: str
    file: str
    reason: str


class ChapterIndex(BaseModel):
    chapters: list[ChapterSummary]
    problems: list[ChapterProblem]


def _summary(c) -> ChapterSummary:
    return ChapterSummary(
        lang=c.lang,
        slug=c.slug,
        title=c.title,
        description=c.description,
        updated=c.updated,
        url=f"/{c.lang}/{c.slug}",
        components=c.rendered.components,
    )


@router.get("/chapters", response_model=ChapterIndex, summary="List chapters in every language")
def list_chapters(request: Request) -> ChapterIndex:
    lib = request.app.state.library
    return ChapterIndex(
        chapters=[_summary(c) for lang in i18n.LANGS for c in lib.chapters(lang)],
        problems=[ChapterProblem(lang=e.lang, file=e.file, reason=e.reason) for e in lib.errors()],
    )


@router.get("/chapters/{lang}/{slug}", response_model=ChapterSummary, summary="One chapter's metadata")
def get_chapter(request: Request, lang: str, slug: str) -> ChapterSummary:
    chapter = request.app.state.library.get(lang, slug)
    if chapter is None:
        raise HTTPException(404, "no such chapter")
    return _summary(chapter)


class SessionOut(BaseModel):
    established: bool


@router.get(
    "/session",
    response_model=SessionOut,
    summary="Establish this client's session (a cookie); starting runs or uploads needs one",
)
def establish_session(request: Request) -> SessionOut:
    # Opening any page does the same: API clients call this once and keep the cookie.
    return SessionOut(established=not session_id(request).startswith("unkept-"))

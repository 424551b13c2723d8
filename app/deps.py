"""What a route asks of each request, as FastAPI dependencies: its language, the job system and
the browser's session. A route names them as parameters (`lang: Lang`), so the signature says
what the route reads and tests can override them (app.dependency_overrides)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from app import i18n
from app.jobs.protocol import JobBackend
from app.sessions import session_id


async def _jobs(request: Request) -> JobBackend:
    # async: a look-up on the app, not worth a trip to a thread (FastAPI runs a plain def in one).
    return request.app.state.jobs


async def _lang(
    request: Request,
    lang: Annotated[
        str | None,
        Query(description="zh or en; without it: the page's, the remembered or the browser's language"),
    ] = None,
) -> str:
    # `lang` is read by i18n.request_lang; declared here so that the API's schema shows it.
    return i18n.request_lang(request)


async def _session(request: Request) -> str:
    # async for the same reason: a few dictionary reads (and, on a POST, a brief lock).
    return session_id(request)


# The language of the answer (i18n.request_lang): the one rule every route, page and error uses.
Lang = Annotated[str, Depends(_lang)]
# The job system, through its typed interface only (app/jobs/protocol.py).
Jobs = Annotated[JobBackend, Depends(_jobs)]
# This browser's session id (a GET may establish one; a POST needs one already: 403).
Session = Annotated[str, Depends(_session)]

"""What a route asks of each request, as FastAPI dependencies: its language, the job system and
the browser's session. A route names them as parameters (`lang: Lang`), so the signature says
what the route reads and tests can override them (app.dependency_overrides)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.components.htmx import lang_of
from app.jobs.protocol import JobBackend
from app.sessions import session_id


async def _jobs(request: Request) -> JobBackend:
    # async: a look-up on the app, not worth a trip to a thread (FastAPI runs a plain def in one).
    return request.app.state.jobs


async def _lang(request: Request) -> str:
    return lang_of(request)


async def _session(request: Request) -> str:
    # async for the same reason: a few dictionary reads (and, on a POST, a brief lock).
    return session_id(request)


# The language of a fragment: ?lang= from the page that asked, else the remembered choice.
Lang = Annotated[str, Depends(_lang)]
# The job system, through its typed interface only (app/jobs/protocol.py).
Jobs = Annotated[JobBackend, Depends(_jobs)]
# This browser's session id (a GET may establish one; a POST needs one already: 403).
Session = Annotated[str, Depends(_session)]

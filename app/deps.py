"""What a route asks of each request, as FastAPI dependencies: its language, the job manager and
the browser's session. A route names them as parameters (`lang: Lang`), so the signature says
what the route reads and tests can override them (app.dependency_overrides)."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.components.htmx import lang_of
from app.jobs.manager import JobManager
from app.sessions import session_id


def _jobs(request: Request) -> JobManager:
    return request.app.state.jobs


# The language of a fragment: ?lang= from the page that asked, else the remembered choice.
Lang = Annotated[str, Depends(lang_of)]
Jobs = Annotated[JobManager, Depends(_jobs)]
# This browser's session id (a GET may establish one; a POST needs one already: 403).
Session = Annotated[str, Depends(session_id)]

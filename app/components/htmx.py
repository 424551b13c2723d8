"""Request helpers every component's htmx routes share."""

from __future__ import annotations

from fastapi import HTTPException, Request


def require_htmx(request: Request) -> None:
    # A cross-site form cannot add this header without a CORS preflight: cheap CSRF protection.
    if request.method == "POST" and request.headers.get("hx-request") != "true":
        raise HTTPException(400, "this endpoint is driven by the page (htmx)")

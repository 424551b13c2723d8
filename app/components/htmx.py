"""Request helpers every component's htmx routes share."""

from __future__ import annotations

from fastapi import HTTPException, Request

from app import i18n


def require_htmx(request: Request) -> None:
    # A cross-site form cannot add this header without a CORS preflight: cheap CSRF protection.
    if request.method == "POST" and request.headers.get("hx-request") != "true":
        raise HTTPException(400, "this endpoint is driven by the page (htmx)")


def lang_of(request: Request) -> str:
    """A fragment's language: ?lang= from the page that asked, else the remembered choice."""
    lang = request.query_params.get("lang") or request.cookies.get(i18n.LANG_COOKIE)
    return lang if lang in i18n.LANGS else i18n.DEFAULT_LANG

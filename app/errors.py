"""404 and 500 in the lesson's style and language; JSON for the API; never a stack trace."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app import i18n
from app.middleware import with_security_headers
from app.templating import templates

log = logging.getLogger(__name__)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/api"


def error_page(request: Request, status: int, heading_key: str, message_key: str):
    lang = i18n.request_lang(request)
    lib = request.app.state.library
    from app.pages import page_context  # pages imports nothing from here; avoid a cycle at import

    context = page_context(request, lang) | {
        "heading": i18n.t(lang, heading_key),
        "message": i18n.t(lang, message_key),
        "chapters": lib.chapters(lang),
    }
    return templates.TemplateResponse(request, "error.html", context, status_code=status)


def install(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if _wants_json(request) or exc.status_code != 404:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        return error_page(request, 404, "not_found", "not_found_text")

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        # Field names and messages only: the raw input is not echoed back.
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if _wants_json(request):
            response = JSONResponse({"detail": "internal error"}, status_code=500)
            response.raw_headers = with_security_headers(response.raw_headers)
            return response
        response = error_page(request, 500, "server_error", "server_error_text")
        # This handler runs outside the middleware stack: add the page headers here.
        response.raw_headers = with_security_headers(response.raw_headers)
        return response

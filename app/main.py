"""The app factory: `uvicorn app.main:create_app --factory` (or `python -m app`)."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

from app import api, components, errors, i18n, openapi, pages, templating
from app.content.library import ChapterLibrary
from app.content.render import pygments_css
from app.jobs.manager import JobManager
from app.middleware import SecurityHeaders
from app.security import RequestGuard
from app.sessions import SESSION_COOKIE, SESSION_MAX_AGE, TokenBucket, secret_key
from app.settings import Settings, get_settings
from app.templating import STATIC_DIR

log = logging.getLogger("app")


class CachedStatic(StaticFiles):
    # URLs carry ?v=<hash of the assets>, so a browser may keep them for a long time.
    async def get_response(self, path, scope):
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["cache-control"] = "public, max-age=31536000, immutable"
        return response


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    components.load_builtin()
    library = ChapterLibrary(settings.tutorials_dir, i18n.LANGS)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        library.refresh(force=True)
        for error in library.errors():
            log.warning("chapter %s not served: %s", error.file, error.reason)
        log.info(
            "serving %d chapters from %s",
            sum(len(library.chapters(lang)) for lang in i18n.LANGS),
            settings.tutorials_dir,
        )
        for hook in app.state.startup_hooks:
            hook(app)
        for component in components.all_components():
            if component.on_startup is not None:
                component.on_startup(app)
        templating.compile_all()
        try:
            yield
        finally:
            for hook in app.state.shutdown_hooks:
                hook(app)

    app = FastAPI(
        title="Checkpoint Lab API",
        description="Chapters and interactive components of the Checkpoint Lab lesson.",
        version="0.1.0",
        lifespan=lifespan,
        # The stock /docs pulls Swagger UI from a CDN; ours serves it from a pinned package.
        docs_url=None,
        redoc_url=None,
        # An offline classroom server has nowhere to send traces; off, FastAPI also skips
        # looking for an OpenTelemetry provider on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.library = library
    app.state.jobs = JobManager(settings)
    app.state.session_buckets = TokenBucket(settings.new_sessions_per_minute)
    app.state.startup_hooks = [lambda a: a.state.jobs.start()]
    app.state.shutdown_hooks = [lambda a: a.state.jobs.stop()]

    key = secret_key(settings.secret_key, settings.data_dir)
    app.add_middleware(
        SessionMiddleware,
        secret_key=key,
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        same_site="lax",
    )
    app.add_middleware(RequestGuard, routes=lambda: app.router.routes)
    if settings.allowed_host_list != ["*"]:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.allowed_host_list)
    app.add_middleware(SecurityHeaders)
    errors.install(app)
    openapi.install(app)

    app.mount(
        "/static",
        CachedStatic(directory=STATIC_DIR, packages=[("js_lib_htmx", "static")]),
        name="static",
    )
    app.mount("/docs-assets", CachedStatic(packages=[("fastapi_offline", "static")]), name="swagger")

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        page = get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=app.title + " — docs",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/favicon.ico",
            # No validator badge: it would call an outside service from a classroom's network.
            swagger_ui_parameters={"validatorUrl": None},
        )
        # Swagger UI starts from an inline script: allowed on this page only.
        page.headers["content-security-policy"] = (
            "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
        )
        return page

    css = pygments_css()

    @app.get("/pygments.css", include_in_schema=False)
    def code_colours() -> Response:
        return Response(css, media_type="text/css", headers={"cache-control": "public, max-age=86400"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(
            (STATIC_DIR / "favicon.svg").read_bytes(),
            media_type="image/svg+xml",
            headers={"cache-control": "public, max-age=86400"},
        )

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok")

    app.include_router(api.router)
    for component in components.all_components():
        if component.router is not None:
            app.include_router(component.router)
    app.include_router(pages.router)
    return app

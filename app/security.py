"""Request guards every route shares, as plain ASGI (cheaper than BaseHTTPMiddleware).

- Cross-site refusal: a state-changing request (POST, PUT, PATCH, DELETE) whose browser says it
  comes from another site (`Sec-Fetch-Site: cross-site` or `same-site`, or an `Origin` that is not
  this server) is refused with 403, pages and API alike. SameSite=Lax cookies alone would let a
  top-level cross-site form POST through on some browsers, and the API has no other guard.
  Clients that send neither header (curl, scripts, tests) are not browsers and cannot be made to
  carry a learner's cookie by another site, so they pass.
- The JSON API takes JSON: a request body under /api/ must be `application/json` (the inspector's
  upload, multipart by nature, is the one exception). An HTML form can only send form-encoded,
  multipart or text/plain bodies, so this closes the "simple request" door even without Origin.
  The pages' own htmx posts go to /components/..., never to /api/.
- HEAD is answered wherever GET is (link checkers and uptime monitors use it): the GET route runs
  and its body is dropped.
- OPTIONS answers 204 with the methods the path really has (HEAD and OPTIONS included), and a
  405's Allow header says the same: what the schema documents is what the server accepts.
- Redirects never echo the Host header: an absolute Location pointing at the request's own host
  becomes a path (Starlette's trailing-slash redirect builds it from Host).
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

from app import i18n

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Endpoints whose body is by nature not JSON.
MULTIPART_API = {"/api/checkpoint-inspector/reports"}


def _header(scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", []):
        if k == name:
            return v.decode("latin-1")
    return None


def cross_site(scope) -> bool:
    """True when a browser tells us the request was made by another site."""
    fetch_site = _header(scope, b"sec-fetch-site")
    if fetch_site in ("cross-site", "same-site"):
        return True
    origin = _header(scope, b"origin")
    if origin is None:
        return False
    host = _header(scope, b"host")
    if origin == "null" or host is None:
        return True
    return urlsplit(origin).netloc.lower() != host.lower()


def _media_type(scope) -> str | None:
    value = _header(scope, b"content-type")
    return None if value is None else value.split(";", 1)[0].strip().lower()


async def _refuse(send, scope, status: int, key: str) -> None:
    text = i18n.t(i18n.request_lang(HTTPConnection(scope)), key)
    if scope["path"].startswith("/api/"):
        body = json.dumps({"detail": text}, ensure_ascii=False).encode()
        ctype = b"application/json"
    else:
        body = text.encode()
        ctype = b"text/plain; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", ctype), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    def __init__(self, app, routes=None):
        self.app = app
        self.routes = routes  # () -> the app's routes, for OPTIONS

    def _methods(self, scope) -> set[str]:
        from starlette.routing import Match, Route

        found: set[str] = set()
        for route in _flat(self.routes() if self.routes else []):
            if isinstance(route, Route) and route.methods:
                match, _ = route.matches({**scope, "method": "GET"})
                if match != Match.NONE:
                    found |= set(route.methods)
        return found

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        method = scope["method"]
        if method in UNSAFE:
            if cross_site(scope):
                return await _refuse(send, scope, 403, "sec.cross_site")
            path = scope["path"]
            media = _media_type(scope)
            if path.startswith("/api/") and media is not None:
                wanted = "multipart/form-data" if path.rstrip("/") in MULTIPART_API else "application/json"
                if media != wanted:
                    return await _refuse(send, scope, 415, "sec.json_only")
        if method == "OPTIONS":
            methods = self._methods(scope)
            if methods:
                allow = ", ".join(sorted(_with_implied(methods))).encode()
                await send({"type": "http.response.start", "status": 204, "headers": [(b"allow", allow)]})
                await send({"type": "http.response.body", "body": b""})
                return
        host = _header(scope, b"host")
        head = method == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}
        ended = False

        async def guarded_send(message):
            nonlocal ended
            if ended:
                return  # HEAD: the GET route's body (or stream) is not sent
            if message["type"] == "http.response.start":
                status = message["status"]
                if 300 <= status < 400 and host:
                    message = {**message, "headers": _relative_location(message.get("headers", []), host)}
                elif status == 405:
                    message = {**message, "headers": _full_allow(message.get("headers", []))}
                await send(message)
                if head:
                    ended = True
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await send(message)

        return await self.app(scope, receive, guarded_send)


def _relative_location(headers, host: str):
    out = []
    for k, v in headers:
        if k.lower() == b"location":
            parts = urlsplit(v.decode("latin-1"))
            if parts.netloc and parts.netloc.lower() == host.lower():
                v = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                v = v.encode("latin-1")
        out.append((k, v))
    return out


def _with_implied(methods: set[str]) -> set[str]:
    out = {m.upper() for m in methods} | {"OPTIONS"}
    if "GET" in out:
        out.add("HEAD")  # answered by the GET route (see RequestGuard)
    return out


def _full_allow(headers):
    out = []
    for k, v in headers:
        if k.lower() == b"allow":
            methods = {m.strip() for m in v.decode("latin-1").split(",") if m.strip()}
            v = ", ".join(sorted(_with_implied(methods))).encode("latin-1")
        out.append((k, v))
    return out


def _flat(routes):
    """Every route, through included routers. FastAPI >= 0.16x keeps an included router as one
    lazy entry holding the original router (whose routes carry their full paths, since this
    app includes routers without an extra prefix); older versions copy the routes in."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _flat(inner.routes)
        else:
            yield route

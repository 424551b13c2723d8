"""Response headers every page needs, as plain ASGI (cheaper than BaseHTTPMiddleware)."""

from __future__ import annotations

# Everything the lesson loads comes from this app; the policy makes the browser enforce it.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; "
    "form-action 'self'"
)
# Pages and htmx fragments share URLs: caches must key on HX-Request.
VARY = ("HX-Request", "Cookie", "Accept-Language")


def with_security_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The raw headers plus ours; a Vary set by someone else (the session cookie) is merged."""
    headers = list(headers)
    names = {k.lower() for k, _ in headers}
    content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
    extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]
    if content_type.startswith(b"text/html"):
        extra.append((b"content-security-policy", CSP.encode()))
        extra.append((b"cache-control", b"no-cache"))
        vary = [
            v.strip() for k, val in headers if k.lower() == b"vary" for v in val.decode("latin-1").split(",")
        ]
        vary = [v for v in vary if v]
        known = {v.lower() for v in vary}
        vary += [v for v in VARY if v.lower() not in known]
        headers = [(k, v) for k, v in headers if k.lower() != b"vary"]
        headers.append((b"vary", ", ".join(vary).encode("latin-1")))
    return headers + [(k, v) for k, v in extra if k not in names]


class SecurityHeaders:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": with_security_headers(message.get("headers", []))}
            await send(message)

        return await self.app(scope, receive, send_with_headers)

"""Chapter pages answered from kept bytes, before the framework's request stack.

A chapter page is the same for every learner until the chapter or a component's state changes
(pages.page_key), and a class asks for it more than for anything else: every learner opens it,
reloads it, comes back to it. Through the whole stack (routing, dependencies, the session
middleware, the guards) one page cost ~0.95 ms of the server's CPU at a class's rate on a 2-core
VM; answered here, ~0.6 ms (uvicorn alone, with no app at all, takes ~0.33): the framework's
layers, not the page, were most of it, and that CPU is taken from the cores the class trains on.

Only a request the route would answer with exactly the kept bytes is answered here: a GET of a
chapter, without a query, from a browser whose session cookie is valid (the route would set no
new one), naming a host that the app's host check let through before. The first request for
each version of a page, and every other request, goes through the whole app; its 200 answer is
kept, with every header the app's layers added (security headers), for the next. Only the date
differs per request, and the server adds it.

This layer sits outside every other one (app.main.LessonApp), the error handler, the body limit
and the host check included: in alternating runs on one 2-core VM, a kept page took 0.59-0.63 ms
of the server's CPU from there, against 0.64-0.68 ms inside those layers. What is left is
uvicorn's and the socket's.
"""

from __future__ import annotations

import json
import time
from base64 import b64decode

import itsdangerous
from starlette.requests import Request, cookie_parser

from app import i18n
from app.pages import accepts_gzip, page_key
from app.sessions import SESSION_COOKIE, is_session_id


class PageCache:
    MAX_REMEMBERED = 4096  # cookies whose check is remembered: a few classes' worth
    MAX_HOSTS = 64  # Host headers the app answered: a server's names and addresses

    def __init__(self, app, secret_key: str, max_age: int):
        self.app = app
        # The session middleware's own check (starlette.middleware.sessions), so that a cookie
        # it would refuse, and replace, is never taken here as valid.
        self.signer = itsdangerous.TimestampSigner(secret_key)
        self.max_age = max_age
        # (lang, slug, gzipped) -> (page key, response start message, body): the latest only.
        self.pages: dict[tuple, tuple] = {}
        self.valid: dict[str, float] = {}  # session cookie -> when it expires (a few MB at most)
        # The app checks the Host header (ALLOWED_HOSTS) inside this layer: a host it answered a
        # page for passes that check, any other goes through it.
        self.hosts: set[str] = set()

    def _has_session(self, cookie_header: str) -> bool:
        value = cookie_parser(cookie_header).get(SESSION_COOKIE)
        if not value or len(value) > 512:
            return False
        # A learner's browser sends the same cookie each time: its check (an HMAC, base64, JSON)
        # is remembered until the cookie would expire.
        until = self.valid.get(value)
        if until is not None and time.time() < until:
            return True
        try:
            payload, signed_at = self.signer.unsign(
                value.encode(), max_age=self.max_age, return_timestamp=True
            )
            data = json.loads(b64decode(payload))
        except (itsdangerous.BadSignature, ValueError):
            return False
        if not (isinstance(data, dict) and is_session_id(data.get("sid"))):
            return False
        if len(self.valid) >= self.MAX_REMEMBERED:
            self.valid.clear()
        self.valid[value] = signed_at.timestamp() + self.max_age
        return True

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "GET" or scope["query_string"]:
            return await self.app(scope, receive, send)
        parts = scope["path"].split("/")
        if len(parts) != 3 or parts[1] not in i18n.LANGS or not parts[2]:
            return await self.app(scope, receive, send)
        cookie, accept, host = "", "", ""
        for name, value in scope["headers"]:
            # The first of each, as Starlette reads them.
            if name == b"cookie" and not cookie:
                cookie = value.decode("latin-1")
            elif name == b"accept-encoding" and not accept:
                accept = value.decode("latin-1")
            elif name == b"host" and not host:
                host = value.decode("latin-1")
        if not self._has_session(cookie):
            return await self.app(scope, receive, send)
        lang, slug = parts[1], parts[2]
        chapter, key = page_key(Request(scope), lang, slug)
        if chapter is None:
            return await self.app(scope, receive, send)
        where = (lang, slug, accepts_gzip(accept))
        kept = self.pages.get(where)
        if kept is not None and kept[0] == key and host in self.hosts:
            await send(kept[1])
            await send({"type": "http.response.body", "body": kept[2]})
            return
        await self._through_route(scope, receive, send, where, key, host)

    async def _through_route(self, scope, receive, send, where: tuple, key: tuple, host: str):
        start, body = None, []

        async def keeping_send(message):
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                body.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, keeping_send)
        if start is None or start["status"] != 200:
            return
        # A new session cookie is this learner's alone: that answer is not everyone's.
        session_prefix = SESSION_COOKIE.encode() + b"="
        if any(
            k.lower() == b"set-cookie" and v.startswith(session_prefix) for k, v in start.get("headers", [])
        ):
            return
        self.pages[where] = (key, start, b"".join(body))
        if len(self.hosts) >= self.MAX_HOSTS:
            self.hosts.clear()
        self.hosts.add(host)

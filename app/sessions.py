"""Per-browser sessions: a random id in a signed cookie, so runs belong to one browser."""

from __future__ import annotations

import os
import secrets
import threading
import time
from pathlib import Path

from fastapi import HTTPException, Request

from app import i18n

SESSION_COOKIE = "lab_session"
SESSION_MAX_AGE = 30 * 24 * 3600  # s: a learner coming back within a month finds their runs


def secret_key(configured: str, data_dir: Path) -> str:
    """The configured key, else one made once and kept beside the data, so that a restarted
    server still recognises its learners (their runs survive a restart; so must their cookie)."""
    if configured:
        return configured
    path = data_dir / "secret.key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

# The job manager's per-address refusal (LimitReached code "address"), in the page's language.
i18n.STRINGS["zh"]["cs.limit.address"] = "队列已满：你所在网络的 {n} 个训练正在等待。过一分钟再试。"
i18n.STRINGS["en"]["cs.limit.address"] = (
    "The queue is full for your network: {n} runs from your address are waiting. Try again in a minute."
)


class SessionBuckets:
    """New sessions per client address: a token bucket of `per_minute` tokens refilled at
    `per_minute` a minute. Bounded in memory: full (idle) buckets are dropped first."""

    def __init__(self, per_minute: int, max_addresses: int = 10_000):
        self.size = float(per_minute)
        self.rate = per_minute / 60.0
        self.max_addresses = max_addresses
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def admit(self, address: str) -> bool:
        now = time.monotonic()
        with self._lock:
            tokens, then = self._buckets.get(address, (self.size, now))
            tokens = min(self.size, tokens + (now - then) * self.rate)
            if tokens < 1:
                self._buckets[address] = (tokens, now)
                return False
            self._buckets[address] = (tokens - 1, now)
            if len(self._buckets) > self.max_addresses:
                full = [a for a, (t, w) in self._buckets.items() if t + (now - w) * self.rate >= self.size]
                for a in full or list(self._buckets)[: len(self._buckets) // 2]:
                    self._buckets.pop(a, None)
            return True


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def is_session_id(sid) -> bool:
    return isinstance(sid, str) and len(sid) >= 16


def has_session(request: Request) -> bool:
    return is_session_id(request.session.get("sid"))


def session_id(request: Request) -> str:
    """This browser's session id. A GET (a page, a fragment, an API listing) establishes one;
    a request that would create or change something needs one already: a client that drops its
    cookie cannot mint a fresh session, with fresh per-session limits, on every POST."""
    sid = request.session.get("sid")
    state = request.app.state
    if is_session_id(sid):
        if request.method not in SAFE_METHODS and hasattr(state, "jobs"):
            state.jobs.note_address(sid, client_address(request))
        return sid
    if request.method not in SAFE_METHODS:
        raise HTTPException(
            403,
            ("no session yet: open a page of the lesson (or GET /api/session) first, and send its cookie"),
        )
    buckets = getattr(state, "session_buckets", None)
    if buckets is not None and not buckets.admit(client_address(request)):
        # Too many new sessions from this address: the page still loads, read-only, with an
        # id that is not kept (nothing can be started under it).
        return "unkept-" + secrets.token_urlsafe(18)
    sid = secrets.token_urlsafe(18)
    request.session["sid"] = sid
    return sid

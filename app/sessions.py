"""Per-browser sessions: a random id in a signed cookie, so runs belong to one browser."""

from __future__ import annotations

import os
import secrets
import threading
import time
from pathlib import Path
from typing import TypeGuard

from fastapi import HTTPException, Request

SESSION_COOKIE = "lab_session"
SESSION_MAX_AGE = 30 * 24 * 3600  # s: a learner coming back within a month finds their runs


def kept_secret(path: Path, nbytes: int) -> tuple[str, bool]:
    """(secret, made now): the one kept in `path`, else a new random one written there, readable by
    this user only. Several processes starting together agree on the first one written."""
    try:
        return path.read_text().strip(), False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(nbytes)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_text().strip(), False
    with os.fdopen(fd, "w") as f:
        f.write(secret)
    return secret, True


def secret_key(configured: str, data_dir: Path) -> str:
    """The configured key, else one made once and kept beside the data, so that a restarted
    server still recognises its learners (their runs survive a restart; so must their cookie)."""
    return configured or kept_secret(data_dir / "secret.key", 48)[0]


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class TokenBucket:
    """Tries per client address: a bucket of `per_minute` tokens refilled at `per_minute` a minute.
    Bounded in memory: past `max_addresses`, full (idle) buckets are dropped first."""

    def __init__(self, per_minute: int, max_addresses: int = 10_000):
        self.size = float(per_minute)
        self.rate = per_minute / 60.0
        self.max_addresses = max_addresses
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _tokens(self, address: str, now: float) -> float:
        tokens, then = self._buckets.get(address, (self.size, now))
        return min(self.size, tokens + (now - then) * self.rate)

    def has(self, address: str) -> bool:
        """A token is there (none is taken)."""
        with self._lock:
            return self._tokens(address, time.monotonic()) >= 1

    def take(self, address: str) -> bool:
        """Takes a token if there is one; False if the bucket is empty."""
        now = time.monotonic()
        with self._lock:
            tokens = self._tokens(address, now)
            taken = tokens >= 1
            self._buckets[address] = (tokens - 1 if taken else tokens, now)
            if len(self._buckets) > self.max_addresses:
                full = [a for a in self._buckets if self._tokens(a, now) >= self.size]
                for a in full or list(self._buckets)[: len(self._buckets) // 2]:
                    self._buckets.pop(a, None)
            return taken

    def retry_after(self, address: str) -> int:
        """Seconds until the next token."""
        with self._lock:
            missing = 1 - self._tokens(address, time.monotonic())
        return max(1, int(missing / self.rate + 0.999))


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def is_session_id(sid: object) -> TypeGuard[str]:
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
    if buckets is not None and not buckets.take(client_address(request)):
        # Too many new sessions from this address: the page still loads, read-only, with an
        # id that is not kept (nothing can be started under it).
        return "unkept-" + secrets.token_urlsafe(18)
    sid = secrets.token_urlsafe(18)
    request.session["sid"] = sid
    return sid

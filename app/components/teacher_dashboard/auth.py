"""Teacher access without accounts: one key, a separate signed cookie, wrong keys rate-limited.

The key is TEACHER_KEY, or one made at first start and kept in DATA_DIR/teacher.key (like the
session secret). `/teach?key=…` compares it in constant time (hmac.compare_digest) and sets the
`lab_teacher` cookie: signed with the session secret under its own salt, carrying a fingerprint
of the key, so that changing the key ends every teacher cookie, and an id of its own, so that
leaving ends that cookie on the server (DATA_DIR/teacher-ended.json). Scripts may send
`Authorization: Bearer <key>` instead. A learner's session cookie opens nothing here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import socket
import threading
import time
from pathlib import Path

from fastapi import Request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.sessions import TokenBucket, client_address, kept_secret, secret_key
from app.settings import Settings

log = logging.getLogger(__name__)

TEACHER_COOKIE = "lab_teacher"
KEY_FILE = "teacher.key"
ENDED_FILE = "teacher-ended.json"


def teacher_key(settings: Settings) -> tuple[str, bool]:
    """(key, made now): the configured key, else the one kept in DATA_DIR, else a new one."""
    if settings.teacher_key:
        return settings.teacher_key, False
    return kept_secret(settings.data_dir / KEY_FILE, 24)


def _lan_address() -> str:
    """This machine's address on the local network, as students would type it (no packet is sent)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))
            return s.getsockname()[0]
    except OSError:
        return "<this computer's address>"


def dashboard_link(settings: Settings, key: str) -> str:
    host = settings.host
    if host in ("0.0.0.0", "::", ""):
        host = _lan_address()
    return f"http://{host}:{settings.port}/teach?key={key}"


class EndedCookies:
    """Teacher cookies ended by "leave" before they expired, kept in DATA_DIR so that a copy of
    the cookie (another tab, a shared computer's history) stays refused after a restart too."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        try:
            data = json.loads(path.read_text())
            self._ended = {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else {}
        except (FileNotFoundError, ValueError):
            self._ended = {}

    def end(self, cookie_id: str, until: float) -> None:
        now = time.time()
        with self._lock:
            self._ended = {k: v for k, v in self._ended.items() if v > now}  # expired ones need no record
            self._ended[cookie_id] = until
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self._ended))
            tmp.replace(self.path)

    def __contains__(self, cookie_id: str) -> bool:
        with self._lock:
            return cookie_id in self._ended


class TeacherAuth:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.key, self.made = teacher_key(settings)
        self._fingerprint = hashlib.sha256(self.key.encode()).hexdigest()[:24]
        self._signer = URLSafeTimedSerializer(
            secret_key(settings.secret_key, settings.data_dir), salt="teacher-cookie"
        )
        self.max_age = int(settings.teacher_cookie_hours * 3600)
        self.wrong_keys = TokenBucket(settings.teacher_wrong_keys_per_minute)
        self.ended = EndedCookies(settings.data_dir / ENDED_FILE)

    def announce(self) -> None:
        if self.made:
            log.warning(
                "teacher dashboard (keep this link to yourself): %s", dashboard_link(self.settings, self.key)
            )
        elif not self.settings.teacher_key:
            log.info("teacher key kept in %s; open /teach?key=<that key>", self.settings.data_dir / KEY_FILE)

    def key_matches(self, given: str) -> bool:
        # Constant time in the key's content: both sides are hashed to one length first.
        a = hashlib.sha256(given.encode("utf-8", "surrogatepass")).digest()
        b = hashlib.sha256(self.key.encode()).digest()
        return hmac.compare_digest(a, b)

    def cookie_value(self) -> str:
        # "s" names this cookie alone, so that leaving can end it on the server.
        return self._signer.dumps({"k": self._fingerprint, "s": secrets.token_urlsafe(12)})

    def _signed(self, value: str | None) -> dict:
        """The cookie's payload if we signed it and it has not expired, else {}."""
        if not value or len(value) > 512:
            return {}
        try:
            data = self._signer.loads(value, max_age=self.max_age)
        except BadSignature:
            return {}
        return data if isinstance(data, dict) else {}

    def cookie_ok(self, value: str | None) -> bool:
        """Signed for the current key, not expired, and not ended by leaving."""
        data = self._signed(value)
        if not hmac.compare_digest(str(data.get("k", "")), self._fingerprint):
            return False
        cookie_id = data.get("s")
        return isinstance(cookie_id, str) and cookie_id not in self.ended

    def end(self, value: str | None) -> None:
        """Leave: this cookie opens nothing any more, whoever replays it."""
        if self.cookie_ok(value):
            self.ended.end(self._signed(value)["s"], time.time() + self.max_age)

    def check_key(self, request: Request, given: str) -> str:
        """'ok', 'wrong' (403) or 'limited' (429): wrong tries are counted per client address."""
        address = client_address(request)
        if not self.wrong_keys.has(address):
            return "limited"
        if self.key_matches(given[:256]):
            return "ok"
        self.wrong_keys.take(address)
        log.warning("wrong teacher key from %s", address)
        return "wrong"

    def is_teacher(self, request: Request) -> str:
        """'ok' for the teacher's cookie or a right bearer key; else 'wrong', 'limited' or 'none'."""
        if self.cookie_ok(request.cookies.get(TEACHER_COOKIE)):
            return "ok"
        auth = request.headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            return self.check_key(request, auth[7:].strip())
        return "none"


def auth_of(request: Request) -> TeacherAuth:
    return request.app.state.teacher_auth

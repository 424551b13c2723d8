"""Teacher access without accounts: one key, a separate signed cookie, wrong keys rate-limited.

The key is TEACHER_KEY, or one made at first start and kept in DATA_DIR/teacher.key (like the
session secret). `/teach?key=…` compares it in constant time (hmac.compare_digest) and sets the
`lab_teacher` cookie: signed with the session secret under its own salt, carrying a fingerprint
of the key, so that changing the key ends every teacher cookie. Scripts may send
`Authorization: Bearer <key>` instead. A learner's session cookie opens nothing here.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import socket
import threading
import time
from pathlib import Path

from fastapi import Request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.sessions import client_address, secret_key
from app.settings import Settings

log = logging.getLogger(__name__)

TEACHER_COOKIE = "lab_teacher"
KEY_FILE = "teacher.key"


def teacher_key(settings: Settings) -> tuple[str, bool]:
    """(key, made now): the configured key, else the one kept in DATA_DIR, else a new one."""
    if settings.teacher_key:
        return settings.teacher_key, False
    path = settings.data_dir / KEY_FILE
    try:
        return path.read_text().strip(), False
    except FileNotFoundError:
        pass
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(24)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_text().strip(), False
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key, True


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


class WrongKeys:
    """Wrong keys per client address: a bucket of `per_minute` tries refilled at that rate.
    Only wrong keys take from it; an empty bucket refuses every try, the right key included,
    so guessing costs a minute per `per_minute` guesses."""

    def __init__(self, per_minute: int, max_addresses: int = 10_000):
        self.size = float(per_minute)
        self.rate = per_minute / 60.0
        self.max_addresses = max_addresses
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _tokens(self, address: str, now: float) -> float:
        tokens, then = self._buckets.get(address, (self.size, now))
        return min(self.size, tokens + (now - then) * self.rate)

    def allowed(self, address: str) -> bool:
        with self._lock:
            return self._tokens(address, time.monotonic()) >= 1

    def wrong(self, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._buckets[address] = (max(self._tokens(address, now) - 1, 0.0), now)
            if len(self._buckets) > self.max_addresses:
                for a in list(self._buckets)[: len(self._buckets) // 2]:
                    self._buckets.pop(a, None)

    def retry_after(self, address: str) -> int:
        with self._lock:
            missing = 1 - self._tokens(address, time.monotonic())
        return max(1, int(missing / self.rate + 0.999))


class TeacherAuth:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.key, self.made = teacher_key(settings)
        self._fingerprint = hashlib.sha256(self.key.encode()).hexdigest()[:24]
        self._signer = URLSafeTimedSerializer(
            secret_key(settings.secret_key, settings.data_dir), salt="teacher-cookie"
        )
        self.max_age = int(settings.teacher_cookie_hours * 3600)
        self.wrong_keys = WrongKeys(settings.teacher_wrong_keys_per_minute)

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
        return self._signer.dumps({"k": self._fingerprint})

    def cookie_ok(self, value: str | None) -> bool:
        if not value or len(value) > 512:
            return False
        try:
            data = self._signer.loads(value, max_age=self.max_age)
        except BadSignature:
            return False
        return isinstance(data, dict) and hmac.compare_digest(str(data.get("k", "")), self._fingerprint)

    def check_key(self, request: Request, given: str) -> str:
        """'ok', 'wrong' (403) or 'limited' (429): wrong tries are counted per client address."""
        address = client_address(request)
        if not self.wrong_keys.allowed(address):
            return "limited"
        if self.key_matches(given[:256]):
            return "ok"
        self.wrong_keys.wrong(address)
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


def key_path(data_dir: Path) -> Path:
    return data_dir / KEY_FILE

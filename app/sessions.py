"""Per-browser sessions: a random id in a signed cookie, so runs belong to one browser."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from fastapi import Request

SESSION_COOKIE = "lab_session"


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


def session_id(request: Request) -> str:
    sid = request.session.get("sid")
    if not isinstance(sid, str) or len(sid) < 16:
        sid = secrets.token_urlsafe(18)
        request.session["sid"] = sid
    return sid

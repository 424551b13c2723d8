"""Who a request comes from: the client's address (and when a proxy may name it), new sessions per
address, and the teacher's cookie, which leaving ends on the server."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient

from app.main import create_app

KEY = "teacher-test-key-0123456789"


def _fresh_sessions(url: str, forwarded: list[str]) -> list[bool]:
    """One cookieless browser per address, each asking for a session."""
    answers = []
    for address in forwarded:
        r = httpx.get(f"{url}/api/session", headers={"x-forwarded-for": address}, timeout=30)
        assert r.status_code == 200
        answers.append(r.json()["established"])
    return answers


def test_x_forwarded_for_is_believed_only_from_a_proxy_the_settings_name(
    server_factory, tmp_path, pretrained_dir
):
    """By default a client cannot pose as many addresses to get around the per-address limits,
    not even from the server's own host; behind a named proxy, each real client counts alone."""
    env = {"PRETRAINED_DIR": str(pretrained_dir), "TRANSFER_PREWARM": "false", "NEW_SESSIONS_PER_MINUTE": "2"}
    addresses = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    plain = server_factory(tmp_path / "plain", env=env)
    assert _fresh_sessions(plain.url, addresses) == [True, True, False]  # all one address: 127.0.0.1
    plain.stop()
    proxied = server_factory(tmp_path / "proxied", env={**env, "FORWARDED_ALLOW_IPS": "127.0.0.1"})
    assert _fresh_sessions(proxied.url, addresses) == [True, True, True]  # three clients
    assert _fresh_sessions(proxied.url, ["10.0.0.1"]) == [True]
    assert _fresh_sessions(proxied.url, ["10.0.0.1"]) == [False]  # the third from one address


def _teacher(app) -> tuple[TestClient, str]:
    t = TestClient(app)
    r = t.get(f"/teach?key={KEY}", follow_redirects=False)
    assert r.status_code == 303
    return t, r.cookies["lab_teacher"]


def test_leaving_ends_that_teacher_cookie_on_the_server_even_after_a_restart(settings):
    settings = settings.model_copy(update={"teacher_key": KEY})
    with TestClient(create_app(settings)) as c:
        laptop, cookie = _teacher(c.app)
        phone, _ = _teacher(c.app)
        assert laptop.get("/teach").status_code == 200
        assert laptop.post("/teach/leave", follow_redirects=False).status_code == 303
        # The same cookie replayed (a copy kept by another tab, or by someone else) opens nothing.
        replay = TestClient(c.app, cookies={"lab_teacher": cookie})
        assert replay.get("/teach").status_code == 403
        assert replay.get("/api/teach/class").status_code == 403
        # The teacher's other sign-in is not ended by this one's leaving.
        assert phone.get("/teach").status_code == 200
    with TestClient(create_app(settings)) as c:
        assert TestClient(c.app, cookies={"lab_teacher": cookie}).get("/teach").status_code == 403
        again, _ = _teacher(c.app)
        assert again.get("/teach").status_code == 200


def test_new_sessions_per_address_are_a_bucket_that_refills(settings):
    """Past NEW_SESSIONS_PER_MINUTE, pages still load but the new browser gets no kept session."""
    with TestClient(create_app(settings.model_copy(update={"new_sessions_per_minute": 3}))) as c:
        answers = [TestClient(c.app).get("/api/session").json()["established"] for _ in range(4)]
        assert answers == [True, True, True, False]
        page = TestClient(c.app).get("/en/06-model-io-checkpoint")
        assert page.status_code == 200 and "lab_session=" not in page.headers.get("set-cookie", "")


def test_the_session_secret_is_made_once_and_kept(settings):
    """Without SECRET_KEY, a restarted server still recognises its learners' cookies."""
    settings = settings.model_copy(update={"secret_key": ""})
    with TestClient(create_app(settings)) as c:
        assert c.get("/api/session").json() == {"established": True}
        cookie = c.cookies["lab_session"]
    key_file = settings.data_dir / "secret.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    with TestClient(create_app(settings), cookies={"lab_session": cookie}) as c:
        r = c.get("/api/session")
        assert r.json() == {"established": True} and "lab_session=" not in r.headers.get("set-cookie", "")

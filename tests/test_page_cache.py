"""Chapter pages answered from kept bytes (app/page_cache.py): the same answer as the route's,
and only to a request the route would have answered with exactly those bytes."""

from __future__ import annotations

import time

import pytest

from app import pages

URL = "/en/06-model-io-checkpoint"


@pytest.fixture
def route_calls(monkeypatch):
    """How many chapter answers the route itself built."""
    calls = []
    original = pages._page_response

    def counting(request, page):
        calls.append(request.url.path)
        return original(request, page)

    monkeypatch.setattr(pages, "_page_response", counting)
    return calls


def _without_date(headers) -> list[tuple[str, str]]:
    return sorted((k, v) for k, v in headers.multi_items() if k != "date")


def test_a_learner_with_a_session_gets_the_routes_bytes_without_the_route(client, route_calls):
    first = client.get(URL)
    second = client.get(URL)
    third = client.get(URL)
    assert first.status_code == second.status_code == third.status_code == 200
    # The first answer came from the route and was kept; the next ones are the kept bytes.
    assert route_calls == [URL]
    assert second.content == third.content == first.content
    assert _without_date(second.headers) == _without_date(first.headers)
    # Still everything a page needs: security headers (added outside), no new session cookie.
    assert "content-security-policy" in second.headers
    assert "lab_session=" not in second.headers.get("set-cookie", "")


def test_a_browser_without_a_session_goes_through_the_route_and_gets_one(client, route_calls):
    client.get(URL)
    client.cookies.clear()
    r = client.get(URL)
    assert r.status_code == 200
    assert "lab_session=" in r.headers.get("set-cookie", "")
    assert len(route_calls) == 2
    # The answer that carried a new session is nobody else's: it is not what others get next.
    again = client.get(URL)
    assert "lab_session=" not in again.headers.get("set-cookie", "")


def test_a_forged_or_tampered_cookie_is_replaced_as_the_route_would(client, route_calls):
    client.get(URL)
    good = client.cookies.get("lab_session")
    payload, stamp, signature = good.split(".")
    for bad in (f"{payload}.{stamp}.{'A' * len(signature)}", "eyJzaWQiOiAiYWJjIn0=.x.y", "nonsense"):
        client.cookies.clear()
        client.cookies.set("lab_session", bad)
        r = client.get(URL)
        assert r.status_code == 200
        assert "lab_session=" in r.headers.get("set-cookie", ""), bad
    assert len(route_calls) == 4


def test_an_expired_session_is_not_taken_as_valid(client, route_calls, monkeypatch):
    from app.sessions import SESSION_MAX_AGE

    client.get(URL)
    client.get(URL)
    assert len(route_calls) == 1
    cookie = f"lab_session={client.cookies.get('lab_session')}"
    client.cookies.clear()
    # A month later the signed cookie is too old: the session middleware would start a new
    # session, so the kept page (which sets none) must not be the answer. (Sent by hand: the
    # test client's own jar would drop the old cookie by itself.)
    later = time.time() + SESSION_MAX_AGE + 60
    monkeypatch.setattr(time, "time", lambda: later)
    r = client.get(URL, headers={"cookie": cookie})
    assert "lab_session=" in r.headers.get("set-cookie", "")
    assert len(route_calls) == 2


def test_compressed_and_plain_answers_are_kept_apart(client, route_calls):
    zipped = [client.get(URL, headers={"accept-encoding": "gzip"}) for _ in range(2)]
    plain = [client.get(URL, headers={"accept-encoding": "identity"}) for _ in range(2)]
    assert [r.headers.get("content-encoding") for r in zipped] == ["gzip", "gzip"]
    assert [r.headers.get("content-encoding") for r in plain] == [None, None]
    assert zipped[1].text == plain[1].text  # httpx decodes: the same page either way
    assert len(route_calls) == 2


def test_the_page_follows_a_change_of_a_components_state(client, route_calls):
    """The name field shows while a teacher uses the dashboard: a change of the page's key."""
    before = client.get(URL).text
    assert client.get(URL).text == before
    room = client.app.state.classroom
    room.state.teacher_seen = time.time()
    during = client.get(URL).text
    assert 'id="class-name"' not in before and 'id="class-name"' in during
    assert len(route_calls) == 2


@pytest.mark.parametrize(
    "url",
    [URL + "?x=1", "/en/no-such-chapter", "/en/06-model-io-checkpoint/", "/en/..%2f06-model-io-checkpoint"],
)
def test_anything_but_a_plain_chapter_get_goes_through_the_app(client, route_calls, url):
    client.get(URL)
    first = client.get(url, follow_redirects=False)
    second = client.get(url, follow_redirects=False)
    assert first.status_code == second.status_code
    if first.status_code == 200:
        assert len(route_calls) == 3  # the query string keeps it on the route every time


def test_head_is_answered_by_the_route_without_a_body(client, route_calls):
    client.get(URL)
    client.get(URL)
    r = client.head(URL)
    assert r.status_code == 200 and r.content == b""
    assert len(route_calls) == 2


def _page_cache(app):
    from app.page_cache import PageCache

    layer = app.middleware_stack
    while layer is not None and not isinstance(layer, PageCache):
        layer = getattr(layer, "app", None)
    assert layer is not None
    return layer


def test_what_is_remembered_of_cookies_is_bounded_by_sessions_not_by_headers(client, route_calls):
    """A client varying its other cookies (or padding them) must not grow the server's memory."""
    client.get(URL)
    session = client.cookies.get("lab_session")
    client.cookies.clear()
    for i in range(50):
        r = client.get(URL, headers={"cookie": f"junk{i}={'x' * 2000}; lab_session={session}"})
        assert r.status_code == 200 and "lab_session=" not in r.headers.get("set-cookie", "")
    cache = _page_cache(client.app)
    assert len(cache.valid) == 1
    assert len(route_calls) == 1
    # A padded session cookie is not remembered at all; the route answers it as invalid.
    r = client.get(URL, headers={"cookie": f"lab_session={session}{'A' * 4000}"})
    assert "lab_session=" in r.headers.get("set-cookie", "")
    assert len(cache.valid) == 1


def test_a_host_the_app_refuses_never_gets_a_kept_page(settings, route_calls):
    """The page cache sits outside the host check (ALLOWED_HOSTS): it answers only hosts that
    check let through, and a refused host gets the check's answer, kept page or not."""
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(settings.model_copy(update={"allowed_hosts": "testserver, lab.local"}))) as c:
        c.get("/api/session")
        assert c.get(URL).status_code == c.get(URL).status_code == 200
        assert len(route_calls) == 1  # kept for testserver
        refused = c.get(URL, headers={"host": "evil.example"})
        assert refused.status_code == 400 and "<html" not in refused.text.lower()
        assert c.get(URL, headers={"host": "lab.local"}).status_code == 200  # through the app once
        assert c.get(URL, headers={"host": "lab.local"}).status_code == 200  # then kept
        assert len(route_calls) == 2
        assert c.get(URL, headers={"host": "evil.example"}).status_code == 400


def test_the_kept_page_is_the_outermost_layer_and_carries_every_layers_headers(client, route_calls):
    """No framework layer runs for a kept page, yet its headers are the whole app's answer."""
    from app.page_cache import PageCache

    assert isinstance(client.app.middleware_stack, PageCache)
    first, kept = client.get(URL), client.get(URL)
    assert len(route_calls) == 1
    for name in (
        "content-security-policy",
        "x-content-type-options",
        "referrer-policy",
        "cache-control",
        "vary",
    ):
        assert kept.headers[name] == first.headers[name], name

"""Sessions and cookies without accounts: cookieless posts, new sessions per address, queue places
per address, round robin, cancelling, expiry, event streams per session."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.hostile.helpers import (
    SIM,
    established,
)
from tests.simulator_helpers import train_config

SLOW_RUN = {"epochs": 200, "checkpoint_every": 50, "pace_ms": 400}


@pytest.fixture
def fair_app(settings):
    """One worker and no paced places, a small per-address cap: a busy worker keeps every later
    run queued."""
    from fastapi.testclient import TestClient

    from app.main import create_app

    app = create_app(
        settings.model_copy(
            update={
                "max_workers": 1,
                "paced_workers": 0,
                "queue_per_address": 4,
                "new_sessions_per_minute": 30,
            }
        )
    )
    with TestClient(app, client=("10.0.0.9", 4000)) as owner:
        owner.get("/api/session")
        busy = owner.post(f"{SIM}/runs", json=SLOW_RUN)
        assert busy.status_code == 201, busy.text
        app.busy_run = busy.json()["id"]
        yield app


def browser_at(app, address: str):
    from fastapi.testclient import TestClient

    c = TestClient(app, client=(address, 5000))
    assert c.get("/api/session").json() == {"established": True}
    return c


def test_cookieless_posts_are_refused_and_a_real_learner_gets_a_place(fair_app):
    from fastapi.testclient import TestClient

    flood = TestClient(fair_app, client=("10.0.0.66", 6000))
    for _ in range(300):
        r = flood.post(f"{SIM}/runs", json=SLOW_RUN)
        assert r.status_code == 403 and "session" in r.json()["detail"]
        flood.cookies.clear()
    jobs = fair_app.state.jobs
    assert jobs.queued() == []  # the flood took no place
    learner = browser_at(fair_app, "10.0.0.1")
    assert learner.post(f"{SIM}/runs", json=SLOW_RUN).status_code == 201


def test_new_sessions_are_rate_limited_per_address(fair_app):
    from fastapi.testclient import TestClient

    hoarder = TestClient(fair_app, client=("10.0.0.77", 7000))
    established = []
    for _ in range(40):
        hoarder.cookies.clear()
        established.append(hoarder.get("/api/session").json()["established"])
    assert established.count(True) == 30 and established[-1] is False  # NEW_SESSIONS_PER_MINUTE
    # Past the limit the pages still load, but nothing can be started.
    assert hoarder.get("/en/06-model-io-checkpoint").status_code == 200
    assert hoarder.post(f"{SIM}/runs", json=SLOW_RUN).status_code == 403
    # Another address is not affected.
    assert browser_at(fair_app, "10.0.0.2").get("/api/session").json()["established"] is True


def test_queued_places_are_capped_per_address(fair_app):
    # Sessions from one address (one NAT, or one script with many cookies) fill its share...
    results = []
    for _ in range(3):
        c = browser_at(fair_app, "10.0.0.50")
        for _ in range(2):
            results.append(c.post(f"{SIM}/runs", json=SLOW_RUN).status_code)
    assert results.count(201) == 4 and results[-1] == 429  # QUEUE_PER_ADDRESS
    # ...and a learner elsewhere still gets a place.
    assert browser_at(fair_app, "10.0.0.3").post(f"{SIM}/runs", json=SLOW_RUN).status_code == 201


def test_the_queue_is_served_round_robin_across_sessions(fair_app):
    jobs = fair_app.state.jobs
    a = browser_at(fair_app, "10.0.1.1")
    b = browser_at(fair_app, "10.0.1.2")
    c = browser_at(fair_app, "10.0.1.3")
    a_runs = [a.post(f"{SIM}/runs", json=SLOW_RUN).json()["id"] for _ in range(3)]
    b_run = b.post(f"{SIM}/runs", json=SLOW_RUN).json()["id"]
    c_run = c.post(f"{SIM}/runs", json=SLOW_RUN).json()["id"]
    # First come first served would be a, a, a, b, c: b and c wait behind a's whole pile.
    assert jobs.queued() == [a_runs[0], b_run, c_run, a_runs[1], a_runs[2]]
    assert a.get(f"{SIM}/runs/{c_run}").status_code == 404  # and nobody sees another's runs


def test_a_learner_can_cancel_their_own_queued_run(fair_app):
    jobs = fair_app.state.jobs
    me = browser_at(fair_app, "10.0.2.1")
    other = browser_at(fair_app, "10.0.2.2")
    first = me.post(f"{SIM}/runs", json=SLOW_RUN).json()["id"]
    second = me.post(f"{SIM}/runs", json=SLOW_RUN).json()["id"]
    assert other.post(f"{SIM}/runs/{first}/crash").status_code == 404  # not theirs to cancel
    r = me.post(f"{SIM}/runs/{first}/crash")
    assert r.status_code in (200, 202, 204), r.text
    assert first not in jobs.queued() and me.get(f"{SIM}/runs/{first}").json()["status"] == "interrupted"
    # Deleting a waiting run cancels it too.
    assert me.delete(f"{SIM}/runs/{second}").status_code == 204
    assert second not in jobs.queued() and me.get(f"{SIM}/runs/{second}").status_code == 404


# ------------------------------------------------------------------ races


def test_idle_sessions_runs_and_files_expire(tmp_path):
    from app.jobs.manager import JobManager
    from app.settings import Settings

    jobs = JobManager(Settings(data_dir=tmp_path / "data", session_ttl_days=3))
    config = train_config(epochs=3, checkpoint_every=1, keep_last=2)
    now = time.time()
    old = jobs.submit_train("left-last-week", config, {})
    fresh = jobs.submit_train("here-today", config, {})
    leftover = jobs.submit_train("cookieless-1", config, {})
    for run, age_days in ((old, 5), (fresh, 0.1), (leftover, 4)):
        jobs.cancel(run.id)  # never started: "interrupted", as a killed server leaves them
        jobs.store.update(run.id, created=now - age_days * 86400, finished=now - age_days * 86400)
        jobs.run_dir(run.id).mkdir(parents=True, exist_ok=True)
        (jobs.run_dir(run.id) / "final.pt").write_bytes(b"x")
    busy = jobs.submit_train("old-but-waiting", config, {})
    jobs.store.update(busy.id, created=now - 9 * 86400)

    assert jobs.expire_idle(now) == 2
    assert jobs.store.get(old.id) is None and not jobs.run_dir(old.id).exists()
    assert jobs.store.get(leftover.id) is None
    assert jobs.store.get(fresh.id) is not None and jobs.run_dir(fresh.id).exists()
    assert jobs.store.get(busy.id).status == "queued"  # a waiting run keeps its session alive


def _first_event(client: httpx.Client, url: str, read: float = 5.0) -> str | None:
    with client.stream("GET", url, timeout=httpx.Timeout(10, read=read)) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("event:"):
                return line.split(":", 1)[1].strip()
    return None


def test_event_streams_are_capped_per_session_and_in_total(server_factory, pretrained_dir):
    import contextlib

    server = server_factory(
        env={
            "STREAMS_PER_SESSION": "2",
            "STREAMS_MAX": "3",
            "TRANSFER_PREWARM": "false",
            "PRETRAINED_DIR": str(pretrained_dir),
        }
    )
    url = "/components/checkpoint-simulator/events?lang=en"
    with contextlib.ExitStack() as stack:
        one = stack.enter_context(httpx.Client(base_url=server.url, timeout=30))
        established(one)
        held = []  # the line iterators too: a dropped one closes its response
        for _ in range(2):
            r = stack.enter_context(one.stream("GET", url, timeout=httpx.Timeout(10, read=10)))
            lines = r.iter_lines()
            assert next(line for line in lines if line.startswith("event:")) == "event: runs"
            held.append(lines)
        # A third tab of the same browser: told to come back later, the stream ends.
        assert _first_event(one, url) == "busy"
        two = stack.enter_context(httpx.Client(base_url=server.url, timeout=30))
        established(two)
        assert _first_event(two, url, read=2.0) == "runs"  # the third stream in all...
        three = stack.enter_context(httpx.Client(base_url=server.url, timeout=30))
        established(three)
        r = stack.enter_context(two.stream("GET", url, timeout=httpx.Timeout(10, read=10)))
        held.append(r.iter_lines())
        assert next(line for line in held[-1] if line.startswith("event:")) == "event: runs"
        assert _first_event(three, url) == "busy"  # ...and past STREAMS_MAX nobody gets one
    # Closed streams give their places back.
    with httpx.Client(base_url=server.url, timeout=30) as four:
        established(four)
        deadline = time.monotonic() + 20
        while _first_event(four, url, read=2.0) != "runs":
            assert time.monotonic() < deadline


# ------------------------------------------------------------------ the schema and OPTIONS

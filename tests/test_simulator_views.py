"""The simulator's htmx answers: an action renders the live view once, as the action left it."""

from __future__ import annotations

import re
import time

import pytest
from fastapi.testclient import TestClient

from app.components.checkpoint_simulator import views
from app.main import create_app
from tests.simulator_helpers import get, start

HX = {"HX-Request": "true"}
LIVE = "/components/checkpoint-simulator/live?lang=en"
CONFIG = {
    "epochs": 200,
    "lr": 0.02,
    "optimizer": "adam",
    "scheduler": True,
    "checkpoint_every": 5,
    "keep_last": 3,
    "seed": 0,
    "batch_size": 64,
}


@pytest.fixture
def one_worker(settings):
    # One place for every run: the form's default pace would otherwise take a paced place of its
    # own and start at once instead of waiting behind the busy run.
    with TestClient(create_app(settings.model_copy(update={"max_workers": 1, "paced_workers": 0}))) as c:
        c.get("/api/session")
        yield c


@pytest.fixture
def renders(monkeypatch):
    count = {"n": 0}
    real = views.live_context

    def counting(*args, **kwargs):
        count["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(views, "live_context", counting)
    return count


def hold_the_worker(jobs):
    """Another learner's slow run, running on the only worker: the learner's runs wait behind it."""
    busy = jobs.submit("someone-else", "train", CONFIG, {"pace_ms": 200})
    deadline = time.monotonic() + 60
    while not jobs.is_running(busy.id):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return busy


def test_start_renders_once_and_the_streams_next_view_finds_it(one_worker, renders):
    jobs = one_worker.app.state.jobs
    # Another learner holds the only worker: our run waits, and nothing of ours changes meanwhile.
    busy = hold_the_worker(jobs)
    r = one_worker.post(
        "/components/checkpoint-simulator/runs?lang=en",
        headers=HX,
        data={"epochs": "10", "checkpoint_every": "5"},
    )
    assert r.status_code == 200 and r.headers["x-cs-focus"] == "#cs-now"
    assert 'id="cs-message"' in r.text  # the message region is cleared, out of band
    assert renders["n"] == 1
    # The page now shows the new run, and its event stream follows that run: the view it pushes
    # next is the one the answer drew, from the cache.
    root = re.search(r'id="cs-live"[^>]* data-root="([^"]+)"', r.text).group(1)
    pushed = views.live_body(jobs, jobs.run(root).session, "en", root, "epochs")
    assert renders["n"] == 1
    assert r.text.startswith(pushed) and 'id="cs-message"' not in pushed
    # So is the page's own fetch (after a push it could not place while an answer was under way).
    again = one_worker.get(LIVE, headers=HX)
    assert renders["n"] == 1 and again.text == pushed
    assert jobs.is_running(busy.id)
    jobs.crash(busy.id)


def test_crash_answers_with_the_run_crashed_not_still_running(client):
    run = start(client, epochs=200, checkpoint_every=5, pace_ms=50)
    deadline = time.monotonic() + 60
    while get(client, run["id"])["status"] != "running" or not get(client, run["id"])["epochs"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    r = client.post(f"/components/checkpoint-simulator/runs/{run['id']}/crash?lang=en", headers=HX)
    assert r.status_code == 200 and r.headers["x-cs-focus"] == "#cs-now"
    assert "Run crashed in epoch" in r.text, r.text[-600:]
    assert get(client, run["id"])["status"] == "crashed"


def test_a_view_is_never_kept_under_a_version_newer_than_what_it_shows(one_worker, monkeypatch):
    """A run written between reading the learner's runs and drawing the view must not leave the
    view without it under the new version's key: the next look would find it there for good."""
    jobs = one_worker.app.state.jobs
    # Another learner holds the only worker: the learner's runs wait, and nothing else writes them.
    busy = hold_the_worker(jobs)
    first = jobs.submit("learner", "train", {**CONFIG, "epochs": 2}, {"pace_ms": 0})
    real = views.service.learner_roots

    def roots_then_a_write(jobs_, sid):
        roots = real(jobs_, sid)
        later.append(jobs_.submit(sid, "train", {**CONFIG, "epochs": 2}, {"pace_ms": 0}))
        return roots

    later: list = []
    monkeypatch.setattr(views.service, "learner_roots", roots_then_a_write)
    # The page shows the first lineage; the new run is a chip in the list of runs.
    assert f"cs-pick-{first.id}" in views.live_body(jobs, "learner", "en", first.id)
    monkeypatch.setattr(views.service, "learner_roots", real)
    assert f"cs-pick-{later[0].id}" in views.live_body(jobs, "learner", "en", first.id)
    assert jobs.is_running(busy.id)  # nothing of the learner's was written in between
    jobs.crash(busy.id)

"""The exercise check queue under one greedy address: bounded per address as runs are, places kept
for addresses with nothing waiting, and a teacher who can see the queue and clear it."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from app.components.checkpoint_exercise.exercises import EXERCISES

KEY = "teacher-key-for-the-queue-tests"
# Holds its place: sleeps until the check's wall clock (10 s here) ends it.
SLEEPER = "def load_checkpoint(path, model, optimizer, scheduler):\n    import time\n    time.sleep(3600)\n"
CHECKS = "/api/exercises/resume/checks?lang=en"  # the refusals are read in English


@pytest.fixture
def queue_app(settings):
    from app.main import create_app

    app = create_app(
        settings.model_copy(
            update={
                "exercise_waiting_max": 10,
                "exercise_timeout_s": 10.0,
                "new_sessions_per_minute": 60,
                "teacher_key": KEY,
            }
        )
    )
    with TestClient(app):  # the lifespan: services started, and stopped after the test
        yield app


def browser_at(app, address: str, port: int = 5000) -> TestClient:
    c = TestClient(app, client=(address, port))
    assert c.get("/api/session").json() == {"established": True}
    return c


def until_running(client: TestClient, attempt_id: str) -> None:
    end = time.monotonic() + 60
    while client.get(f"/api/exercises/checks/{attempt_id}").json()["status"] == "waiting":
        assert time.monotonic() < end, "the first check never started"
        time.sleep(0.1)


def test_one_address_with_many_sessions_cannot_fill_the_exercise_queue(queue_app):
    codes = []
    for port in range(32):  # 32 fresh sessions of one address, as the attack did
        codes.append(browser_at(queue_app, "10.0.0.50", 6000 + port).post(CHECKS, json={"code": SLEEPER}))
    admitted = [r for r in codes if r.status_code == 202]
    assert len(admitted) == 4  # 40% of EXERCISE_WAITING_MAX
    refused = [r for r in codes if r.status_code != 202]
    assert {r.status_code for r in refused} == {429} and "your network" in refused[0].json()["detail"]
    # A classmate's correct code still gets a place.
    classmate = browser_at(queue_app, "10.0.0.51")
    r = classmate.post(CHECKS, json={"code": EXERCISES["resume"]["solution"]})
    assert r.status_code == 202, r.text


def test_the_last_places_are_kept_for_addresses_with_none_waiting(queue_app):
    for address in ("10.0.1.1", "10.0.1.2"):
        for port in range(4):
            c = browser_at(queue_app, address, 7000 + port)
            r = c.post(CHECKS, json={"code": SLEEPER})
            assert r.status_code == 202
            if (address, port) == ("10.0.1.1", 0):
                until_running(c, r.json()["id"])
    # One running, seven waiting: one more for an address that has a check already...
    assert browser_at(queue_app, "10.0.1.3").post(CHECKS, json={"code": SLEEPER}).status_code == 202
    # ...then the last two places go only to addresses with none waiting.
    second = browser_at(queue_app, "10.0.1.3", 5001).post(CHECKS, json={"code": SLEEPER})
    assert second.status_code == 503 and "waiting" in second.json()["detail"]
    for address in ("10.0.1.4", "10.0.1.5"):
        assert browser_at(queue_app, address).post(CHECKS, json={"code": SLEEPER}).status_code == 202
    assert browser_at(queue_app, "10.0.1.6").post(CHECKS, json={"code": SLEEPER}).status_code == 503


def test_the_teacher_sees_and_clears_the_exercise_queue(queue_app):
    learners = [browser_at(queue_app, "10.0.2.1", 8000 + n) for n in range(3)]
    ids = [c.post(CHECKS, json={"code": SLEEPER}).json()["id"] for c in learners]
    until_running(learners[0], ids[0])
    teacher = TestClient(queue_app, client=("10.0.2.9", 9000), headers={"Authorization": f"Bearer {KEY}"})
    # Learners and strangers see nothing of it.
    assert learners[0].get("/api/exercises/queue").status_code == 403
    assert learners[0].post("/api/exercises/queue/clear").status_code == 403
    q = teacher.get("/api/exercises/queue").json()
    assert q["waiting"] + q["running"] == 3 and q["largest_address_share"] == 3
    assert {c["exercise"] for c in q["checks"]} == {"resume"} and all(c["learner"] for c in q["checks"])
    cleared = teacher.post("/api/exercises/queue/clear").json()["cleared"]
    assert cleared == q["waiting"] == 2
    # A cleared learner is told so, and may check again at once.
    last = learners[2].get(f"/api/exercises/checks/{ids[2]}").json()
    assert last["status"] == "cancelled"
    assert learners[2].post(CHECKS, json={"code": SLEEPER}).status_code == 202
    html = teacher.get("/components/checkpoint-exercise/queue?lang=zh")
    assert html.status_code == 200 and "检查队列" in html.text
    # The running check was left to finish.
    end = time.monotonic() + 120
    while learners[0].get(f"/api/exercises/checks/{ids[0]}").json()["status"] != "done":
        assert time.monotonic() < end, "the running check never finished"
        time.sleep(0.3)

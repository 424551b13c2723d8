"""Checked exercises on the teacher's dashboard: two learners check real code through the
exercise API (in bubblewrap); the board, its page, the event stream's signature, the JSON API
and both exports show exactly who solved what and which diagnosis the failed checks got."""

from __future__ import annotations

import csv
import io
import time

import pytest
from fastapi.testclient import TestClient

from tests.test_exercise_web import NO_RNG, wait
from tests.test_teacher import KEY, csv_text, learner, teacher


@pytest.fixture
def settings(settings):
    # Two learners' checks side by side (each in its own sandbox).
    return settings.model_copy(update={"teacher_key": KEY, "exercise_checks_at_once": 2})


def submit(c: TestClient, exercise: str, code: str) -> str:
    r = c.post(f"/api/exercises/{exercise}/checks?lang=en", json={"code": code})
    assert r.status_code == 202, r.text
    return r.json()["id"]


def sections(text: str) -> tuple[list[dict], list[dict]]:
    """The CSV export's two tables, split at the empty line."""
    runs, _, exercises = text.partition("\n\n")
    return list(csv.DictReader(io.StringIO(runs))), list(csv.DictReader(io.StringIO(exercises)))


def test_two_learners_checks_reach_the_board_the_page_and_both_exports(client):
    from app.components.checkpoint_exercise.exercises import EXERCISES

    t = teacher(client)
    room = client.app.state.classroom
    a, b = learner(client), learner(client)
    assert a.put("/api/class/name", json={"name": "Ada"}).json() == {"name": "Ada"}
    before = room.fresh_board()
    assert before.exercises and all(e.tried == 0 for e in before.exercises)

    # A solves `save`; B fails `resume` twice (the random state is not restored).
    first_a = submit(a, "save", EXERCISES["save"]["solution"])
    first_b = submit(b, "resume", NO_RNG)
    assert wait(a, first_a)["verdict"]["status"] == "solved"
    v = wait(b, first_b)["verdict"]
    assert (v["status"], v["diagnosis"]) == ("wrong", "rng")
    v = wait(b, submit(b, "resume", NO_RNG))["verdict"]
    assert (v["status"], v["diagnosis"]) == ("wrong", "rng")

    # The progress writes count as a change: the board is rebuilt with a new signature.
    board = room.board()
    deadline = time.monotonic() + 5
    while board.version == before.version or not any(lr.checks == 2 for lr in board.learners):
        assert time.monotonic() < deadline, "the board did not follow the exercise progress"
        time.sleep(0.1)
        board = room.board()
    assert board.sig != before.sig

    data = t.get("/api/teach/class?lang=en").json()
    by_name = {lr["name"]: lr for lr in data["learners"]}
    assert set(by_name) == {"Ada", None} and data["counts"]["learners"] == 2
    ada, other = by_name["Ada"], by_name[None]
    assert (ada["solved"], ada["checks"], ada["failed_checks"]) == (["save"], 1, 0)
    assert (other["solved"], other["checks"], other["failed_checks"]) == ([], 2, 2)
    assert other["exercises"] == [
        {
            "exercise": "resume",
            "solved": False,
            "checks": 2,
            "failed_checks": 2,
            "last_diagnosis": "rng",
            "diagnoses": {"rng": 2},
        }
    ]
    assert other["needs_help"] == [] and other["stuck_exercises"] == []  # two failures: not stuck yet
    rows = {e["exercise"]: e for e in data["exercises"]}
    assert [e["exercise"] for e in data["exercises"]] == ["save", "resume", "device", "transfer"]
    assert (rows["save"]["tried"], rows["save"]["solved"], rows["save"]["failed_checks"]) == (1, 1, 0)
    assert rows["save"]["top_diagnosis"] is None
    assert (rows["resume"]["tried"], rows["resume"]["solved"], rows["resume"]["failed_checks"]) == (1, 0, 2)
    assert (rows["resume"]["top_diagnosis"], rows["resume"]["top_diagnosis_count"]) == ("rng", 2)
    assert rows["resume"]["top_diagnosis_text"] == "random state not restored"
    assert rows["device"]["tried"] == rows["transfer"]["tried"] == 0

    # The dashboard's page says the same, in English and in Chinese.
    page = t.get("/teach/board?lang=en").text
    assert "Checked exercises" in page and "random state not restored (2×)" in page
    assert "write save_checkpoint" in page and "2 (2)" in page and "Ada" in page
    page = t.get("/teach?lang=zh").text
    assert "代码练习" in page and "随机数状态没有恢复（2 次）" in page and "写 save_checkpoint" in page

    # Export: no runs here, so the CSV holds the header of the runs table, then the exercise table.
    runs, exercises = sections(csv_text(t.get("/teach/export.csv?lang=en")))
    assert runs == []
    assert [
        (
            r["label"],
            r["exercise"],
            r["solved"],
            r["checks"],
            r["failed_checks"],
            r["last_diagnosis"],
            r["diagnoses"],
        )
        for r in exercises
    ] == [
        (f"learner {ada['number']}", "save", "True", "1", "0", "", ""),
        (f"learner {other['number']}", "resume", "False", "2", "2", "rng", "rng:2"),
    ]
    assert "Ada" not in csv_text(t.get("/teach/export.csv"))  # anonymised, like the runs
    alone = csv_text(t.get("/teach/export.csv?part=exercises&lang=en"))
    assert list(csv.DictReader(io.StringIO(alone))) == exercises
    as_json = t.get("/teach/export.json?lang=en").json()
    assert as_json["runs"] == [] and [
        (r["exercise"], r["solved"], r["failed_checks"]) for r in as_json["exercises"]
    ] == [("save", True, 0), ("resume", False, 2)]
    api = t.get("/api/teach/exercises?lang=en").json()
    assert api["rows"] == as_json["exercises"] and api["exercises"] == data["exercises"]


def test_three_failed_checks_without_a_solve_is_stuck_and_a_new_class_starts_empty(client):
    """The stuck rule, from progress the exercise service records (no sandbox needed)."""
    from app.components.checkpoint_exercise import service as svc

    t = teacher(client)
    exercises = svc.ExerciseService(client.app.state.settings)
    room = client.app.state.classroom
    for diagnosis in ("error", "optimizer", "optimizer"):
        exercises._record("session-one", "device", False, diagnosis)
    exercises._record("session-two", "device", False, "error")
    exercises._record("session-two", "device", False, "error")
    exercises._record("session-two", "device", False, "error")
    exercises._record("session-two", "device", True, "solved")
    try:
        assert exercises.progress("session-two")["device"] == {"solved": True, "failures": 3}
        board = room.fresh_board()
        stuck = {lr.number: lr.stuck_exercises for lr in board.learners}
        assert sorted(stuck.values()) == [[], ["device"]]
        data = t.get("/api/teach/class?lang=en").json()
        assert data["counts"]["needs_help"] == 1
        one = next(lr for lr in data["learners"] if lr["needs_help"])
        assert one["needs_help"] == ["exercise"]
        assert one["needs_help_text"] == ["3+ failed checks of an exercise"]
        device = next(e for e in data["exercises"] if e["exercise"] == "device")
        assert (device["tried"], device["solved"], device["failed_checks"], device["checks"]) == (2, 1, 6, 7)
        assert (device["top_diagnosis"], device["top_diagnosis_count"]) == ("error", 4)
        assert "continue a GPU run on the CPU" in t.get("/teach/board?lang=en").text
        # A fresh class leaves earlier checks out (they stay in the learners' own progress).
        assert t.post("/api/teach/reset", json={"confirm": True}).status_code == 201
        assert all(e["tried"] == 0 for e in t.get("/api/teach/class").json()["exercises"])
        assert exercises.progress("session-one")["device"] == {"solved": False, "failures": 3}
    finally:
        exercises.shutdown()

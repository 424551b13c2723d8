"""Checked exercises on the teacher's dashboard in Chromium: a check recorded while the dashboard
is open reaches it over the event stream, and the page with its exercise tables passes axe and
fits a phone."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.axe import describe, serious_violations
from tests.test_teacher_browser import contexts, first_board_load  # noqa: F401 (contexts: a fixture)

pytestmark = pytest.mark.browser


def record(data_dir, session: str, exercise: str, solved: bool, diagnosis: str | None) -> None:
    """What the exercise service writes when a check ends (the checks themselves are tested over HTTP)."""
    from app.components.checkpoint_exercise.service import ExerciseService
    from app.settings import Settings

    service = ExerciseService(Settings(data_dir=data_dir, secret_key="x"))
    try:
        service._record(session, exercise, solved, diagnosis)
    finally:
        service.shutdown()


@pytest.mark.parametrize(
    "lang,scheme,viewport",
    [
        ("en", "light", {"width": 1366, "height": 850}),
        ("zh", "dark", {"width": 390, "height": 844}),
    ],
)
def test_an_exercise_check_reaches_the_open_dashboard_which_stays_accessible(
    contexts,  # noqa: F811 (the fixture imported above)
    live_server,
    lang,
    scheme,
    viewport,
):
    teacher = contexts(viewport=viewport, scheme=scheme, teacher=True)
    teacher.goto(f"/teach?lang={lang}")
    expect(teacher.locator("#tm-ledger")).to_be_visible()
    first_board_load(teacher)
    session = f"browser-{uuid.uuid4().hex}"
    for _ in range(3):
        record(live_server.data_dir, session, "device", False, "optimizer")
    row = teacher.locator("#tm-exercises tr[data-exercise=device]")
    expect(row).to_contain_text("GPU", timeout=10_000)
    stuck = teacher.locator("#tm-learners tbody tr.teach-help").last
    expect(stuck).to_contain_text("GPU→CPU")
    assert teacher.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    found = serious_violations(teacher)
    assert found == [], describe(found)
    assert not teacher.problems

"""Teacher mode in Debian's Chromium: the dashboard follows the class live, scenario links
pre-fill and lock the simulator's form, and the presenter view fits a projector's 1280×720."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.axe import _inject, describe, serious_violations

pytestmark = pytest.mark.browser
API = "/api/checkpoint-simulator"


def violations(page) -> list[dict]:
    """axe-core's serious, critical and moderate violations (tests/axe.py keeps the first two)."""
    _inject(page)
    found = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => ({target: n.target, html: n.html.slice(0, 200),
                                      summary: (n.failureSummary || '').slice(0, 300)})),
        }))"""
    )
    return [v for v in found if v["impact"] in ("moderate", "serious", "critical")]


@pytest.fixture
def contexts(browser, live_server):
    made = []

    def make(viewport=None, scheme="light", teacher=False):
        context = browser.new_context(
            viewport=viewport or {"width": 1366, "height": 850}, base_url=live_server.url, color_scheme=scheme
        )
        made.append(context)
        page = context.new_page()
        page.problems = []
        page.on("pageerror", lambda e: page.problems.append(str(e)))
        page.on("console", lambda m: page.problems.append(m.text) if m.type == "error" else None)
        # The board's answers as they land: its first comes after the stream's first "changed".
        page.board_loads = []
        board = lambda r: page.board_loads.append(r.url) if "/teach/board" in r.url else None  # noqa: E731
        page.on("requestfinished", board)
        if teacher:
            key = (live_server.data_dir / "teacher.key").read_text().strip()
            page.goto(f"/teach?key={key}&lang=en")
            assert page.url.endswith("/teach?lang=en")  # the key leaves the address bar
        return page

    yield make
    for context in made:
        context.close()


def shot(target, name: str) -> None:
    """A screenshot of a page (whole) or an element under $TEACHER_SHOTS, when set, to look at."""
    folder = os.environ.get("TEACHER_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        extra = {"full_page": True} if hasattr(target, "goto") else {}
        target.screenshot(path=str(Path(folder) / f"{name}.png"), **extra)


def first_board_load(page, deadline_s: float = 30) -> None:
    """Until the stream's first "changed" has brought the board's first answer (a condition)."""
    deadline = time.monotonic() + deadline_s
    while not page.board_loads:
        assert time.monotonic() < deadline, "the board never loaded over the stream"
        page.wait_for_timeout(50)


def crashed_run(learner) -> dict:
    """A run of 6 epochs that crashes in epoch 5, started through the API: until it has crashed."""
    learner.request.get("/api/session")
    run = learner.request.post(
        f"{API}/runs",
        data={"epochs": 6, "checkpoint_every": 2, "pace_ms": 0, "crash": "at_epoch", "crash_epoch": 5},
    ).json()
    deadline = time.monotonic() + 60
    while learner.request.get(f"{API}/runs/{run['id']}").json()["status"] != "crashed":
        assert time.monotonic() < deadline, "the run never crashed"
        learner.wait_for_timeout(100)
    return run


def count(page, name: str) -> int:
    return int(page.locator(f"#tm-count-{name}").inner_text())


def test_the_dashboard_follows_a_learner_who_starts_and_crashes_a_run(contexts):
    teacher = contexts(teacher=True)
    expect(teacher.locator("#tm-ledger")).to_be_visible()
    first_board_load(teacher)
    runs, crashed = count(teacher, "runs"), count(teacher, "crashed")

    learner = contexts()
    learner.goto(
        "/en/06-model-io-checkpoint?sim.epochs=6&sim.checkpoint_every=2&sim.pace_ms=150"
        "&sim.crash=at_epoch&sim.crash_epoch=4#checkpoint-simulator"
    )
    learner.locator("#cs-start").click()
    expect(teacher.locator("#tm-count-runs")).to_have_text(str(runs + 1), timeout=10_000)
    expect(teacher.locator("#tm-count-crashed")).to_have_text(str(crashed + 1), timeout=30_000)
    row = teacher.locator("#tm-learners tbody tr").last
    expect(row).to_contain_text("crashed")
    # A crash on an idle pool starts the uninterrupted reference at once; its start and end are
    # changes to the board's queue too. On a loaded machine they come after the crash is shown.
    expect(teacher.locator("#tm-board")).to_contain_text("0 waiting, 0 training", timeout=30_000)
    # No polling: the board is fetched when the stream announces a change, never on a timer.
    trigger = teacher.locator("#tm-board").get_attribute("hx-trigger") or ""
    assert trigger.startswith("sse:changed") and "every" not in trigger
    assert len(teacher.board_loads) < 20
    assert not teacher.problems and not learner.problems


def test_a_scenario_link_prefills_and_locks_the_form_and_the_run_uses_it(contexts):
    learner = contexts()
    learner.goto(
        "/en/06-model-io-checkpoint?sim.optimizer=sgd&sim.lr=0.05&sim.epochs=4&sim.checkpoint_every=2"
        "&sim.pace_ms=0&sim.scheduler=0&sim.mid_epoch=1&lock=sim.optimizer,sim.lr,sim.scheduler"
        "#checkpoint-simulator"
    )
    optimizer, lr, epochs = (
        learner.locator("#cs-optimizer"),
        learner.locator("#cs-lr"),
        learner.locator("#cs-epochs"),
    )
    expect(optimizer).to_have_value("sgd")
    expect(optimizer).to_be_disabled()
    expect(lr).to_have_value("0.05")
    expect(lr).to_be_disabled()
    expect(learner.locator("#cs-scheduler")).not_to_be_checked()
    expect(learner.locator("#cs-scheduler")).to_be_disabled()
    expect(epochs).to_have_value("4")
    # The builder's pace and mid-epoch checkpoints, by the names the form reads.
    expect(learner.locator("#cs-pace_ms")).to_have_value("0")
    expect(learner.locator("#cs-mid_epoch")).to_be_checked()
    expect(epochs).to_be_enabled()
    expect(learner.locator(".scenario-lock").first).to_have_text(" (locked by your teacher)")
    learner.locator("#cs-start").click()
    runs = []
    for _ in range(50):
        runs = learner.request.get(f"{API}/runs").json()
        if runs:
            break
        learner.wait_for_timeout(100)
    assert len(runs) == 1
    config = runs[0]["config"]
    # The locked (disabled) controls' values were sent all the same.
    assert config["optimizer"] == "sgd" and config["lr"] == 0.05 and config["scheduler"] is False
    assert config["epochs"] == 4
    assert config.get("mid_epoch_checkpoint") is True and runs[0]["options"]["pace_ms"] == 0
    assert not learner.problems


@pytest.mark.parametrize(
    "lang,epochs_error,choice_error",
    [
        ("zh", "不能大于 200。", "请从列表中选择。"),
        ("en", "Must be at most 200.", "Pick one of the options."),
    ],
)
def test_bad_values_in_a_link_get_the_forms_own_messages(contexts, lang, epochs_error, choice_error):
    learner = contexts()
    # Start is clicked while the view's first load is still under way (held here until then): the
    # refused form must not cancel that load, or the view would stay at "Loading…".
    held = []
    learner.route("**/live?**", lambda route: route.continue_() if held else held.append(route))
    learner.goto(f"/{lang}/06-model-io-checkpoint?sim.epochs=5000&sim.optimizer=rmsprop&lock=sim.optimizer")
    expect(learner.locator("#cs-epochs")).to_have_value("5000")
    deadline = time.monotonic() + 30
    while not held and time.monotonic() < deadline:
        learner.wait_for_timeout(50)  # lets Playwright deliver the held request
    assert held, "the view's first load was never asked for"
    learner.locator("#cs-start").click()
    held[0].continue_()
    expect(learner.locator("#cs-epochs-error")).to_have_text(epochs_error)
    expect(learner.locator("#cs-form")).to_contain_text(choice_error)
    expect(learner.locator("#cs-live #cs-runs-box")).to_be_attached()
    # The form came back with the link's values, and the lock holds after the swap.
    expect(learner.locator("#cs-optimizer")).to_be_disabled()
    assert learner.request.get(f"{API}/runs").json() == []
    assert not learner.problems


def _fits(page):
    size = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.scrollHeight,"
        " innerWidth, innerHeight]"
    )
    assert size[0] <= size[2] and size[1] <= size[3], size


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_presenter_view_fits_1280x720_with_large_type(contexts, scheme):
    teacher = contexts(viewport={"width": 1280, "height": 720}, scheme=scheme, teacher=True)
    # A learner with a crashed run and a resume to show.
    learner = contexts()
    run = crashed_run(learner)
    r = learner.request.post(
        f"{API}/runs/{run['id']}/resume", data={"file": "ckpt-epoch-0004.pt", "restore": "weights"}
    )
    assert r.status == 201, r.text()

    teacher.goto("/teach/present?lang=en")
    expect(teacher.locator("#tm-ledger")).to_be_visible()
    _fits(teacher)
    size = teacher.evaluate("parseFloat(getComputedStyle(document.querySelector('#tm-ledger td')).fontSize)")
    assert size >= 28, size
    assert serious_violations(teacher) == [], describe(serious_violations(teacher))

    number = teacher.request.get("/api/teach/class").json()["learners"][-1]["number"]
    teacher.goto(f"/teach/present?lang=zh&learner={number}")
    expect(teacher.locator(".present-chart svg.chart")).to_be_visible()
    expect(teacher.locator("h1")).to_have_text(f"学员 {number}")
    _fits(teacher)
    # (Measured in one step: the view is swapped whenever the class changes.)
    box = teacher.evaluate(
        "(() => { const r = document.querySelector('.present-chart svg.chart')"
        ".getBoundingClientRect(); return [r.width, r.height]; })()"
    )
    assert box[0] > 900 and box[1] > 350, box
    assert not teacher.problems


PHONE, LAPTOP = {"width": 390, "height": 844}, {"width": 1366, "height": 850}
SCREENS = [
    ("en", "light", LAPTOP),
    ("zh", "dark", LAPTOP),
    ("zh", "light", PHONE),
    # English headers are the wider ones: the ledger needs its scroll box on a phone.
    ("en", "dark", PHONE),
]
BUILDER_ERRORS = {"en": "Must be at most 200.", "zh": "不能大于 200。"}


@pytest.mark.parametrize("lang,scheme,viewport", SCREENS)
def test_the_dashboard_is_accessible_and_fits_a_phone(contexts, lang, scheme, viewport):
    teacher = contexts(viewport=viewport, scheme=scheme, teacher=True)
    teacher.goto(f"/teach?lang={lang}")
    expect(teacher.locator("#tm-ledger")).to_be_visible()
    assert teacher.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    found = violations(teacher)
    assert found == [], describe(found)
    for path in ("/teach/reset", "/teach/archives"):
        teacher.goto(f"{path}?lang={lang}")
        assert teacher.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        found = violations(teacher)
        assert found == [], (path, describe(found))
    teacher.goto(f"/teach?lang={lang}")
    # The scenario builder gives a link to copy, checked by the simulator's own rules.
    teacher.locator("#tm-sim-optimizer").select_option("sgd")
    teacher.locator("input[name=lock][value='sim.optimizer']").check()
    link = teacher.locator("#tm-link")
    expect(link).to_have_value(
        re.compile(
            r"^http://127\.0\.0\.1:\d+/\w\w/06-model-io-checkpoint\?sim\.optimizer=sgd&lock=sim\.optimizer#"
        )
    )
    # An out-of-range value: its message beside the field, in the page's language, and no link.
    epochs = teacher.locator("#tm-sim-epochs")
    epochs.fill("5000")
    expect(teacher.locator("#tm-sim-epochs-error")).to_have_text(BUILDER_ERRORS[lang])
    expect(epochs).to_have_attribute("aria-invalid", "true")
    expect(link).to_have_count(0)
    expect(teacher.locator("#tm-scenario-errors")).to_contain_text(BUILDER_ERRORS[lang])
    shot(
        teacher.locator("#tm-scenario-title").locator(".."),
        f"builder-error-{lang}-{scheme}-{viewport['width']}",
    )
    assert teacher.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    found = violations(teacher)
    assert found == [], describe(found)
    # Fixed, the link comes back with the new value; pace and mid-epoch checkpoints go in too.
    epochs.fill("40")
    teacher.locator("#tm-sim-pace_ms").fill("0")
    teacher.locator("#tm-sim-mid_epoch").select_option("1")
    expect(teacher.locator("#tm-sim-epochs-error")).to_have_text("")
    expect(epochs).not_to_have_attribute("aria-invalid", "true")
    expect(link).to_have_value(
        re.compile(r"\?sim\.epochs=40&sim\.optimizer=sgd&sim\.pace_ms=0&sim\.mid_epoch=1&")
    )
    shot(teacher, f"dashboard-{lang}-{scheme}-{viewport['width']}")
    assert not teacher.problems


def test_a_learner_types_a_name_and_the_dashboard_shows_it(contexts):
    teacher = contexts(teacher=True)  # a teacher in class: the chapter offers the name field
    learner = contexts(viewport={"width": 390, "height": 844}, scheme="dark")
    learner.goto("/zh/06-model-io-checkpoint#class-name")
    field = learner.locator("#tm-name")
    expect(field).to_be_visible()
    field.fill("小明")
    learner.locator(".class-name-form button").click()
    expect(learner.locator("#class-name")).to_contain_text("老师看到的是“小明”")
    ours = [
        v
        for v in serious_violations(learner)
        if any("tm-name" in n["html"] or "class-name" in n["html"] for n in v["nodes"])
    ]
    assert ours == [], describe(ours)
    r = learner.request.post(f"{API}/runs", data={"epochs": 2, "checkpoint_every": 1, "pace_ms": 0})
    assert r.status == 201, r.text()
    expect(teacher.locator("#tm-learners")).to_contain_text("小明", timeout=10_000)
    assert not teacher.problems and not learner.problems


def test_a_scenario_link_reaches_the_transfer_visualizer_too(contexts):
    learner = contexts()
    asked = []
    learner.on("request", lambda r: asked.append(r.url) if "/diagram" in r.url else None)
    learner.goto("/en/06-model-io-checkpoint?tl.num_classes=5&tl.freeze_backbone=1&lock=tl.num_classes")
    expect(learner.locator("#tl-classes")).to_have_value("5")
    expect(learner.locator("#tl-classes")).to_be_disabled()
    expect(learner.locator("#tl-freeze")).to_be_checked()
    # The diagram is asked for the link's class count, although its control is disabled.
    for _ in range(50):
        if any("num_classes=5" in url for url in asked):
            break
        learner.wait_for_timeout(100)
    assert any("num_classes=5" in url for url in asked), asked
    assert not learner.problems


@pytest.mark.parametrize("lang,scheme,viewport", SCREENS)
def test_the_presenters_chart_names_every_line_once(contexts, lang, scheme, viewport):
    teacher = contexts(viewport=viewport, scheme=scheme, teacher=True)
    learner = contexts()
    run = crashed_run(learner)
    r = learner.request.post(f"{API}/runs/{run['id']}/resume-all", data={"file": "ckpt-epoch-0004.pt"})
    assert r.status == 201, r.text()
    number = teacher.request.get("/api/teach/class").json()["learners"][-1]["number"]
    teacher.goto(f"/teach/present?lang={lang}&learner={number}")
    # Every resume drawn (they finish one after another): the first run, five modes, the reference.
    expect(teacher.locator(".present-chart .line-label")).to_have_count(7, timeout=60_000)
    legend = teacher.locator(".present-chart .legend .legend-item:not(.marker-key)")
    names = legend.all_inner_texts()
    assert len(names) == len(set(names)) == 7, names
    assert teacher.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    found = violations(teacher)
    assert found == [], describe(found)
    shot(teacher, f"present-{lang}-{scheme}-{viewport['width']}")
    assert not teacher.problems


RESET_SIZE = {"en": "(1 learner, 1 run and 0 resumes)", "zh": "（1 位学员，1 次训练，0 次恢复）"}


@pytest.mark.parametrize("lang,scheme,viewport", SCREENS)
def test_reset_counts_as_the_dashboard_and_a_restore_asks_first_and_keeps_the_archive(
    contexts, lang, scheme, viewport
):
    teacher = contexts(viewport=viewport, scheme=scheme, teacher=True)
    # A class of one: whatever earlier tests left is archived first (the server is shared).
    assert teacher.request.post("/api/teach/reset", data={"confirm": True}).status == 201
    learner = contexts()
    learner.request.get("/api/session")
    assert learner.request.post(f"{API}/runs", data={"epochs": 2, "checkpoint_every": 1, "pace_ms": 0}).ok
    teacher.goto(f"/teach?lang={lang}")
    expect(teacher.locator("#tm-count-runs")).to_have_text("1", timeout=10_000)
    expect(teacher.locator("#tm-count-resumes")).to_have_text("0")
    shot(teacher.locator("#tm-board"), f"board-{lang}-{scheme}-{viewport['width']}")

    teacher.goto(f"/teach/reset?lang={lang}")
    expect(teacher.locator("#tm-reset-size")).to_contain_text(RESET_SIZE[lang])
    shot(teacher, f"reset-{lang}-{scheme}-{viewport['width']}")
    teacher.locator("#tm-reset-confirm").check()
    teacher.locator("#tm-reset-do").click()
    expect(teacher.locator(".notice-ok")).to_contain_text(RESET_SIZE[lang].strip("()（）"))
    row = teacher.locator("#tm-archives tbody tr").first
    archive_id = row.get_attribute("data-archive")

    # Restore: a page of its own with a form (no script needed); unticked, the browser holds it.
    row.locator(f"a[href^='/teach/archives/{archive_id}/restore']").click()
    expect(teacher.locator("#tm-restore-size")).to_contain_text(RESET_SIZE[lang])
    found = violations(teacher)
    assert found == [], describe(found)
    shot(teacher, f"restore-{lang}-{scheme}-{viewport['width']}")
    assert teacher.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    teacher.locator("#tm-restore-do").click()
    assert "/restore" in teacher.url  # still asking
    assert teacher.request.get("/api/teach/class").json()["counts"]["runs"] == 0
    teacher.locator("#tm-restore-confirm").check()
    teacher.locator("#tm-restore-do").click()
    expect(teacher.locator(".notice-ok")).to_be_visible()
    # The archive is still listed, marked restored (no second restore offered).
    kept = teacher.locator(f"#tm-archives tr[data-archive='{archive_id}']")
    expect(kept).to_contain_text("restored on" if lang == "en" else "已于")
    expect(kept.locator("a[href$='/restore?lang=" + lang + "']")).to_have_count(0)
    assert teacher.request.get("/api/teach/class").json()["counts"]["runs"] == 1
    found = violations(teacher)
    assert found == [], describe(found)
    shot(teacher, f"archives-{lang}-{scheme}-{viewport['width']}")
    assert teacher.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    assert not teacher.problems

"""The CheckpointSimulator in Debian's Chromium, as a learner who has not read the chapter meets it:
start, crash, resume all five ways, read the ledger — on a laptop and on a phone, zh and en."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from bench.server import Server
from tests.axe import describe, serious_violations

pytestmark = pytest.mark.browser
DESKTOP, PHONE = {"width": 1366, "height": 850}, {"width": 390, "height": 844}
WORDS = {
    "en": {
        "crashed": "Run crashed in epoch",
        "cost": "The first epoch back",
        "identical": "Nothing lost",
        "naive": "truncated zip archive",
        "guess": "You guessed bit-identical: yes — wrong",
        "last": "Last checkpoint: epoch 10",
    },
    "zh": {
        "crashed": "训练在第",
        "cost": "恢复后第一个 epoch",
        "identical": "什么也没丢",
        "naive": "被截断的 zip 存档",
        "guess": "你猜逐位相同：是，猜错了",
        "last": "最近的 checkpoint：第 10 个 epoch",
    },
}


@pytest.fixture
def learner(browser, live_server):
    """A fresh learner (its own cookies) with a given screen, language and colour scheme."""
    contexts = []

    def make(lang="en", viewport=DESKTOP, scheme="light"):
        context = browser.new_context(viewport=viewport, base_url=live_server.url, color_scheme=scheme)
        contexts.append(context)
        page = context.new_page()
        page.problems = []
        page.on("pageerror", lambda e: page.problems.append(str(e)))
        page.goto(f"/{lang}/06-model-io-checkpoint")
        return page

    yield make
    for context in contexts:
        context.close()


def start(page, epochs="30", every="5", pace="150", crash=None, crash_epoch=None, mid_epoch=False):
    sim = page.locator("#checkpoint-simulator")
    sim.locator("#cs-title").scroll_into_view_if_needed()
    settings = page.locator("#cs-settings")
    if settings.get_attribute("open") is None:  # folded once a run exists
        settings.locator("summary").click()
    page.locator("#cs-epochs").fill(epochs)
    page.locator("#cs-checkpoint_every").fill(every)
    page.locator("#cs-pace_ms").fill(pace)
    if crash:
        page.locator(f"#cs-form input[name=crash][value={crash}]").check()
        page.locator("#cs-crash_epoch").fill(crash_epoch)
    if mid_epoch:
        page.locator("#cs-mid_epoch").check()
    page.locator("#cs-start").click()
    return sim


def no_wider_than_the_screen(page):
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    wide = page.evaluate(
        """(w) => Array.from(document.querySelectorAll('#checkpoint-simulator *'))
        .filter(e => e.getBoundingClientRect().right > w + 1 && e.offsetParent !== null)
        .map(e => e.tagName + '.' + e.className).slice(0, 5)""",
        width,
    )
    assert wide == [], wide


@pytest.mark.parametrize("lang,viewport", [("en", DESKTOP), ("zh", PHONE)], ids=["en-desktop", "zh-phone"])
def test_the_story_lands_from_the_component_alone(learner, lang, viewport):
    page = learner(lang, viewport)
    w = WORDS[lang]
    # A checkpoint every 10 epochs: the crash below lands a few epochs after the one at 10 and well
    # before the one at 20. With every 5, a slow page could crash just after the one at 15, with
    # nothing lost and rightly nothing shaded.
    sim = start(page, every="10")
    now = sim.locator("#cs-now")
    expect(now).to_have_attribute("data-status", "running", timeout=30_000)
    # The run and its Crash button appear on screen, right under Start.
    crash = now.locator("button.danger")
    expect(now).to_be_in_viewport()
    expect(crash).to_be_in_viewport()
    expect(sim.locator(".cs-ckpt[data-file='ckpt-epoch-0010.pt']")).to_be_visible(timeout=30_000)
    # A few epochs past that checkpoint, so the crash loses work the chart can shade.
    run_id = now.get_attribute("data-run-id")
    api = f"/api/checkpoint-simulator/runs/{run_id}"
    deadline = time.monotonic() + 30
    while len(page.request.get(api).json()["epochs"]) < 12:
        assert time.monotonic() < deadline, "the run never trained past epoch 12"
        page.wait_for_timeout(50)
    # Crash from the keyboard: focus lands on the run's state, which says what happened in a sentence.
    # The button is kept across the status line's refreshes (hx-preserve); should a refresh land
    # between focus and key press anyway, press again while the run still trains.
    expect(now.locator(".cs-crash-when")).to_contain_text(w["last"])
    for _ in range(10):
        if now.get_attribute("data-status") != "running":
            break
        # Short: once an earlier press has crashed the run, its button is gone for good.
        with contextlib.suppress(PlaywrightTimeout):
            crash.press("Enter", timeout=3000)
        page.wait_for_timeout(300)
    expect(now).to_have_attribute("data-status", "crashed", timeout=10_000)
    # The crash's answer sends focus to the run's state.
    expect(now).to_be_focused()
    expect(page.locator("#cs-announce")).to_contain_text(w["crashed"])
    expect(sim.locator(".chart .shade-lost")).to_have_count(1)  # the work lost since the last checkpoint
    # Guess first (optional), then resume all five from the newest checkpoint.
    resume_all = sim.locator("#cs-resume-all")
    expect(resume_all).to_be_visible(timeout=20_000)
    expect(sim.locator("#cs-predict")).to_have_attribute("open", "")  # guess first: open, above
    sim.locator("#cs-predict-weights-identical").select_option("yes")
    resume_all.click()
    expect(sim.locator("#cs-ledger-title")).to_be_focused()
    rows = sim.locator(".cs-ledger-row")
    expect(rows).to_have_count(5)
    expect(sim.locator(".cs-ledger-row[data-identical='unknown']")).to_have_count(0, timeout=120_000)
    everything = sim.locator("#cs-row-everything")
    expect(everything).to_have_attribute("data-identical", "true")
    expect(everything).to_contain_text(w["identical"])
    for mode in ("weights", "weights_optimizer", "no_scheduler", "no_rng"):
        row = sim.locator(f"#cs-row-{mode}")
        expect(row).to_have_attribute("data-identical", "false")
        expect(row.locator(".cs-cost-row")).to_contain_text(w["cost"])
    # The guess was recorded and judged: weights only is not bit-identical.
    expect(sim.locator("#cs-row-weights")).to_contain_text(w["guess"])
    # The conclusion is stated, first thing in the ledger.
    expect(sim.locator("#cs-conclusion")).to_be_visible()
    expect(sim.locator(".cs-panel")).to_have_count(6)  # five resumes and the learning rates
    if viewport is PHONE:
        no_wider_than_the_screen(page)
        size = page.evaluate("""() => { const t = document.querySelector('.cs-panel svg text');
            return parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a; }""")
        assert size >= 11, f"chart text renders at {size:.1f} px on a phone"
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        found = serious_violations(page)
        assert not found, f"{scheme}: {describe(found)}"
    assert not page.problems, page.problems


@pytest.mark.parametrize("lang,viewport", [("zh", DESKTOP), ("en", PHONE)], ids=["zh-desktop", "en-phone"])
def test_start_puts_the_run_and_crash_on_screen(learner, lang, viewport):
    page = learner(lang, viewport)
    sim = start(page, epochs="8", pace="200")
    now = sim.locator("#cs-now")
    expect(now).to_have_attribute("data-status", "running", timeout=30_000)
    expect(now).to_be_focused()
    expect(now.locator("button.danger")).to_be_in_viewport()
    expect(page.locator("#cs-settings")).not_to_have_attribute("open", "")  # folded away
    if viewport is PHONE:
        no_wider_than_the_screen(page)
    expect(now).to_have_attribute("data-status", "done", timeout=30_000)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_crash_while_saving_explains_the_broken_file(learner, lang):
    page = learner(lang)
    sim = start(page, epochs="8", every="2", pace="0", crash="while_saving", crash_epoch="4")
    naive = sim.locator(".cs-naive")
    try:
        expect(naive).to_have_attribute("data-ok", "false", timeout=40_000)
    except AssertionError as exc:  # say what the server had and what the page showed
        runs = page.request.get("/api/checkpoint-simulator/runs").json()
        raise AssertionError(f"runs: {runs}\npage: {sim.inner_text()[:1500]}") from exc
    expect(naive).to_contain_text(WORDS[lang]["naive"])
    expect(naive.locator("pre.torch-error")).not_to_be_empty()
    expect(naive.locator("details.cs-split")).to_have_count(0)  # nothing resumes from a rejected file
    expect(sim.locator(".marker-resume")).to_have_count(0)
    expect(sim.locator(".cs-ledger-row[data-status='untried']")).to_have_count(5)
    # The intact atomic checkpoint is offered instead.
    expect(sim.locator(".cs-ckpt[data-file='ckpt-epoch-0002.pt'] details.cs-split")).to_have_count(1)


def test_a_limit_message_stays_until_dismissed(learner, live_server):
    page = learner("zh")
    start(page, epochs="200", pace="1000")
    expect(page.locator("#cs-now")).to_have_attribute("data-status", "running", timeout=30_000)
    ids = []
    try:
        for n in (2, 3):
            page.locator("#cs-start").click()
            expect(page.locator(".run-chip")).to_have_count(n)
        page.locator("#cs-start").click()  # the fourth active run: over the limit of three
        notice = page.locator("#cs-message [role=alert]")
        expect(notice).to_contain_text("已到上限", timeout=10_000)
        # The status line refreshes itself as the runs train; the message stays.
        for _ in range(3):
            with page.expect_response(lambda r: "/now?" in r.url, timeout=30_000):
                pass
        expect(notice).to_be_visible()
        notice.locator("button").click()
        expect(notice).to_have_count(0)
    finally:
        runs = page.request.get("/api/checkpoint-simulator/runs").json()
        ids = [r["id"] for r in runs]
        for run_id in ids:
            page.request.post(
                f"/api/checkpoint-simulator/runs/{run_id}/crash", headers={"Origin": live_server.url}
            )
    assert len(ids) == 3


def test_validation_speaks_the_page_language(learner):
    page = learner("zh")
    page.locator("#cs-epochs").fill("1")
    page.locator("#cs-start").click()
    expect(page.locator("#cs-epochs-error")).to_have_text("不能小于 2。")
    expect(page.locator("#cs-epochs")).to_have_attribute("aria-invalid", "true")
    # The crash epoch is asked in words, and only when a planned crash is chosen.
    field = page.locator("#cs-crash_epoch")
    expect(field).to_be_hidden()
    page.locator("#cs-form input[name=crash][value=at_epoch]").check()
    expect(field).to_be_visible()
    expect(page.locator("label.crash-epoch-field")).to_contain_text("在第几个 epoch 崩溃")


def test_the_simulator_is_two_tab_presses_from_the_top(learner):
    page = learner("en")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    link = page.locator(".skip-link[href='#cs-title']")
    expect(link).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#cs-title")).to_be_focused()


def test_two_tabs_share_runs_and_another_learner_sees_none(page, browser, live_server):
    page.goto("/en/06-model-io-checkpoint")
    start(page, epochs="6", every="2", pace="0")
    now = page.locator("#cs-now")
    expect(now).to_have_attribute("data-status", "done", timeout=30_000)
    run_id = now.get_attribute("data-run-id")
    second_tab = page.context.new_page()
    second_tab.goto("/en/06-model-io-checkpoint")
    expect(second_tab.locator(f"[data-run-id='{run_id}']")).to_be_visible()
    other = browser.new_context(base_url=live_server.url)
    try:
        stranger = other.new_page()
        stranger.goto("/en/06-model-io-checkpoint")
        expect(stranger.locator(".cs-empty")).to_be_visible()
        assert stranger.locator(f"[data-run-id='{run_id}']").count() == 0
        response = stranger.request.get(f"/api/checkpoint-simulator/runs/{run_id}")
        assert response.status == 404
    finally:
        other.close()


def test_an_open_resume_menu_survives_live_refreshes(learner):
    page = learner("en")
    sim = start(page, epochs="12", every="2", pace="100", crash="at_epoch", crash_epoch="5")
    expect(sim.locator("#cs-now")).to_have_attribute("data-status", "crashed", timeout=30_000)
    menu = sim.locator("#cs-split-4")
    menu.locator("summary").click()
    # The checkpoints list refreshes itself (as on a stream event): the open menu stays open.
    for _ in range(2):
        with page.expect_response(lambda r: "/checkpoints?" in r.url):
            page.evaluate("() => htmx.trigger('#cs-ckpts', 'cs-checkpoint')")
    expect(menu).to_have_attribute("open", "")
    menu.locator("button[value=weights]").click()
    expect(sim.locator("#cs-row-weights")).not_to_have_attribute("data-status", "untried")
    expect(sim.locator("#cs-split-4")).not_to_have_attribute("open", "")


ORDER_WORDS = {
    "en": {
        "menu": "middle of epoch 11",
        "title": "Epoch 11, interrupted",
        "continued": "each of the 2400 samples trained exactly once",
        "restarted": "1216 samples trained before the crash were trained a second time",
        "skipped": "Kept the position but lost the order",
    },
    "zh": {
        "menu": "第 11 个 epoch 中途",
        "title": "被打断的第 11 个 epoch",
        "continued": "2400 个样本每个恰好一次",
        "restarted": "崩溃前训练过的 1216 个样本又训练了一次",
        "skipped": "记得位置，却丢了顺序",
    },
}


def test_a_mid_epoch_resume_shows_the_interrupted_epochs_data_order(learner, tmp_path):
    """Crash half-way through epoch 11, resume all five from the mid-epoch checkpoint: the strips say
    which samples each way trained twice or never, on a laptop and a phone, zh and en, light and dark."""
    page = learner("en")
    sim = start(page, epochs="12", every="4", pace="0", crash="at_epoch", crash_epoch="11", mid_epoch=True)
    expect(sim.locator("#cs-now")).to_have_attribute("data-status", "crashed", timeout=60_000)
    mid = sim.locator(".cs-ckpt[data-file='ckpt-epoch-0010-batch-0019.pt']")
    expect(mid).to_contain_text("mid-epoch 11: after batch 19/38")
    resume_all = sim.locator("#cs-resume-all")
    expect(resume_all).to_contain_text(ORDER_WORDS["en"]["menu"], timeout=20_000)
    resume_all.click()
    expect(sim.locator(".cs-ledger-row[data-identical='unknown']")).to_have_count(0, timeout=180_000)
    expect(sim.locator("#cs-row-everything")).to_have_attribute("data-identical", "true")
    run_id = sim.locator("#cs-now").get_attribute("data-run-id")
    truth = {
        r["mode"]: r
        for r in page.request.get(f"/api/checkpoint-simulator/runs/{run_id}/data-order").json()["rows"]
    }
    shots = []
    for lang in ("en", "zh"):
        w = ORDER_WORDS[lang]
        page.goto(f"/{lang}/06-model-io-checkpoint")
        order = page.locator("#cs-order")
        expect(order.locator(".cs-order-row")).to_have_count(6)  # the uninterrupted run and five resumes
        expect(order.locator("h4")).to_contain_text(w["title"])
        expect(order.locator(".cs-order-row[data-mode='everything']")).to_contain_text(w["continued"])
        expect(order.locator(".cs-order-row[data-mode='weights']")).to_contain_text(w["restarted"])
        skipped = order.locator(".cs-order-row[data-mode='no_rng']")
        expect(skipped).to_contain_text(w["skipped"])
        # The page shows the counts the workers measured, in the sentence and on the strip's cells.
        for mode, row in truth.items():
            strip = order.locator(f".cs-order-row[data-mode='{mode}']")
            expect(strip).to_have_attribute("data-twice", str(row["twice"]))
            expect(strip).to_have_attribute("data-never", str(row["never"]))
            expect(strip.locator("rect.o-twice")).to_have_count(sum(1 for t, _ in row["per_batch"] if t))
            expect(strip.locator("rect.o-never")).to_have_count(sum(1 for _, n in row["per_batch"] if n))
        expect(skipped).to_contain_text(str(truth["no_rng"]["never"]))
        for name, viewport in (("laptop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(viewport)
            order.scroll_into_view_if_needed()
            # Each strip as wide as its row, however narrow the screen.
            widths = page.evaluate("""() => Array.from(document.querySelectorAll('#cs-order .order-strip'))
                .map(s => s.getBoundingClientRect().width)""")
            assert min(widths) > 0.8 * max(widths) and max(widths) <= viewport["width"], widths
            if viewport is PHONE:
                no_wider_than_the_screen(page)
            for scheme in ("light", "dark"):
                page.emulate_media(color_scheme=scheme)
                found = serious_violations(page)
                assert not found, f"{lang} {name} {scheme}: {describe(found)}"
                shot = tmp_path / f"order-{lang}-{name}-{scheme}.png"
                # What the learner sees: the section's top just under the page's sticky header.
                page.evaluate("""() => { document.getElementById('cs-order').scrollIntoView({block: 'start'});
                    window.scrollBy(0, -70); }""")
                page.screenshot(path=str(shot))
                shots.append(shot)
                if scheme == "light":  # the checkpoint list, the ledger that leads to it, the charts under it
                    for part in ("cs-now", "cs-ledger-title", "cs-compare-title"):
                        page.evaluate(
                            """(id) => { document.getElementById(id).scrollIntoView({block: 'start'});
                            window.scrollBy(0, -70); }""",
                            part,
                        )
                        page.screenshot(path=str(tmp_path / f"{part}-{lang}-{name}.png"))
    assert all(p.stat().st_size > 5_000 for p in shots)
    print("screenshots:", tmp_path)
    assert not page.problems, page.problems


def all_violations(page) -> list[dict]:
    """Every axe-core violation of the simulator, whatever its impact (moderate and minor too)."""
    serious_violations(page)  # injects axe-core once
    return page.evaluate("""async () =>
        (await axe.run('#checkpoint-simulator', {resultTypes: ['violations']})).violations
        .map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => ({target: n.target, html: n.html.slice(0, 200), summary: ''}))}))""")


def test_after_a_crash_and_a_resume_on_every_screen(learner, tmp_path):
    """A crashed run resumed all five ways, seen on a laptop and a phone, zh and en, light and dark:
    no axe-core violation of any impact, nothing wider than the screen. The screenshots are kept
    (SIM_SHOTS, else the test's tmp dir) for a person to look at."""
    page = learner("en")
    sim = start(page, epochs="12", every="5", pace="0", crash="at_epoch", crash_epoch="8")
    expect(sim.locator("#cs-now")).to_have_attribute("data-status", "crashed", timeout=60_000)
    sim.locator("#cs-resume-all").click()
    expect(sim.locator(".cs-ledger-row[data-identical='unknown']")).to_have_count(0, timeout=180_000)
    out = Path(os.environ.get("SIM_SHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    for lang in ("en", "zh"):
        page.goto(f"/{lang}/06-model-io-checkpoint")
        expect(page.locator("#cs-row-everything")).to_have_attribute("data-identical", "true", timeout=30_000)
        for name, viewport in (("1366x850", DESKTOP), ("390x844", PHONE)):
            page.set_viewport_size(viewport)
            if viewport is PHONE:
                no_wider_than_the_screen(page)
            for scheme in ("light", "dark"):
                page.emulate_media(color_scheme=scheme)
                found = all_violations(page)
                assert not found, f"{lang} {name} {scheme}: {describe(found)}"
                page.locator("#checkpoint-simulator").screenshot(
                    path=str(out / f"sim-{lang}-{name}-{scheme}.png")
                )
    print("screenshots:", out)
    assert not page.problems, page.problems


@pytest.fixture
def one_paced_place(tmp_path):
    """A server of its own with one place for paced runs: who is ahead in line is known."""
    srv = Server(tmp_path / "data", env={"PACED_WORKERS": "1", "TRANSFER_PREWARM": "false"}).start()
    yield srv
    srv.stop()


@pytest.mark.parametrize(
    "lang,first,second",
    [("en", "number 2 in the queue", "number 1 in the queue"), ("zh", "排队第 2 位", "排队第 1 位")],
)
def test_a_waiting_runs_place_moves_up_on_the_page(browser, one_paced_place, lang, first, second):
    """The paced place busy with another learner's run and one more waiting: this learner's run
    is second in line, and moves up on the page when the one ahead leaves the line."""
    api = "/api/checkpoint-simulator/runs"
    slow = {"epochs": 200, "checkpoint_every": 50, "pace_ms": 500}
    contexts = [browser.new_context(base_url=one_paced_place.url) for _ in range(3)]
    try:
        for other in contexts[:2]:
            other.request.get("/api/session")
        busy = contexts[0].request.post(api, data=slow).json()["id"]
        ahead = contexts[1].request.post(api, data=slow).json()["id"]
        page = contexts[2].new_page()
        page.goto(f"/{lang}/06-model-io-checkpoint")
        start(page, epochs="10", every="5", pace="150")
        place = page.locator("#cs-now-box [data-queue-run]")
        expect(place).to_have_text(first, timeout=30_000)
        contexts[1].request.post(f"{api}/{ahead}/crash")  # a waiting run leaves the line
        expect(place).to_have_text(second, timeout=30_000)
        contexts[0].request.post(f"{api}/{busy}/crash")
        expect(place).to_have_count(0, timeout=60_000)  # its turn came: it trains
    finally:
        for context in contexts:
            context.close()

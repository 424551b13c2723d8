"""The CheckpointSimulator in Debian's Chromium: a learner's whole crash-and-resume story."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
CHAPTER = "/en/06-model-io-checkpoint"


def start_run(page, epochs="40", every="4", pace="150"):
    page.goto(CHAPTER)
    form = page.locator("#cs-form")
    form.locator("#cs-epochs").fill(epochs)
    form.locator("#cs-checkpoint_every").fill(every)
    form.locator("#cs-pace_ms").fill(pace)
    form.locator("#cs-start").click()


def test_start_crash_resume_everything_then_weights_only(page):
    start_run(page)
    sim = page.locator("#checkpoint-simulator")
    row = sim.locator("tr[data-kind='train']")
    expect(row).to_have_attribute("data-status", "running", timeout=30_000)
    expect(sim.locator("tr[data-file='ckpt-epoch-0012.pt']")).to_be_visible(timeout=30_000)
    sim.locator("button.danger").click()
    expect(row).to_have_attribute("data-status", "crashed", timeout=10_000)
    expect(sim.locator(".crash-row")).to_contain_text("SIGKILL")
    # Screen readers hear the change through the polite live region.
    expect(page.locator("#cs-announce[aria-live='polite']")).to_contain_text("crashed")
    # What survived is judged by torch.load in a worker.
    expect(sim.locator("tr[data-file='ckpt-epoch-0012.pt']")).to_contain_text("torch.load accepts it", timeout=20_000)

    page.locator("#cs-restore input[value='everything']").check()
    sim.locator("tr[data-file='ckpt-epoch-0012.pt'] button", has_text="Resume from here").click()
    verdict = sim.locator(".verdict[data-restore='everything']")
    expect(verdict).to_have_attribute("data-identical", "true", timeout=60_000)
    expect(verdict).to_contain_text("max |Δw| = 0")

    page.locator("#cs-restore input[value='weights']").check()
    sim.locator("tr[data-file='ckpt-epoch-0012.pt'] button", has_text="Resume from here").first.click()
    weights = sim.locator(".verdict[data-restore='weights']")
    expect(weights).to_contain_text("Differs", timeout=60_000)
    ratio = float(re.search(r"×([0-9.]+)", weights.inner_text()).group(1))
    assert ratio > 1.5, weights.inner_text()  # the loss spike from losing Adam's moments
    # The chart overlays the weights-only resume, the full resume and the reference.
    chart = sim.locator("svg.chart").first
    expect(chart.locator("polyline.series-6")).to_have_count(1)
    expect(chart.locator("polyline.series-3")).to_have_count(1)
    expect(chart.locator("polyline.dashed")).to_have_count(1)
    expect(chart.locator(".marker-crash")).to_have_count(1)


def test_bad_setting_shows_message_next_to_the_field(page):
    page.goto(CHAPTER)
    page.locator("#cs-epochs").fill("100000")
    page.locator("#cs-start").click()
    expect(page.locator("#cs-epochs-error")).to_be_visible()
    expect(page.locator("#cs-epochs")).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".cs-empty")).to_be_visible()  # nothing was started


def test_two_tabs_share_runs_and_another_learner_sees_none(page, browser, live_server):
    start_run(page, epochs="6", every="2", pace="0")
    row = page.locator("tr[data-kind='train']")
    expect(row).to_have_attribute("data-status", "done", timeout=30_000)
    run_id = row.get_attribute("data-run-id")
    second_tab = page.context.new_page()
    second_tab.goto(CHAPTER)
    expect(second_tab.locator(f"tr[data-run-id='{run_id}']")).to_be_visible()
    other = browser.new_context(base_url=live_server.url)
    try:
        stranger = other.new_page()
        stranger.goto(CHAPTER)
        expect(stranger.locator(".cs-empty")).to_be_visible()
        assert stranger.locator(f"[data-run-id='{run_id}']").count() == 0
        response = stranger.request.get(f"/api/checkpoint-simulator/runs/{run_id}")
        assert response.status == 404
    finally:
        other.close()


def test_a_run_can_be_started_and_crashed_from_the_keyboard(page):
    page.goto(CHAPTER)
    page.locator("#cs-pace_ms").fill("150")
    page.locator("#cs-start").focus()
    page.keyboard.press("Enter")
    crash = page.locator("#checkpoint-simulator button.danger")
    expect(crash).to_be_visible(timeout=30_000)
    crash.focus()
    expect(crash).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("tr[data-kind='train']")).to_have_attribute("data-status", "crashed", timeout=10_000)
    expect(page.locator("#cs-announce")).to_contain_text("crashed")

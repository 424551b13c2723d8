"""Switching language keeps the reader at the same section of the chapter, on a laptop and a phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.lab_pages import DEVICES, chapter_page

pytestmark = pytest.mark.browser
HEADINGS = "article.chapter > h2[id], article.chapter > h3[id]"


def switch(page) -> None:
    # A reader's scroll has settled before they reach for the switch: the page's scroll events
    # arrive a frame after a scroll, and the switch keeps the place they last reported.
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    # From the keyboard: a pointer click makes Playwright scroll the sticky header's link into
    # view first, which moves the page under the reader before the switch reads where they are.
    link = page.locator("a.lang-switch")
    link.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_load_state("networkidle")


def in_view(page, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    height = page.viewport_size["height"]
    return bool(box) and 0 <= box["y"] <= height * 0.5


@pytest.mark.parametrize("device", list(DEVICES))
def test_switching_language_keeps_the_section(browser, live_server, device):
    with chapter_page(browser, live_server, "zh", device) as page:
        page.wait_for_load_state("networkidle")
        headings = page.locator(HEADINGS)
        count = headings.count()
        assert count >= 10
        headings.nth(10).evaluate("e => e.scrollIntoView()")
        switch(page)
        assert page.url.split("#")[0].endswith("/en/06-model-io-checkpoint")
        en = page.locator(HEADINGS)
        assert en.count() == count  # the twin chapter has the same sections
        target_id = en.nth(10).get_attribute("id")
        assert page.url.endswith("#" + target_id)
        assert in_view(page, f"[id='{target_id}']"), page.url
        # From a component, back to Chinese: the same component is in view.
        page.locator("#loading-clinic").evaluate("e => e.scrollIntoView()")
        switch(page)
        assert page.url.endswith("/zh/06-model-io-checkpoint#loading-clinic")
        expect(page.locator("#loading-clinic")).to_be_visible()
        assert in_view(page, "#loading-clinic")
        # At the top of the page, the switch goes to the top of the other page.
        page.evaluate("window.scrollTo(0, 0)")
        switch(page)
        assert "#" not in page.url and page.evaluate("window.scrollY") < 10

"""The chapter's contents follow the reader: the section in view is marked, on a phone too, where the
contents stay one tap away and also switch chapter; wide tables scroll inside their box."""

import pytest
from playwright.sync_api import Page, expect

from tests.axe import describe, serious_violations

pytestmark = pytest.mark.browser

CHAPTER = "/en/06-model-io-checkpoint"


def _jump_to(page: Page, anchor: str) -> None:
    """Scroll the way a reader does with the keyboard or a scroll bar: one jump, no link clicked."""
    page.evaluate(
        "id => { const y = document.getElementById(id).getBoundingClientRect().top + window.scrollY;"
        " window.scrollTo(0, y - 80); }",
        anchor,
    )


def _anchor_of(page: Page, n: int) -> str:
    href = page.locator(".toc nav a").nth(n).get_attribute("href")
    assert href and href.startswith("#")
    return href[1:]


def test_the_section_in_view_is_marked_after_a_jump(page: Page) -> None:
    page.goto(CHAPTER)
    links = page.locator(".toc nav a")
    last = links.count() - 2  # the last section may be too short to reach the top
    _jump_to(page, _anchor_of(page, last))
    expect(links.nth(last)).to_have_attribute("aria-current", "location")
    expect(links.first).not_to_have_attribute("aria-current", "location")
    _jump_to(page, _anchor_of(page, 3))
    expect(links.nth(3)).to_have_attribute("aria-current", "location")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_on_a_phone_the_contents_stay_in_reach_and_switch_chapter(page: Page, lang: str) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/{lang}/06-model-io-checkpoint")
    links = page.locator(".toc nav a")
    target = _anchor_of(page, 5)
    _jump_to(page, target)
    summary = page.locator(".toc-details > summary")
    # Far down the page the folded contents are still on screen and name the section in view.
    expect(summary).to_be_in_viewport()
    expect(page.locator(".toc-current")).to_have_text((links.nth(5).text_content() or "").strip())
    summary.click()
    chapters = page.locator(".toc-chapters a")
    expect(chapters.first).to_be_visible()
    assert chapters.count() >= 2
    expect(page.locator(".toc-chapters a[aria-current='page']")).to_have_count(1)
    # A section chosen from the open contents closes them again, so the page is readable.
    links.nth(2).click()
    expect(page.locator(".toc-details")).not_to_have_attribute("open", "")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    violations = serious_violations(page)
    assert not violations, describe(violations)
    chapters_href = chapters.nth(1).get_attribute("href")
    summary.click()
    chapters.nth(1).click()
    expect(page).to_have_url(f"{page.url.split('/' + lang + '/')[0]}{chapters_href}")


def test_keys_in_a_table_stay_whole_on_a_phone(page: Page) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(CHAPTER)
    cells = page.locator("main table td code")
    assert cells.count() > 0
    for i in range(min(cells.count(), 20)):
        box = cells.nth(i).bounding_box()
        line = cells.nth(i).evaluate("e => parseFloat(getComputedStyle(e).lineHeight) || 20")
        assert box is not None and box["height"] < 2 * line, cells.nth(i).inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_without_javascript_the_open_contents_stay_in_the_pages_flow_on_a_phone(browser, live_server) -> None:
    """Nothing folds the contents without a script: they must not sit over the lesson as one reads."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, base_url=live_server.url, java_script_enabled=False
    )
    try:
        page = context.new_page()
        page.goto(CHAPTER)
        toc = page.locator(".toc")
        expect(page.locator(".toc-details")).to_have_attribute("open", "")
        page.locator("#checkpoint-simulator").scroll_into_view_if_needed()
        expect(toc).not_to_be_in_viewport()
        expect(page.locator("#checkpoint-simulator")).to_be_in_viewport()
    finally:
        context.close()

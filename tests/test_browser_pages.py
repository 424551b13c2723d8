"""The lesson pages in Debian's Chromium: TOC, copy buttons, language switch, keyboard, phone width.

The `page` fixture fails a test on any console error, page error or request to another host."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect


def wait_true(page, expression: str, timeout_ms: int = 10_000) -> None:
    """Poll a JS expression with page.evaluate: wait_for_function evaluates a string predicate with
    eval() inside the page, which the app's Content-Security-Policy (script-src 'self') refuses."""
    for _ in range(timeout_ms // 50):
        if page.evaluate(expression):
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"never true: {expression}")


pytestmark = pytest.mark.browser

ZH = "/zh/06-model-io-checkpoint"
EN = "/en/06-model-io-checkpoint"


def test_chapter_renders(page):
    page.goto(ZH)
    expect(page.locator("h1")).to_have_text("第 6 章：模型 IO 与 Checkpoint")
    toc_links = page.locator(".toc a[href^='#']")
    expect(toc_links.first).to_be_visible()
    assert toc_links.count() >= 10
    blocks = page.locator(".code-block")
    assert blocks.count() >= 5
    # app.js gives every code block a copy button, labelled in the page's language.
    expect(page.locator(".code-block .copy-button")).to_have_count(blocks.count())
    expect(page.locator(".code-block .copy-button").first).to_have_text("复制")
    assert page.locator(".code-block pre code span[class]").count() > 50  # Pygments colours
    expect(page.locator("article > blockquote.callout").first).to_be_visible()
    expect(page.locator("#checkpoint-simulator")).to_have_count(1)
    # htmx came from the app and is running.
    assert page.evaluate("typeof window.htmx === 'object' && typeof htmx.version === 'string'")


def test_toc_link_scrolls_and_marks_the_heading(page):
    page.goto(ZH)
    link = page.locator(".toc a[href^='#63-']")
    target = link.get_attribute("href")[1:]
    heading = page.locator(f"[id='{target}']")
    expect(link).not_to_have_class(re.compile(r"\bactive\b"))
    link.click()
    expect(page).to_have_url(re.compile(r"#"))
    # The heading is brought to the top of the window ...
    page.wait_for_function(
        """id => { const r = document.getElementById(id).getBoundingClientRect();
                   return r.top >= 0 && r.top < window.innerHeight * 0.35; }""",
        arg=target,
    )
    expect(heading).to_be_in_viewport()
    # ... and the TOC follows: exactly that link is marked.
    expect(link).to_have_class(re.compile(r"\bactive\b"))
    expect(link).to_have_attribute("aria-current", "location")
    expect(page.locator(".toc a.active")).to_have_count(1)

    # The last section cannot scroll to the top of the window: it is still the one marked.
    last = page.locator(".toc nav a").last
    last.click()
    expect(last).to_have_class(re.compile(r"\bactive\b"))
    expect(page.locator(".toc a.active")).to_have_count(1)
    expect(page.locator(f"[id='{last.get_attribute('href')[1:]}']")).to_be_in_viewport()


def test_toc_follows_the_readers_own_scrolling(page):
    page.goto(EN)
    first = page.locator(".toc a").first
    expect(first).to_have_class(re.compile(r"\bactive\b"))  # at the top: the first section
    link = page.locator(".toc a[href^='#63-']")
    link.click()
    expect(link).to_have_class(re.compile(r"\bactive\b"))
    page.mouse.move(640, 450)
    page.mouse.wheel(0, 2500)
    wait_true(
        page,
        "window.scrollY > 0"
        " && !document.querySelector(\".toc a[href^='#63-']\").classList.contains('active')",
    )
    expect(page.locator(".toc a.active")).to_have_count(1)
    expect(link).not_to_have_attribute("aria-current", "location")


def test_deep_link_marks_its_heading(page):
    page.goto(ZH)
    href = page.locator(".toc a[href^='#64-']").get_attribute("href")
    page.goto(ZH + href)
    expect(page.locator(f".toc a[href='{href}']")).to_have_class(re.compile(r"\bactive\b"))
    expect(page.locator(".toc a.active")).to_have_count(1)


def test_language_switch_sticks(page):
    page.goto(ZH)
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")  # the visit remembered Chinese

    page.goto(ZH)
    page.locator("a.lang-switch").click()
    expect(page).to_have_url(re.compile(re.escape(EN) + "$"))
    expect(page.locator("h1")).to_have_text("Chapter 6: Model IO and Checkpoints")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator(".code-block .copy-button").first).to_have_text("Copy")

    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator(f".chapter-list a[href='{EN}']")).to_be_visible()

    page.locator("a.lang-switch").click()  # and back again from the index
    expect(page).to_have_url(re.compile(r"/zh/$"))
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")


def test_copy_button_copies(page, live_server):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.goto(EN)
    block = page.locator(".code-block").first
    button = block.locator(".copy-button")
    button.click()
    expect(button).to_have_text("Copied")
    expected = block.locator("code").inner_text()
    assert "import torch" in expected
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.strip() == expected.strip()
    expect(button).to_have_text("Copy", timeout=5000)  # and the label comes back


def test_copy_button_works_from_the_keyboard(page, live_server):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.goto(ZH)
    button = page.locator(".code-block .copy-button").nth(1)
    button.focus()
    expect(button).to_be_focused()
    page.keyboard.press("Enter")
    expect(button).to_have_text("已复制")


def test_skip_link_is_first_and_moves_focus(page):
    page.goto(ZH)
    page.keyboard.press("Tab")
    skip = page.locator("a.skip-link[href='#main']")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()  # visible when focused, hidden otherwise
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()
    # The next Tab continues inside the lesson, not back at the header.
    page.keyboard.press("Tab")
    assert page.evaluate("document.getElementById('main').contains(document.activeElement)")


def test_tab_order_reaches_the_controls(page):
    page.goto(EN)
    seen = []
    for _ in range(12):
        page.keyboard.press("Tab")
        seen.append(
            page.evaluate(
                "document.activeElement.className + '|' + (document.activeElement.getAttribute('href') || '')"
            )
        )
    assert seen[0].startswith("skip-link")
    assert any(s.startswith("brand") for s in seen)
    assert any(s.startswith("lang-switch") for s in seen)
    assert any("|#" in s for s in seen)  # the TOC links come after the header


def test_dark_mode_follows_the_system(page):
    page.emulate_media(color_scheme="light")
    page.goto(EN)
    background = "getComputedStyle(document.body).backgroundColor"
    light = page.evaluate(background)
    page.emulate_media(color_scheme="dark")
    wait_true(page, f"{background} !== {light!r}")
    dark = page.evaluate(background)

    def lum(colour: str) -> int:
        return sum(int(x) for x in re.findall(r"\d+", colour)[:3])

    assert lum(dark) < lum(light)


# (A 404 page is checked in test_pages.py: the browser logs its status as a console error.)
@pytest.mark.parametrize("path", [ZH, EN, "/", "/en/"])
def test_phone_width_has_no_horizontal_scroll(page, path):
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(path)
    page.wait_for_load_state("load")
    expect(page.locator("h1")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375 + 1, width

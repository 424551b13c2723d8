"""Without JavaScript the inspector's form still answers: a file over UPLOAD_MAX_MB gets a whole
page saying so (and what the script would have done), in zh and en, on a laptop and a phone,
light and dark, axe-core clean. Screenshots go to INSPECTOR_SHOTS (default: the tmp folder)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.lab_pages import CHAPTER, DEVICES, widest
from tests.test_inspector_browser import inspector_violations
from tests.test_inspector_header_browser import big_file, small_limit_server  # noqa: F401  # fixtures

pytestmark = pytest.mark.browser

WORDS = {
    "zh": ("1 MiB 的上传上限", "返回课程"),
    "en": ("larger than the 1 MiB upload limit", "Back to the lesson"),
}


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(
    "device,dark", [("desktop", False), ("desktop", True), ("phone", False), ("phone", True)]
)
def test_a_too_big_file_without_javascript_gets_a_clear_page(
    browser,
    small_limit_server,  # noqa: F811
    big_file,  # noqa: F811
    tmp_path,
    lang,
    device,
    dark,
):
    shots = Path(os.environ.get("INSPECTOR_SHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(
        viewport=DEVICES[device], base_url=small_limit_server.url, java_script_enabled=False
    )
    try:
        page = context.new_page()
        if dark:
            page.emulate_media(color_scheme="dark")
        page.goto(CHAPTER.format(lang=lang))
        expect(page.locator("#checkpoint-inspector noscript")).to_be_attached()
        page.locator("#ci-file").set_input_files(str(big_file))
        with page.expect_navigation(timeout=60_000):
            # From the keyboard: without JavaScript the chapter's contents stay open over the
            # form on a phone (app.js folds them), and a click would land on them.
            page.locator("#ci-submit").press("Enter")
        limit, back = WORDS[lang]
        expect(page.locator("#ci-result .ci-message")).to_contain_text(limit)
        expect(page.locator("#checkpoint-inspector a", has_text=back)).to_have_attribute(
            "href", f"{CHAPTER.format(lang=lang)}#checkpoint-inspector"
        )
        page.screenshot(path=str(shots / f"inspector-nojs-{device}-{lang}-{'dark' if dark else 'light'}.png"))
        html = page.content()
    finally:
        context.close()
    # axe-core runs as a script: the same page, in a context with JavaScript, at the same origin.
    context = browser.new_context(viewport=DEVICES[device], base_url=small_limit_server.url)
    try:
        page = context.new_page()
        if dark:
            page.emulate_media(color_scheme="dark")
        page.goto(CHAPTER.format(lang=lang))
        page.set_content(html)
        expect(page.locator("#ci-result .ci-message")).to_contain_text(limit)
        assert inspector_violations(page) == []
        if device == "phone":
            w = widest(page)
            assert w["scrollWidth"] <= w["viewport"] + 1 and not w["wide"], w
    finally:
        context.close()

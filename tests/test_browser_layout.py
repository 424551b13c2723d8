"""Layout on a phone: the table of contents folds away so the chapter starts on the first screen."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_toc_is_folded_on_a_phone_and_opens_on_demand(page):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/zh/06-model-io-checkpoint")
    toc = page.locator(".toc-details")
    expect(toc).not_to_have_attribute("open", "")
    assert page.locator("h1").bounding_box()["y"] < 300
    page.locator(".toc-details > summary").click()
    expect(toc).to_have_attribute("open", "")
    expect(page.locator(".toc nav a").first).to_be_visible()


def test_toc_is_open_on_a_laptop(page):
    page.goto("/en/06-model-io-checkpoint")
    expect(page.locator(".toc-details")).to_have_attribute("open", "")
    expect(page.locator(".toc nav a").first).to_be_visible()

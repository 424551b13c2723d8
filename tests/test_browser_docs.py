"""/docs works offline: Swagger UI comes from a pinned package served by the app."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_api_docs_render_without_leaving_the_app(page):
    page.goto("/docs")
    # One section per tag: chapters, the simulator, transfer learning, ...
    expect(page.locator(".opblock-tag").first).to_be_visible(timeout=20_000)
    tags = page.locator(".opblock-tag").all_inner_texts()
    assert any("checkpoint simulator" in t.lower() for t in tags), tags
    assert any("transfer" in t.lower() for t in tags), tags

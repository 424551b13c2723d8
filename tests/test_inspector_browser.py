"""The resume audit in a real browser: a learner uploads a Lightning checkpoint and reads the
verdict, the findings and their links, on a laptop and a phone, zh and en, light and dark, with
no serious or critical axe-core violation in the inspector and nothing wider than the phone.

Screenshots of the inspector go to INSPECTOR_SHOTS (default: the test's tmp folder) to be looked at.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from playwright.sync_api import expect

from tests.axe import _inject
from tests.conftest import Server
from tests.lab_pages import chapter_page, widest
from tests.ml.test_inspector_audit import lightning_ckpt

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def inspector_server(tmp_path_factory):
    """The inspector needs no pretrained models: a server with none starts in seconds."""
    root = tmp_path_factory.mktemp("insp")
    (root / "pre").mkdir()
    srv = Server(
        root / "data", env={"PRETRAINED_DIR": str(root / "pre"), "TRANSFER_PREWARM": "false"}
    ).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def lightning_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ck") / "epoch=2-step=40.ckpt"
    torch.save(lightning_ckpt(), path)
    return path


def inspector_violations(page) -> list[dict]:
    _inject(page)
    return page.evaluate(
        """async () => {
            const r = await axe.run({include: [['#checkpoint-inspector']]}, {resultTypes: ['violations']});
            return r.violations.filter(v => ['serious', 'critical'].includes(v.impact))
                .map(v => ({id: v.id, help: v.help, nodes: v.nodes.map(n => n.target)}));
        }"""
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(
    "device,dark", [("desktop", False), ("desktop", True), ("phone", False), ("phone", True)]
)
def test_the_audit_reads_on_every_screen(
    browser, inspector_server, lightning_file, tmp_path, lang, device, dark
):
    shots = Path(os.environ.get("INSPECTOR_SHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    with chapter_page(browser, inspector_server, lang, device, dark) as page:
        before = widest(page)["scrollWidth"]
        page.locator("#ci-file").set_input_files(str(lightning_file))
        page.locator("#ci-submit").click()
        audit = page.locator("#ci-result .ci-audit")
        expect(audit).to_have_attribute("data-verdict", "not_bitwise", timeout=60_000)
        expect(audit).to_have_attribute("data-kind", "lightning")
        first = audit.locator(".ci-findings li").first
        expect(first).to_have_attribute("data-code", "no_rng")
        # Its chapter link leads to a heading that exists on the served page.
        href = first.locator("a.ci-link").first.get_attribute("href")
        assert href and "#" in href
        page.goto(href)
        expect(page.locator(f"[id='{href.split('#', 1)[1]}']")).to_be_attached()
        page.go_back()
        expect(page.locator("#ci-recent li")).to_have_count(1, timeout=30_000)
        page.locator("#ci-recent button").first.click()
        expect(page.locator("#ci-result .ci-audit")).to_be_visible(timeout=30_000)
        page.locator("#ci-result .ci-cond summary").click()
        page.locator("#ci-result .ci-pieces-box summary").click()
        box = page.locator("#checkpoint-inspector")
        box.scroll_into_view_if_needed()
        name = f"inspector-{device}-{lang}-{'dark' if dark else 'light'}.png"
        # A full-page shot clipped to the report: the sticky header stays at the page's top.
        page.evaluate("window.scrollTo(0, 0)")
        bb = page.locator("#ci-result .ci-report").bounding_box()
        y = page.evaluate("window.scrollY")
        clip = {
            "x": 0,
            "y": bb["y"] + y,
            "width": page.viewport_size["width"],
            "height": min(bb["height"], 2400),
        }
        page.screenshot(path=str(shots / name), full_page=True, clip=clip)
        assert inspector_violations(page) == []
        if device == "phone":
            w = widest(page)  # the report makes the page no wider than it was
            assert w["scrollWidth"] <= max(before, w["viewport"] + 1) and not w["wide"], w

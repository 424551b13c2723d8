"""A checkpoint above UPLOAD_MAX_MB in a real browser: the learner picks it, the page says only
its header will be read, sends only its head and tail, and shows the header-only report with its
resume audit, on a laptop and a phone, zh and en, light and dark, axe-core clean.

Screenshots go to INSPECTOR_SHOTS (default: the test's tmp folder) to be looked at."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from app.components.checkpoint_inspector.upload import HEAD_MAX_BYTES, TAIL_MAX_BYTES
from tests.conftest import Server
from tests.lab_pages import chapter_page, widest
from tests.test_inspector_browser import inspector_violations
from tests.test_inspector_header_upload import training_checkpoint

pytestmark = pytest.mark.browser

WORDS = {
    "zh": ("只读取文件头", "只读取了文件头：浏览器只发送了这个"),
    "en": (
        "only its first 8 MiB and its last 1 MiB are sent",
        "Read from its header only: your browser sent",
    ),
}


@pytest.fixture(scope="module")
def small_limit_server(tmp_path_factory):
    """UPLOAD_MAX_MB=1: the checkpoint made here (~24 MB) is far above it."""
    root = tmp_path_factory.mktemp("insp-hdr")
    (root / "pre").mkdir()
    env = {"PRETRAINED_DIR": str(root / "pre"), "TRANSFER_PREWARM": "false", "UPLOAD_MAX_MB": "1"}
    srv = Server(root / "data", env=env).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def big_file(tmp_path_factory) -> Path:
    return training_checkpoint(tmp_path_factory.mktemp("ck") / "run-epoch3.pt")


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(
    "device,dark", [("desktop", False), ("desktop", True), ("phone", False), ("phone", True)]
)
def test_a_big_file_is_read_from_its_header(
    browser, small_limit_server, big_file, tmp_path, lang, device, dark
):
    shots = Path(os.environ.get("INSPECTOR_SHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    with chapter_page(browser, small_limit_server, lang, device, dark) as page:
        before = widest(page)["scrollWidth"]
        uploads = []
        page.on("request", lambda r: uploads.append(r) if r.url.split("?")[0].endswith("/upload") else None)
        page.locator("#ci-file").set_input_files(str(big_file))
        pick, report = WORDS[lang]
        expect(page.locator("#ci-big")).to_contain_text(pick)
        page.locator("#ci-submit").click()
        note = page.locator("#ci-result .ci-head-tail")
        expect(note).to_contain_text(report, timeout=60_000)
        expect(note).to_have_attribute("data-head", str(HEAD_MAX_BYTES))
        expect(note).to_have_attribute("data-tail", str(TAIL_MAX_BYTES))
        audit = page.locator("#ci-result .ci-audit")
        expect(audit).to_have_attribute("data-verdict", "exact")
        expect(page.locator("#ci-result .ci-leaf[data-path='model.0.weight'] .ci-shape")).to_have_text(
            "1000×1000"
        )
        # The browser sent the head and tail, not the 24 MB file (the server would refuse it whole).
        length = int(uploads[0].all_headers().get("content-length", "0"))
        assert 0 < length < HEAD_MAX_BYTES + TAIL_MAX_BYTES + 64 * 1024 < big_file.stat().st_size, length
        name = f"inspector-header-{device}-{lang}-{'dark' if dark else 'light'}.png"
        page.evaluate("window.scrollTo(0, 0)")
        bb = page.locator("#checkpoint-inspector").bounding_box()
        y = page.evaluate("window.scrollY")
        clip = {
            "x": 0,
            "y": bb["y"] + y,
            "width": page.viewport_size["width"],
            "height": min(bb["height"], 1600),
        }
        page.screenshot(path=str(shots / name), full_page=True, clip=clip)
        assert inspector_violations(page) == []
        if device == "phone":
            w = widest(page)
            assert w["scrollWidth"] <= max(before, w["viewport"] + 1) and not w["wide"], w

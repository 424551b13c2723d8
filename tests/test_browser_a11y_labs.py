"""axe-core on both chapter pages after a learner has used the transfer visualizer and the labs:
no serious or critical violation, in light and dark mode, on a laptop and on a phone."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import torch
from playwright.sync_api import expect

from tests.axe import describe, serious_violations
from tests.lab_pages import chapter_page, small_text, widest

pytestmark = pytest.mark.browser
VIEWS = [("desktop", False), ("desktop", True), ("phone", False)]


def use_the_labs(page) -> None:
    """What a learner does with these components: every view axe then checks is a used one."""
    sd = page.locator("#state-dict-explorer")
    expect(sd.locator(".sd-view")).to_have_attribute("data-model", "linear", timeout=60_000)
    with page.expect_response(lambda r: "/state-dict-explorer/explore" in r.url):
        sd.locator("input[name='model'][value='cnn_bn']").check()
    sd.locator("#sd-ref-run").click()
    expect(sd.locator(".sd-ref")).to_be_visible(timeout=60_000)

    lab = page.locator("#save-load-lab")
    expect(lab.locator(".sl-refactor")).to_have_attribute("data-refactor", "none", timeout=60_000)
    lab.locator("input[name='refactor'][value='rename_class']").check()
    expect(lab.locator(".sl-refactor")).to_have_attribute("data-refactor", "rename_class", timeout=60_000)

    tl = page.locator("#transfer-visualizer")
    expect(tl.locator(".tl-item[data-key='fc.weight']")).to_be_attached(timeout=60_000)
    with page.expect_response(lambda r: "/transfer-visualizer/diagram" in r.url):
        page.select_option("#tl-variant", "dataparallel_prefix")
    tl.locator("[data-predict='yes']").click()
    tl.locator("#tl-apply-fix").click()
    expect(tl.locator(".tl-compare")).to_be_visible()
    tl.locator(".tl-item[data-key='fc.weight'] .tl-rowbtn").click()
    expect(tl.locator(".tl-item[data-key='fc.weight'] .tl-tensor-view")).to_be_visible()

    page.locator("#cl-case-size_mismatch").click()
    case = page.locator("#cl-result .cl-case")
    expect(case).to_have_attribute("data-case", "size_mismatch", timeout=60_000)
    case.locator("#cl-fix-strict_false").check()
    case.locator("#cl-try").click()
    expect(case.locator(".cl-result")).to_have_attribute("data-fixed", "false", timeout=60_000)

    # A learner's own file, inspected in the sandbox: its report with the key tree.
    path = Path(tempfile.mkdtemp()) / "mine.pt"
    torch.save({"epoch": 3, "model": torch.nn.Linear(3, 2).state_dict()}, path)
    page.locator("#ci-file").set_input_files(str(path))
    page.locator("#ci-submit").click()
    expect(page.locator("#ci-result .ci-report")).to_have_attribute("data-safe", "true", timeout=60_000)


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("device,dark", VIEWS, ids=["desktop-light", "desktop-dark", "phone-light"])
def test_no_serious_accessibility_violations_after_using_the_labs(browser, live_server, lang, device, dark):
    with chapter_page(browser, live_server, lang, device, dark=dark) as page:
        use_the_labs(page)
        violations = serious_violations(page)
        assert not violations, describe(violations)


def test_axe_finds_what_it_should(browser, live_server):
    """The check itself: a field without a label and a nameless button planted in the page are found."""
    with chapter_page(browser, live_server, "en") as page:
        page.evaluate("""() => {
            const box = document.createElement('div');
            box.id = 'planted';
            box.innerHTML = '<input type="text"><button></button>';
            document.querySelector('main').appendChild(box);
        }""")
        found = {v["id"]: v for v in serious_violations(page)}
        assert {"label", "button-name"} <= set(found), describe(list(found.values()))
        assert any("#planted" in " ".join(n["target"]) for n in found["button-name"]["nodes"])
        assert not serious_violations(page, exclude=["#planted"])


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_on_a_phone_nothing_is_wider_than_the_screen_and_text_stays_readable(browser, live_server, lang):
    with chapter_page(browser, live_server, lang, "phone") as page:
        use_the_labs(page)
        size = widest(page)
        assert size["scrollWidth"] <= size["viewport"] and not size["wide"], size
        components = ["#transfer-visualizer", "#loading-clinic", "#state-dict-explorer", "#save-load-lab"]
        small = small_text(page, components)
        assert not any(small.values()), small
        # Every action of these components is reachable without scrolling sideways.
        for button in page.locator(", ".join(f"{c} button:visible" for c in components)).all():
            box = button.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= size["viewport"], (
                button.text_content()
            )

"""The chapter-6 labs in Debian's Chromium."""

from __future__ import annotations

import pytest
import torch
from playwright.sync_api import expect

from tests.lab_pages import DEVICES, chapter_page, widest

pytestmark = pytest.mark.browser


def test_upload_a_checkpoint_and_see_its_tree(page, tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "my_model.pt"
    torch.save(
        {"epoch": 7, "model": torch.nn.Linear(3, 2).state_dict(), "<script>alert(1)</script>": torch.ones(2)},
        path,
    )
    page.goto("/en/06-model-io-checkpoint")
    page.locator("#ci-file").set_input_files(str(path))
    page.locator("#ci-submit").click()
    report = page.locator("#ci-result .ci-report")
    expect(report).to_have_attribute("data-safe", "true", timeout=60_000)
    expect(report.locator("tr[data-path='model.weight']")).to_contain_text("2×3")
    expect(report.locator("tr[data-path='<script>alert(1)</script>']")).to_contain_text(
        "<script>alert(1)</script>"
    )
    expect(page.locator("#ci-recent button[data-report]")).to_have_count(1)
    # The key tree folds by module prefix; the node says how many keys and bytes it holds.
    node = report.locator("details.ci-node[data-prefix='model']")
    expect(node.locator("> summary")).to_contain_text("2 keys · 2 tensors · 32 B")
    expect(report.locator("tr[data-path='model.weight']")).to_be_visible()
    node.locator("> summary").click()
    expect(report.locator("tr[data-path='model.weight']")).to_be_hidden()
    # One safety verdict, and one resume verdict above it (the audit's headline).
    expect(report.locator(".verdict:not(.ci-headline)")).to_have_count(1)
    expect(report.locator(".ci-audit .ci-headline")).to_have_count(1)


CLINIC_WORDS = {
    "zh": {"why": "为什么", "solved": "已解决", "explored": "已探索"},
    "en": {"why": "Why", "solved": "solved", "explored": "explored"},
}


@pytest.mark.parametrize("lang,device", [(lang, device) for lang in ("zh", "en") for device in DEVICES])
def test_a_clinic_case_is_solved_only_when_the_first_fix_chosen_is_right(browser, live_server, lang, device):
    with chapter_page(browser, live_server, lang, device) as page:
        clinic = page.locator("#loading-clinic")
        button = page.locator("#cl-case-size_mismatch")
        button.focus()
        page.keyboard.press("Enter")
        case = page.locator("#cl-result .cl-case")
        expect(case).to_have_attribute("data-case", "size_mismatch", timeout=60_000)
        expect(button).to_have_attribute("aria-current", "true")
        expect(case.locator(".cl-error")).to_contain_text("size mismatch for fc.weight")
        # The learner's guess — strict=False — runs for real and fails with torch's own error.
        case.locator("#cl-fix-strict_false").check()
        case.locator("#cl-try").click()
        result = case.locator("#cl-attempt .cl-result")
        expect(result).to_have_attribute("data-fix", "strict_false", timeout=60_000)
        expect(result).to_have_attribute("data-fixed", "false")
        expect(result.locator(".cl-try-error")).to_contain_text(
            "RuntimeError: Error(s) in loading state_dict for OldNet"
        )
        expect(result.locator(".cl-why")).to_contain_text(CLINIC_WORDS[lang]["why"])
        expect(button.locator(".cl-mark")).to_have_count(2)
        for mark in button.locator(".cl-mark").all():
            expect(mark).to_be_hidden()
        # The right one fixes it, with the evidence; after a wrong first choice the case list says
        # "explored", not "solved" (and remembers it, in this browser).
        case.locator("#cl-fix-shape_filter").check()
        case.locator("#cl-try").click()
        expect(result).to_have_attribute("data-fixed", "true", timeout=60_000)
        expect(result.locator("tr[data-proof='head_fits_3_classes']")).to_have_attribute("data-holds", "true")
        expect(button.locator(".cl-mark[data-mark='explored']")).to_be_visible()
        expect(button.locator(".cl-mark[data-mark='explored']")).to_have_text(
            f" · {CLINIC_WORDS[lang]['explored']}"
        )
        expect(button.locator(".cl-mark[data-mark='solved']")).to_be_hidden()
        size = widest(page)
        assert size["scrollWidth"] <= size["viewport"] and not size["wide"], size
        page.reload()
        expect(page.locator("#cl-case-size_mismatch .cl-mark[data-mark='explored']")).to_be_visible()
        for mark in page.locator("#cl-case-renamed_layer .cl-mark").all():
            expect(mark).to_be_hidden()
        # The right fix chosen first: solved.
        renamed = page.locator("#cl-case-renamed_layer")
        renamed.click()
        expect(case).to_have_attribute("data-case", "renamed_layer", timeout=60_000)
        case.locator("#cl-fix-rename_keys").check()
        case.locator("#cl-try").click()
        expect(result).to_have_attribute("data-fixed", "true", timeout=60_000)
        solved = renamed.locator(".cl-mark[data-mark='solved']")
        expect(solved).to_be_visible()
        expect(solved).to_have_text(f" · ✓ {CLINIC_WORDS[lang]['solved']}")
        expect(renamed.locator(".cl-mark[data-mark='explored']")).to_be_hidden()
        # A later wrong try does not take the solve back.
        case.locator("#cl-fix-strict_false").check()
        case.locator("#cl-try").click()
        expect(result).to_have_attribute("data-fix", "strict_false", timeout=60_000)
        expect(solved).to_be_visible()
        expect(clinic).to_be_visible()


@pytest.mark.parametrize("lang,device", [("zh", "phone"), ("en", "desktop")])
def test_a_chapter_7_clinic_case_allowlisting_one_name_meets_the_next(browser, live_server, lang, device):
    with chapter_page(browser, live_server, lang, device) as page:
        button = page.locator("#cl-case-numpy_weights_only")
        button.click()
        case = page.locator("#cl-result .cl-case")
        expect(case).to_have_attribute("data-case", "numpy_weights_only", timeout=60_000)
        expect(case.locator(".cl-error")).to_contain_text("GLOBAL numpy._core.multiarray._reconstruct")
        case.locator("#cl-fix-allow_reconstruct").check()
        case.locator("#cl-try").click()
        result = case.locator("#cl-attempt .cl-result")
        expect(result).to_have_attribute("data-fix", "allow_reconstruct", timeout=60_000)
        expect(result.locator(".cl-try-error")).to_contain_text("GLOBAL numpy.ndarray")
        case.locator("#cl-fix-plain_types").check()
        case.locator("#cl-try").click()
        expect(result).to_have_attribute("data-fixed", "true", timeout=60_000)
        expect(result.locator("tr[data-proof='file_loads_with_weights_only']")).to_have_attribute(
            "data-holds", "true"
        )
        expect(button.locator(".cl-mark[data-mark='explored']")).to_be_visible()
        size = widest(page)
        assert size["scrollWidth"] <= size["viewport"] and not size["wide"], size


def test_pick_a_refactor_and_see_the_attribute_error(page):
    page.goto("/zh/06-model-io-checkpoint")
    lab = page.locator("#save-load-lab")
    expect(lab.locator("#sl-save .sl-files tr[data-file='whole_model.pt']")).to_be_visible(timeout=60_000)
    expect(lab.locator(".sl-refactor")).to_have_attribute("data-refactor", "none", timeout=60_000)
    lab.locator("input[name='refactor'][value='rename_class']").check()
    expect(lab.locator(".sl-refactor")).to_have_attribute("data-refactor", "rename_class", timeout=60_000)
    whole = lab.locator(".sl-attempt[data-label='whole model, weights_only=False']")
    expect(whole).to_have_attribute("data-error-type", "AttributeError")
    expect(whole.locator(".torch-error")).to_contain_text("AttributeError")
    expect(lab.locator(".sl-attempt[data-label='state_dict']")).to_have_attribute("data-ok", "true")


def test_state_dict_explorer_in_the_page(page):
    page.goto("/en/06-model-io-checkpoint")
    sd = page.locator("#state-dict-explorer")
    expect(sd.locator(".sd-view")).to_have_attribute("data-model", "linear", timeout=60_000)
    sd.locator("input[name='model'][value='cnn_bn']").check()
    expect(sd.locator("tr[data-key='features.1.running_mean']")).to_have_attribute("data-kind", "buffer")
    sd.locator("#sd-ref-run").click()
    expect(sd.locator(".sd-ref")).to_have_attribute("data-alias-changed", "true")

"""The chapter-6 labs in Debian's Chromium."""
from __future__ import annotations

import pytest
import torch
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_upload_a_checkpoint_and_see_its_tree(page, tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "my_model.pt"
    torch.save({"epoch": 7, "model": torch.nn.Linear(3, 2).state_dict(), "<script>alert(1)</script>": torch.ones(2)}, path)
    page.goto("/en/06-model-io-checkpoint")
    page.locator("#ci-file").set_input_files(str(path))
    page.locator("#ci-submit").click()
    report = page.locator("#ci-result .ci-report")
    expect(report).to_have_attribute("data-safe", "true", timeout=60_000)
    expect(report.locator("tr[data-path='model.weight']")).to_contain_text("2×3")
    expect(report.locator("tr[data-path='<script>alert(1)</script>']")).to_contain_text("<script>alert(1)</script>")
    expect(page.locator("#ci-recent button[data-report]")).to_have_count(1)
    # The key tree folds by module prefix; the node says how many keys and bytes it holds.
    node = report.locator("details.ci-node[data-prefix='model']")
    expect(node.locator("> summary")).to_contain_text("2 keys · 2 tensors · 32 B")
    expect(report.locator("tr[data-path='model.weight']")).to_be_visible()
    node.locator("> summary").click()
    expect(report.locator("tr[data-path='model.weight']")).to_be_hidden()
    expect(report.locator(".verdict")).to_have_count(1)


def test_a_clinic_case_shows_the_real_error_and_the_fix(page):
    page.goto("/en/06-model-io-checkpoint")
    button = page.locator("#cl-case-cuda_checkpoint")
    button.focus()
    page.keyboard.press("Enter")
    case = page.locator("#cl-result .cl-case")
    expect(case).to_have_attribute("data-fixed", "true", timeout=60_000)
    expect(case.locator(".cl-error")).to_contain_text("Attempting to deserialize object on a CUDA device")
    expect(case.locator(".cl-fix")).to_contain_text('map_location="cpu"')
    page.locator("#cl-case-dataparallel_prefix").click()
    expect(page.locator("#cl-result .cl-case")).to_have_attribute("data-case", "dataparallel_prefix")
    expect(page.locator("#cl-result .cl-fix")).to_contain_text("consume_prefix_in_state_dict_if_present")


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

"""The TransferLearningVisualizer in Debian's Chromium."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_class_count_strategy_tensor_and_finetune(page):
    page.goto("/en/06-model-io-checkpoint")
    tl = page.locator("#transfer-visualizer")
    head = tl.locator("button.tl-row[data-key='fc.weight']")
    expect(head).to_have_attribute("data-status", "filtered", timeout=60_000)
    expect(head).to_contain_text("10×64")

    page.locator("#tl-classes").fill("3")
    page.locator("#tl-classes").dispatch_event("change")
    expect(tl.locator("button.tl-row[data-key='fc.weight']")).to_contain_text("3×64")

    tl.locator("input[name='strategy'][value='strict']").check()
    expect(tl.locator("#tl-error")).to_contain_text("size mismatch for fc.weight")
    tl.locator("input[name='strategy'][value='non_strict']").check()
    expect(tl.locator("#tl-error")).to_contain_text("size mismatch for fc.weight")  # strict=False raises too

    tl.locator("input[name='strategy'][value='shape_filter']").check()
    expect(tl.locator(".tl-outcome")).to_have_attribute("data-ok", "true")
    tl.locator("button.tl-row[data-key='layer1.conv1.weight']").click()
    expect(page.locator("#tl-tensor [data-equals-source]")).to_have_attribute("data-equals-source", "true")
    tl.locator("button.tl-row[data-key='fc.weight']").click()
    expect(page.locator("#tl-tensor .tl-tensor-view")).to_have_attribute("data-key", "fc.weight")
    expect(page.locator("#tl-tensor [data-equals-source]")).to_have_attribute("data-equals-source", "false")

    page.locator("#tl-epochs").fill("6")
    page.locator("#tl-start-ft").click()
    finetune = page.locator("#tl-finetune")
    expect(finetune).to_have_attribute("data-status", "done", timeout=180_000)
    chart = finetune.locator("svg.chart").first
    expect(chart.locator("polyline")).to_have_count(2)  # transferred and from scratch
    expect(finetune.locator(".tl-results tbody tr")).to_have_count(3)
    expect(finetune.locator(".tl-verdict")).to_be_visible()


def test_keyboard_reaches_a_tensor(page):
    page.goto("/zh/06-model-io-checkpoint")
    row = page.locator("#transfer-visualizer button.tl-row[data-key='conv1.weight']")
    expect(row).to_be_visible(timeout=60_000)
    row.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#tl-tensor .tl-tensor-view")).to_have_attribute("data-key", "conv1.weight")

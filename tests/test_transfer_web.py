"""The TransferLearningVisualizer over HTTP: real loads of a really pretrained source."""

from __future__ import annotations

import re
import time

import pytest

API = "/api/transfer"


@pytest.fixture(scope="module")
def tl_client(tmp_path_factory, pretrained_dir):
    """One app whose source models are pretrained once for the whole module (as at a first start)."""
    from fastapi.testclient import TestClient

    from app.main import create_app
    from app.settings import Settings
    from tests.conftest import REPO

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("tl") / "data",
        tutorials_dir=REPO / "tutorials",
        secret_key="t",
        pretrained_dir=pretrained_dir,
    )
    with TestClient(create_app(settings)) as client:
        client.get("/api/session")  # fine-tuning runs need an established session
        yield client


def test_first_start_pretrains_in_the_background(tmp_path):
    from fastapi.testclient import TestClient

    from app.main import create_app
    from app.settings import Settings
    from tests.conftest import REPO

    settings = Settings(data_dir=tmp_path / "data", tutorials_dir=REPO / "tutorials", secret_key="t")
    with TestClient(create_app(settings)) as client:
        assert "Pretraining the source models" in client.get("/en/06-model-io-checkpoint").text
        sources = client.get(f"{API}/options").json()["sources"]
        assert all(s["pretraining"]["status"] in ("queued", "running") for s in sources.values())
        assert client.get(f"{API}/inspect").status_code == 503
        # Pretraining is queued ahead of learners' runs, and its progress is reported.
        deadline = time.monotonic() + 120
        while not (state := client.get(f"{API}/options").json()["sources"]["resnet_mini"]["pretraining"])[
            "epoch"
        ]:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert state["status"] == "running" and state["total"] >= state["epoch"] >= 1
        # Pretraining holds one worker slot: a learner's run does not wait for it.
        run = client.post("/api/checkpoint-simulator/runs", json={"epochs": 6, "pace_ms": 0}).json()
        while (
            status := client.get(f"/api/checkpoint-simulator/runs/{run['id']}").json()["status"]
        ) == "queued":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert status in ("running", "done")
        assert client.get(f"{API}/options").json()["sources"]["convnet_mini"]["pretraining"] is not None


def inspect(client, **params):
    r = client.get(f"{API}/inspect", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_shape_filter_transfers_the_backbone_and_filters_the_head(tl_client):
    view = inspect(
        tl_client, source="resnet_mini", variant="same_arch", num_classes=5, strategy="shape_filter"
    )
    assert view["ok"] and view["error"] is None
    status = {r["key"]: r["status"] for r in view["rows"]}
    assert status["fc.weight"] == status["fc.bias"] == "filtered"
    assert all(s == "transferred" for k, s in status.items() if not k.startswith("fc."))
    assert view["totals"]["filtered"]["parameters"] == 5 * 64 + 5
    # The copy is proved on the tensor itself.
    conv = tl_client.get(
        f"{API}/tensor",
        params={"key": "conv1.weight", "source": "resnet_mini", "variant": "same_arch", "num_classes": 5},
    ).json()
    assert conv["after_equals_source"] is True and conv["first"]["after"] == conv["first"]["source"]
    head = tl_client.get(
        f"{API}/tensor",
        params={"key": "fc.weight", "source": "resnet_mini", "variant": "same_arch", "num_classes": 5},
    ).json()
    assert head["after_equals_source"] is False and head["after_equals_before"] is True


def test_strict_false_still_raises_on_a_size_mismatch(tl_client):
    view = inspect(tl_client, variant="same_arch", num_classes=3, strategy="non_strict")
    assert not view["ok"]
    assert (
        view["error"]["type"] == "RuntimeError" and "size mismatch for fc.weight" in view["error"]["message"]
    )


def test_renamed_head_and_prefix_variants(tl_client):
    strict = inspect(tl_client, variant="renamed_head", strategy="strict")
    assert not strict["ok"] and "Missing key(s)" in strict["error"]["message"]
    loose = inspect(tl_client, variant="renamed_head", strategy="non_strict")
    assert loose["ok"] and set(loose["missing_keys"]) == {"head.weight", "head.bias"}
    assert set(loose["unexpected_keys"]) == {"fc.weight", "fc.bias"}
    prefixed = inspect(tl_client, variant="dataparallel_prefix", strategy="shape_filter")
    assert prefixed["totals"]["transferred"]["tensors"] == 0  # the filter alone finds nothing
    stripped = inspect(tl_client, variant="dataparallel_prefix", strategy="strip_prefix")
    assert stripped["totals"]["transferred"]["tensors"] > 40


def test_the_typed_answers_are_the_load_views_own_dicts(tl_client):
    """LoadView and TensorPreview describe the computed view key by key: the answers equal the
    cached view (a new tensor's preview has no `source` side at all, not a null one)."""
    import json

    from app.components.transfer_visualizer.schemas import TransferQuery
    from app.components.transfer_visualizer.service import pretrained_path

    app = tl_client.app
    query = TransferQuery(variant="renamed_head", strategy="non_strict")
    view = inspect(tl_client, **query.model_dump())
    mtime = pretrained_path(app.state.jobs, query.source).stat().st_mtime_ns
    made = json.loads(json.dumps(app.state.transfer_cache.peek((*query.key(), mtime))))
    previews = made.pop("previews")
    assert view == made
    for key in ("conv1.weight", "head.weight", "fc.weight"):  # transferred, new, unused
        r = tl_client.get(f"{API}/tensor", params={"key": key, **query.model_dump()})
        assert r.status_code == 200 and r.json() == previews[key], key
    assert "source" not in previews["head.weight"]["first"]


def test_class_count_changes_the_head_and_bad_input_is_422(tl_client):
    a = inspect(tl_client, num_classes=2)
    b = inspect(tl_client, num_classes=9)
    shape = lambda v: next(r["target_shape"] for r in v["rows"] if r["key"] == "fc.weight")  # noqa: E731
    assert shape(a) == [2, 64] and shape(b) == [9, 64]
    for params in (
        {"num_classes": 11},
        {"num_classes": "x"},
        {"source": "vgg"},
        {"variant": "nope"},
        {"strategy": "yolo"},
    ):
        assert tl_client.get(f"{API}/inspect", params=params).status_code == 422
    r = tl_client.get("/components/transfer-visualizer/diagram", params={"num_classes": 99, "lang": "en"})
    assert r.status_code == 200 and "notice-bad" in r.text


def test_finetune_transfer_beats_scratch(tl_client):
    r = tl_client.post(f"{API}/finetune", json={"num_classes": 5, "shots": 10, "epochs": 12, "seed": 0})
    assert r.status_code == 201, r.text
    run_id = r.json()["id"]
    deadline = time.monotonic() + 300
    while (state := tl_client.get(f"{API}/finetune/{run_id}").json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert state["status"] == "done", state["error"]
    assert len(state["results"]) == 3
    assert len(state["curves"]["transfer"]) == len(state["curves"]["scratch"]) == 12
    assert state["mean_margin"] > 0.15
    # Another learner cannot see it.
    cookies = dict(tl_client.cookies)
    tl_client.cookies.clear()
    assert tl_client.get(f"{API}/finetune/{run_id}").status_code == 404
    tl_client.cookies.update(cookies)


def test_every_load_view_is_answered_in_the_background(tmp_path, pretrained_dir):
    from fastapi.testclient import TestClient

    from app.main import create_app
    from app.settings import Settings
    from tests.conftest import REPO

    settings = Settings(
        data_dir=tmp_path / "data",
        tutorials_dir=REPO / "tutorials",
        secret_key="t",
        pretrained_dir=pretrained_dir,
        transfer_prewarm=True,
    )
    app = create_app(settings)
    with TestClient(app) as client:
        deadline = time.monotonic() + 600
        while not client.get(f"{API}/options").json()["all_views_ready"]:
            assert time.monotonic() < deadline
            time.sleep(0.5)
        # The answers are torch's real ones.
        view = inspect(
            client, source="convnet_mini", variant="wider_block", num_classes=7, strategy="non_strict"
        )
        assert not view["ok"] and "size mismatch" in view["error"]["message"]


DIAGRAM = "/components/transfer-visualizer/diagram"


def _groups(html: str) -> list[tuple[str, str, bool]]:
    return [
        (fate, module, bool(is_open))
        for fate, module, is_open in re.findall(
            r'<details class="tl-group[^"]*" data-fate="(\w+)" data-module="([\w.]+)"( open)?', html
        )
    ]


def test_diagram_tells_the_head_first_and_folds_the_transferred_backbone(tl_client):
    html = tl_client.get(DIAGRAM, params={"lang": "en", "num_classes": 5, "ask": "1"}).text
    groups = _groups(html)
    assert groups[0] == ("filtered", "fc", True)
    assert all(fate == "transferred" and not is_open for fate, _, is_open in groups[1:])
    assert [m for _, m, _ in groups[1:]] == ["conv1", "bn1", "layer1", "layer2", "layer3"]
    # Asked before it is shown: the outcome is in the page, hidden behind the prediction.
    assert 'class="tl-predict"' in html and 'class="tl-result"' in html and 'tl-result" role="region"' in html
    assert "Right. PyTorch raised nothing and transferred 54 of the target's 56 tensors." in html.replace(
        "&#39;", "'"
    )
    # The page's own first diagram is not behind a question; a fix applied is shown at once.
    page = tl_client.get("/en/06-model-io-checkpoint").text
    assert 'class="tl-predict"' not in page
    shown = tl_client.get(
        DIAGRAM, params={"lang": "en", "strategy": "strict", "compare": "shape_filter", "ask": "0"}
    ).text
    assert 'class="tl-predict"' not in shown and 'tl-compare"' in shown
    assert 'class="tl-predict"' in tl_client.get(DIAGRAM, params={"lang": "en", "num_classes": 4}).text


def test_prefix_case_draws_the_correspondence_and_the_fix_shows_what_changed(tl_client):
    html = tl_client.get(
        DIAGRAM, params={"lang": "en", "variant": "dataparallel_prefix", "strategy": "strict"}
    ).text
    assert "56 of the checkpoint&#39;s 56 keys are exactly a key of the model once module. is removed" in html
    assert '<span class="tl-prefix">module.</span><wbr>conv1.<wbr>weight' in html
    assert "strategy=strip_prefix" in html and "compare=strict&ask=0" in html
    assert _groups(html)[0] == ("prefix_shape", "fc", True)
    fixed = tl_client.get(
        DIAGRAM,
        params={
            "lang": "zh",
            "variant": "dataparallel_prefix",
            "strategy": "strip_prefix",
            "compare": "strict",
        },
    ).text
    # The table of statuses before and after comes from both real loads.
    assert 'data-status="transferred"' in fixed and 'data-after="54"' in fixed
    assert "从「strict=True」换成「去掉 module. 前缀 + 形状过滤」之后" in fixed
    # The form's strategy follows the fix (an out-of-band swap of its radio buttons).
    assert 'id="tl-strategy" hx-swap-oob="true"' in fixed and 'value="strip_prefix" checked' in fixed
    assert _groups(fixed)[0] == ("filtered", "fc", True)


def test_a_load_that_raises_nothing_and_loads_nothing_is_a_warning_not_a_success(tl_client):
    """strict=False on a DataParallel checkpoint raises nothing and transfers nothing: the API says
    so (outcome), and the page shows a warning, never a green tick."""
    nothing = inspect(tl_client, variant="dataparallel_prefix", strategy="non_strict")
    assert nothing["ok"] and nothing["outcome"] == "loaded_nothing"
    assert nothing["totals"]["transferred"]["tensors"] == 0
    kept_none = inspect(tl_client, variant="dataparallel_prefix", strategy="shape_filter")
    assert kept_none["ok"] and kept_none["outcome"] == "loaded_nothing"
    assert inspect(tl_client, variant="dataparallel_prefix", strategy="strip_prefix")["outcome"] == "loaded"
    assert inspect(tl_client, variant="dataparallel_prefix", strategy="strict")["outcome"] == "raised"
    targets = sum(1 for r in nothing["rows"] if r["target_shape"] is not None)
    for lang, words in (("zh", "什么也没加载"), ("en", "Loaded nothing")):
        params = {"lang": lang, "variant": "dataparallel_prefix", "strategy": "non_strict", "ask": "0"}
        html = tl_client.get(DIAGRAM, params=params).text
        found = re.search(r'<div class="tl-outcome[^"]*"[^>]*>.*?</div>', html, re.S)
        assert found, html
        outcome = found.group(0)
        assert "notice-warn" in outcome and 'data-outcome="loaded_nothing"' in outcome
        assert words in outcome and f" {targets} " in outcome and "✓" not in outcome
    loaded = tl_client.get(DIAGRAM, params={"lang": "en", "strategy": "shape_filter", "ask": "0"}).text
    assert 'data-outcome="loaded"' in loaded and "✓ Loaded without an exception" in loaded


def test_validation_messages_speak_the_page_language(tl_client):
    zh = tl_client.get(DIAGRAM, params={"lang": "zh", "num_classes": 99}).text
    assert "目标类别数：不能大于 10" in zh and "less than" not in zh
    en = tl_client.get(DIAGRAM, params={"lang": "en", "num_classes": "x", "source": "vgg"}).text
    assert "Target classes: a whole number is needed" in en and "Source model: one of" in en
    r = tl_client.post(
        "/components/transfer-visualizer/finetune?lang=zh",
        data={"epochs": 99},
        headers={"HX-Request": "true"},
    )
    assert "Epoch 数：不能大于 40" in r.text


def test_the_story_is_in_the_json_api_too(tl_client):
    groups = tl_client.get(f"{API}/groups", params={"variant": "dataparallel_prefix"}).json()
    assert groups[0]["fate"] == "prefix_shape" and groups[0]["keys"] == ["fc.weight", "fc.bias"]
    assert sum(g["tensors"] for g in groups) == 56 and all(g["folded"] for g in groups[1:])
    diff = tl_client.get(
        f"{API}/compare",
        params={"variant": "dataparallel_prefix", "strategy": "strip_prefix", "against": "shape_filter"},
    ).json()
    assert (
        diff["totals"]["transferred"] == [0, 54]
        and diff["totals"]["unused"] == [56, 0]
        and diff["totals"]["filtered"] == [0, 2]
    )
    assert tl_client.get(f"{API}/compare", params={"against": "nope"}).status_code == 422
    assert "/api/transfer/compare" in tl_client.get("/openapi.json").json()["paths"]


def test_a_frozen_backbone_run_says_what_still_changes(tl_client):
    r = tl_client.post(
        "/components/transfer-visualizer/finetune?lang=zh",
        headers={"HX-Request": "true"},
        data={"num_classes": 2, "shots": 3, "epochs": 2, "seed": 0, "freeze_backbone": "on"},
    )
    run_id = r.text.split("/components/transfer-visualizer/finetune/")[1].split("?")[0]
    deadline = time.monotonic() + 300
    while (state := tl_client.get(f"{API}/finetune/{run_id}").json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    frozen = state["frozen"]
    assert frozen["params_max_change"] == 0.0 and frozen["bn_stats_max_change"] == 0.0
    assert frozen["train_mode_bn_stats_max_change"] > 0 and frozen["train_mode_batches_tracked"] == 1
    html = tl_client.get(f"/components/transfer-visualizer/finetune/{run_id}?lang=zh").text
    assert "“冻结”到底冻结了什么" in html and "running 统计量就变了最多" in html
    assert f"{frozen['train_mode_bn_stats_max_change']:.3g}" in html


def test_groups_that_differ_say_what_to_do(tl_client):
    html = tl_client.get(
        DIAGRAM, params={"lang": "en", "variant": "renamed_head", "strategy": "non_strict"}
    ).text
    assert _groups(html)[:2] == [("new", "head", True), ("unused", "fc", True)]
    assert html.count("rename the keys before loading") == 2
    zh = tl_client.get(
        "/components/transfer-visualizer/tensor", params={"lang": "zh", "key": "fc.weight", "num_classes": 5}
    ).text
    assert "key 相同、形状不同：没有复制，仍是随机初始化" in zh

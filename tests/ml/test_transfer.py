"""Transfer-learning engine: real load_state_dict behaviour, honest reports, and that transfer pays."""

from __future__ import annotations

import io
import json

import pytest
import torch

from app.ml.backbones import SOURCES, VARIANTS, build_target, present_source
from app.ml.finetune import compare, finetune, pretrain
from app.ml.transfer import STATUSES, load_with_strategy, shape_filter, tensor_preview
from app.ml.vision import target_task

HEADS = {
    "resnet_mini": ("fc.weight", "fc.bias"),
    "convnet_mini": ("classifier.1.weight", "classifier.1.bias"),
}
RENAMED = {"resnet_mini": ("head.weight", "head.bias"), "convnet_mini": ("head.1.weight", "head.1.bias")}
LAST_BLOCK = {"resnet_mini": "layer3.", "convnet_mini": "features.8."}


@pytest.fixture(scope="module")
def pretrained():
    """Both sources, pretrained at reduced size (a few seconds each) once for this module."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the job workers; restored for the rest of the session
    out = {}
    for name in SOURCES:
        sd, metrics = pretrain(name, seed=0, epochs=3, train_per_class=80)
        out[name] = (sd, metrics)
    yield out
    torch.set_num_threads(threads)


def fresh(source, variant, num_classes=5, seed=7):
    return build_target(source, variant, num_classes, seed=seed).state_dict()


def test_pretrain_returns_plain_state_dict_that_round_trips(pretrained):
    for name, (sd, metrics) in pretrained.items():
        assert all(isinstance(v, torch.Tensor) for v in sd.values())
        assert metrics["epochs"] == 3 and metrics["seconds"] > 0
        assert metrics["source_test_acc"] > 0.6, (name, metrics["source_test_acc"])
        buf = io.BytesIO()
        torch.save(sd, buf)
        buf.seek(0)
        loaded = torch.load(buf, weights_only=True)
        assert loaded.keys() == sd.keys()
        assert all(torch.equal(loaded[k], sd[k]) for k in sd)
        json.dumps(metrics)


def test_build_target_is_seeded_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a, b, c = (
        fresh("resnet_mini", "same_arch"),
        fresh("resnet_mini", "same_arch"),
        fresh("resnet_mini", "same_arch", seed=8),
    )
    assert torch.equal(torch.rand(3), expected)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["conv1.weight"], c["conv1.weight"])


@pytest.mark.parametrize("source", list(SOURCES))
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_shape_filter_keeps_exactly_the_matching_keys(pretrained, source, variant):
    src = present_source(pretrained[source][0], variant)
    dst = fresh(source, variant)
    kept = shape_filter(src, dst)
    expected = {k for k in src if k in dst and src[k].shape == dst[k].shape}
    assert set(kept) == expected
    if variant == "same_arch":
        assert set(src) - set(kept) == set(HEADS[source])
    if variant == "dataparallel_prefix":
        assert kept == {}


@pytest.mark.parametrize("source", list(SOURCES))
def test_shape_filter_copies_backbone_and_leaves_head_at_its_seeded_init(pretrained, source):
    src = pretrained[source][0]
    model = build_target(source, "same_arch", 5, seed=7)
    report = load_with_strategy(model, src, "shape_filter")
    init, after = fresh(source, "same_arch", seed=7), model.state_dict()

    assert report.ok and report.error_type is None
    assert report.missing_keys == [] and report.unexpected_keys == []
    assert set(report.keys_with("filtered")) == set(HEADS[source])
    assert report.keys_with("new") == [] and report.keys_with("unused") == []
    assert len(report.keys_with("transferred")) == len(src) - 2
    for row in report.rows:
        if row.status == "transferred":
            assert torch.equal(after[row.key], src[row.key])
        else:
            assert torch.equal(after[row.key], init[row.key])
            assert not row.changed
    buffers = [r for r in report.rows if r.is_buffer]
    assert buffers and all(r.status == "transferred" for r in buffers)
    assert any(r.key.endswith("running_var") for r in buffers)
    totals = report.totals
    assert sum(totals[s]["tensors"] for s in STATUSES) == len(report.rows)
    assert totals["filtered"]["parameters"] == sum(after[k].numel() for k in HEADS[source])
    assert totals["transferred"]["buffers"] > 0
    json.dumps(report.to_dict())


@pytest.mark.parametrize("source", list(SOURCES))
def test_non_strict_still_raises_on_size_mismatch(pretrained, source):
    src = pretrained[source][0]
    model = build_target(source, "same_arch", 5, seed=7)
    with pytest.raises(RuntimeError, match="size mismatch for " + HEADS[source][0]):
        model.load_state_dict(src, strict=False)

    model = build_target(source, "same_arch", 5, seed=7)
    report = load_with_strategy(model, src, "non_strict")
    assert not report.ok and report.error_type == "RuntimeError"
    assert "size mismatch" in report.error_message
    assert report.missing_keys is None  # nothing was returned: it raised
    # torch copies what fits before raising: the "failed" model holds the pretrained backbone.
    assert set(report.keys_with("filtered")) == set(HEADS[source])
    after = model.state_dict()
    for key in report.keys_with("transferred"):
        assert torch.equal(after[key], src[key])
    assert len(report.keys_with("transferred")) == len(src) - 2


@pytest.mark.parametrize("source", list(SOURCES))
def test_renamed_head_strict_raises_and_non_strict_returns_the_keys(pretrained, source):
    src = pretrained[source][0]
    report = load_with_strategy(build_target(source, "renamed_head", 5, seed=7), src, "strict")
    assert not report.ok and report.error_type == "RuntimeError"
    assert "Missing key(s)" in report.error_message and "Unexpected key(s)" in report.error_message
    assert all(k in report.error_message for k in RENAMED[source] + HEADS[source])

    model = build_target(source, "renamed_head", 5, seed=7)
    report = load_with_strategy(model, src, "non_strict")
    assert report.ok
    assert report.missing_keys == list(RENAMED[source])
    assert report.unexpected_keys == list(HEADS[source])
    assert set(report.keys_with("new")) == set(RENAMED[source])
    assert set(report.keys_with("unused")) == set(HEADS[source])
    assert len(report.keys_with("transferred")) == len(src) - 2
    init = fresh(source, "renamed_head", seed=7)
    for key in RENAMED[source]:
        assert torch.equal(model.state_dict()[key], init[key])


@pytest.mark.parametrize("source", list(SOURCES))
def test_dataparallel_prefix_needs_stripping(pretrained, source):
    plain = pretrained[source][0]
    src = present_source(plain, "dataparallel_prefix")
    assert all(k.startswith("module.") for k in src)

    # The shape filter alone "succeeds" and loads nothing: the silent failure of this lesson.
    report = load_with_strategy(build_target(source, "dataparallel_prefix", 5, seed=7), src, "shape_filter")
    assert report.ok and report.keys_with("transferred") == []
    assert len(report.keys_with("new")) == len(plain) and len(report.keys_with("unused")) == len(src)

    report = load_with_strategy(build_target(source, "dataparallel_prefix", 5, seed=7), src, "strict")
    assert not report.ok and "Missing key(s)" in report.error_message
    assert report.keys_with("transferred") == []

    model = build_target(source, "dataparallel_prefix", 5, seed=7)
    report = load_with_strategy(model, src, "strip_prefix")
    assert report.ok
    backbone = [k for k in plain if k not in HEADS[source]]
    assert sorted(report.keys_with("transferred")) == sorted(backbone)
    assert set(report.keys_with("filtered")) == set(HEADS[source])
    assert report.row(backbone[0]).source_key == "module." + backbone[0]
    assert all(torch.equal(model.state_dict()[k], plain[k]) for k in backbone)
    assert all(k.startswith("module.") for k in src)  # the caller's checkpoint is untouched


@pytest.mark.parametrize("source", list(SOURCES))
def test_wider_block_filters_inside_the_backbone(pretrained, source):
    src = pretrained[source][0]
    model = build_target(source, "wider_block", 5, seed=7)
    report = load_with_strategy(model, src, "shape_filter")
    filtered = report.keys_with("filtered")
    assert report.ok
    assert any(k.startswith(LAST_BLOCK[source]) for k in filtered)
    assert set(HEADS[source]) <= set(filtered)
    assert len(filtered) > 2
    assert report.keys_with("transferred")
    init = fresh(source, "wider_block", seed=7)
    for key in filtered:
        assert torch.equal(model.state_dict()[key], init[key])

    with pytest.raises(RuntimeError, match="size mismatch for " + LAST_BLOCK[source]):
        build_target(source, "wider_block", 5, seed=7).load_state_dict(src, strict=False)


def test_tensor_preview_proves_the_copy(pretrained):
    src = pretrained["resnet_mini"][0]
    report = load_with_strategy(build_target("resnet_mini", "same_arch", 5, seed=7), src, "shape_filter")
    copied = report.preview("layer1.conv1.weight")
    assert copied["after_equals_source"] and not copied["after_equals_before"]
    assert copied["first"]["after"] == src["layer1.conv1.weight"].flatten()[:8].tolist()
    hist = copied["histogram"]
    assert len(hist["edges"]) == 13
    assert sum(hist["before"]) == sum(hist["after"]) == copied["numel"]
    assert hist["after"] == hist["source"]

    head = report.preview("fc.weight")
    assert not head["after_equals_source"] and head["after_equals_before"]
    assert head["changed_fraction"] == 0.0
    counter = report.preview("bn1.num_batches_tracked")
    assert counter["after_equals_source"] and counter["shape"] == []
    json.dumps([copied, head, counter, report.preview("layer1.bn1.running_mean")])

    direct = tensor_preview(torch.zeros(4), torch.ones(4), None)
    assert not direct["after_equals_source"] and direct["changed_fraction"] == 1.0


def test_target_task_is_seeded_and_few_shot():
    a, b = target_task(4, shots=6, seed=3), target_task(4, shots=6, seed=3)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert a.x_train.shape == (24, 1, 16, 16)
    assert torch.bincount(a.y_train).tolist() == [6] * 4
    # Changing the number of shots keeps the held-out set, so runs are comparable.
    assert torch.equal(target_task(4, shots=12, seed=3).x_test, a.x_test)
    with pytest.raises(ValueError):
        target_task(11)


def test_frozen_backbone_only_moves_the_head(pretrained):
    src = pretrained["resnet_mini"][0]
    model = build_target("resnet_mini", "same_arch", 3, seed=1)
    load_with_strategy(model, src, "shape_filter")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = finetune(model, target_task(3, shots=5, seed=1), epochs=2, seed=1, freeze_backbone=True)
    after = model.state_dict()
    assert all(torch.equal(after[k], before[k]) for k in before if not k.startswith("fc."))
    assert not torch.equal(after["fc.weight"], before["fc.weight"])
    assert result["trainable_parameters"] == after["fc.weight"].numel() + after["fc.bias"].numel()
    assert len(result["history"]) == 2
    # What froze, measured: nothing in the backbone moved, because its BatchNorm ran in eval mode;
    # requires_grad=False alone (train mode) would have moved the running statistics.
    frozen = result["frozen"]
    assert frozen["params_max_change"] == 0.0 and frozen["bn_stats_max_change"] == 0.0
    assert frozen["bn_layers"] == sum(k.endswith("num_batches_tracked") for k in before)
    assert frozen["train_mode_params_max_change"] == 0.0
    assert frozen["train_mode_bn_stats_max_change"] > 1e-3
    assert frozen["train_mode_batches_tracked"] == -(-15 // 16)
    # The probe ran on a copy: the model itself is untouched by it.
    assert all(torch.equal(after[k], before[k]) for k in before if "num_batches_tracked" in k)


def test_frozen_measurements_reach_the_epoch_callback(pretrained):
    model = build_target("resnet_mini", "same_arch", 2, seed=0)
    load_with_strategy(model, pretrained["resnet_mini"][0], "shape_filter")
    rows = []
    finetune(
        model, target_task(2, shots=3, seed=0), epochs=2, seed=0, freeze_backbone=True, on_epoch=rows.append
    )
    assert [r["epoch"] for r in rows] == [1, 2] and all(r["frozen"]["params_max_change"] == 0.0 for r in rows)
    rows.clear()
    finetune(model, target_task(2, shots=3, seed=0), epochs=1, seed=0, on_epoch=rows.append)
    assert "frozen" not in rows[0]


def test_transfer_beats_scratch_across_seeds(pretrained):
    src = pretrained["resnet_mini"][0]
    margins = []
    for seed in range(3):
        rows = []
        result = compare(
            "resnet_mini", src, num_classes=5, shots=10, epochs=15, seed=seed, on_epoch=rows.append
        )
        assert {r["run"] for r in rows} == {"transfer", "scratch"} and len(rows) == 30
        assert result["load"]["ok"]
        margins.append(result["margin"])
        assert result["margin"] >= 0.15, (
            seed,
            result["transfer"]["final_test_acc"],
            result["scratch"]["final_test_acc"],
        )
        json.dumps(result)
    assert sum(margins) / len(margins) >= 0.25

"""The transfer diagram's story, computed from a load view without torch: grouping and order."""

from __future__ import annotations

from app.components.transfer_visualizer import story, tell


def row(key, status, source_key=None, src=(4,), dst=(4,)):
    return {
        "key": key,
        "source_key": source_key if source_key is not None else (key if src else None),
        "source_shape": list(src) if src else None,
        "target_shape": list(dst) if dst else None,
        "status": status,
        "numel": 4,
        "is_buffer": False,
    }


def test_what_differs_comes_first_and_open_and_the_rest_folds_by_module():
    rows = [
        row("conv1.weight", "transferred"),
        row("layer1.a.weight", "transferred"),
        row("layer1.b.weight", "transferred"),
        row("fc.weight", "filtered", src=(24, 4), dst=(5, 4)),
        row("fc.bias", "filtered", src=(24,), dst=(5,)),
    ]
    groups = story.groups(rows)
    assert [(g["fate"], g["module"], g["tensors"], g["folded"]) for g in groups] == [
        ("filtered", "fc", 2, False),
        ("transferred", "conv1", 1, True),
        ("transferred", "layer1", 2, True),
    ]


def test_module_prefix_rows_are_paired_with_their_model_keys():
    rows = [
        row("conv1.weight", "new", source_key="", src=None),
        row("fc.weight", "new", source_key="", src=None, dst=(5, 4)),
        row("module.conv1.weight", "unused", source_key="module.conv1.weight", dst=None),
        row("module.fc.weight", "unused", source_key="module.fc.weight", src=(24, 4), dst=None),
    ]
    for r in rows[:2]:
        r["source_key"] = None
    assert story.prefix_pairs(rows) == {
        "module.conv1.weight": "conv1.weight",
        "module.fc.weight": "fc.weight",
    }
    groups = story.groups(rows)
    # The head differs in shape as well: open, on top; the rest differs only by the prefix: folded.
    assert [(g["fate"], g["module"], g["folded"]) for g in groups] == [
        ("prefix_shape", "fc", False),
        ("prefix", "conv1", True),
    ]
    assert groups[0]["rows"][0]["source_key"] == "module.fc.weight"


def test_compare_counts_statuses_before_and_after():
    before = {
        "strategy": "shape_filter",
        "ok": True,
        "rows": [row("a", "new"), row("b", "new")],
        "totals": {
            s: {"tensors": n}
            for s, n in {"transferred": 0, "filtered": 0, "not_loaded": 0, "new": 2, "unused": 2}.items()
        },
    }
    after = {
        "strategy": "strip_prefix",
        "ok": True,
        "rows": [row("a", "transferred"), row("b", "transferred")],
        "totals": {
            s: {"tensors": n}
            for s, n in {"transferred": 2, "filtered": 0, "not_loaded": 0, "new": 0, "unused": 0}.items()
        },
    }
    diff = story.compare(before, after)
    assert diff["totals"]["transferred"] == [0, 2] and diff["totals"]["new"] == [2, 0]
    assert diff["changed_keys"] == ["a", "b"]


def test_keys_wrap_only_at_dots_and_the_prefix_is_marked():
    html = str(tell.key_html("module.layer1.conv1.weight", prefix=True))
    assert html == '<span class="tl-prefix">module.</span><wbr>layer1.<wbr>conv1.<wbr>weight'
    assert str(tell.key_html("a<b>.c")) == "a&lt;b&gt;.<wbr>c"

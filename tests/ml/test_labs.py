"""Chapter 6 labs: each function's real PyTorch behaviour, and the inspector's safety on hostile files."""

from __future__ import annotations

import builtins
import json
import pickle
import pickletools
import shutil
import struct
import zipfile
from concurrent.futures import ProcessPoolExecutor

import pytest
import torch
from torch import nn

from app.ml.labs import clinic, ptfile, saveload, statedict
from app.ml.labs.inspector import inspect_file

from . import lab_workers, workers


def plain_json(obj) -> dict:
    """The web layer renders what json can carry: round-trip strictly (no NaN, no objects)."""
    return json.loads(json.dumps(obj, allow_nan=False))


@pytest.fixture(scope="module")
def fresh():
    """Fresh child processes (one per task) forked from a server that has torch imported."""
    with ProcessPoolExecutor(max_workers=2, mp_context=workers.forkserver(), max_tasks_per_child=1) as ex:
        yield ex


# ------------------------------------------------------------------ 6.1 state_dict


def test_explore_lesson_model():
    r = plain_json(statedict.explore("linear"))
    assert [(e["key"], e["shape"], e["kind"], e["module"], e["module_type"]) for e in r["entries"]] == [
        ("fc.weight", [2, 10], "parameter", "fc", "Linear"),
        ("fc.bias", [2], "parameter", "fc", "Linear"),
    ]
    assert r["totals"] == {"parameters": 22, "buffers": 0, "bytes": 88, "entries": 2}
    assert "self.fc = nn.Linear(10, 2)" in r["code"]
    assert r["stateless_modules"] == []


def test_explore_cnn_separates_parameters_buffers_and_stateless_modules():
    r = plain_json(statedict.explore("cnn_bn"))
    model = statedict.SmallCNN()
    kinds = {e["key"]: e["kind"] for e in r["entries"]}
    assert list(kinds) == list(model.state_dict())
    assert kinds["features.1.running_mean"] == kinds["features.1.num_batches_tracked"] == "buffer"
    assert kinds["features.1.weight"] == "parameter"
    nbt = next(e for e in r["entries"] if e["key"] == "features.1.num_batches_tracked")
    assert (nbt["dtype"], nbt["shape"], nbt["bytes"], nbt["module_type"]) == ("int64", [], 8, "BatchNorm2d")
    assert {m["type"] for m in r["stateless_modules"]} == {
        "ReLU",
        "MaxPool2d",
        "AdaptiveAvgPool2d",
        "Flatten",
        "Dropout",
    }
    assert r["totals"]["parameters"] == sum(p.numel() for p in model.parameters())
    assert r["totals"]["buffers"] == sum(b.numel() for b in model.buffers())
    assert r["totals"]["entries"] == len(model.state_dict())


def test_explore_every_model_and_unknown_name():
    for name in statedict.MODELS:
        assert plain_json(statedict.explore(name))["ok"]
    assert statedict.explore("nope")["ok"] is False


def test_state_dict_returns_references_not_copies():
    r = plain_json(statedict.reference_demo())
    assert r["alias_changed"] is True and r["copy_changed"] is False
    assert r["alias_is_live"] is True and r["alias_shares_memory"] is True
    assert r["copy"] == r["alias_before"] != r["alias_after"] == r["live_after"]
    assert "best = model.state_dict()" in r["code"] and "copy.deepcopy" in r["code"]


# ------------------------------------------------------------------ 6.2 save/load after a refactor


@pytest.fixture(scope="module")
def saved(tmp_path_factory, fresh):
    root = tmp_path_factory.mktemp("saveload") / "saved"
    root.mkdir()
    r = fresh.submit(lab_workers.save_both, str(root)).result(timeout=60)
    return root, r


@pytest.fixture(scope="module")
def refactored(saved, fresh, tmp_path_factory):
    """Each refactor on its own copy of the saved folder, each in its own fresh process."""
    root, _ = saved
    futures = {}
    for refactor in saveload.REFACTORS:
        copy = tmp_path_factory.mktemp(refactor) / "work"
        shutil.copytree(root, copy)
        futures[refactor] = fresh.submit(lab_workers.load_after_refactor, str(copy), refactor)
    return {k: plain_json(f.result(timeout=60)) for k, f in futures.items()}


def test_save_both_writes_both_files(saved):
    root, r = saved
    assert r["ok"] and r["error"] is None
    assert r["files"] == {n: (root / n).stat().st_size for n in ("weights.pt", "whole_model.pt")}
    assert r["files"]["whole_model.pt"] > r["files"]["weights.pt"]
    assert "class LabNet(nn.Module)" in (root / "labnet.py").read_text()


def _attempt(result: dict, label_start: str) -> dict:
    return next(a for a in result["attempts"] if a["label"].startswith(label_start))


@pytest.mark.parametrize("refactor", list(saveload.REFACTORS))
def test_state_dict_survives_every_refactor(refactored, refactor):
    a = _attempt(refactored[refactor], "state_dict")
    assert a["ok"] and a["error"] is None and a["matches_saved_weights"] is True


@pytest.mark.parametrize("refactor", list(saveload.REFACTORS))
def test_whole_model_is_refused_by_default(refactored, refactor):
    a = _attempt(refactored[refactor], "whole model, default")
    assert not a["ok"] and a["error_type"] == "UnpicklingError"
    assert "Weights only load failed" in a["error"] and "labnet.LabNet" in a["error"]
    assert "\x1b[" not in a["error"]


def test_whole_model_with_pickle_breaks_on_rename_and_move(refactored):
    ok = _attempt(refactored["none"], "whole model, weights_only=False")
    assert ok["ok"] and ok["matches_saved_weights"] is True
    renamed = _attempt(refactored["rename_class"], "whole model, weights_only=False")
    assert renamed["error_type"] == "AttributeError"
    assert renamed["error"].startswith("Can't get attribute 'LabNet' on <module 'labnet'")
    moved = _attempt(refactored["move_module"], "whole model, weights_only=False")
    assert (moved["error_type"], moved["error"]) == ("ModuleNotFoundError", "No module named 'labnet'")


def test_allowlist_loads_only_while_the_names_match(refactored):
    needed = ["labnet.LabNet", "torch.nn.modules.activation.ReLU", "torch.nn.modules.linear.Linear"]
    ok = _attempt(refactored["none"], "whole model, allowlist")
    assert ok["ok"] and ok["unsafe_globals"] == needed and ok["matches_saved_weights"] is True
    for refactor in ("rename_class", "move_module"):
        a = _attempt(refactored[refactor], "whole model, allowlist")
        assert a["unsafe_globals"] == needed
        assert a["error_type"] == "UnpicklingError" and "GLOBAL labnet.LabNet" in a["error"]


def test_refactored_code_is_on_disk(refactored, saved):
    assert set(refactored["move_module"]["files"]) == {"models/__init__.py", "models/net.py"}
    assert "class LabNetV2(" in refactored["rename_class"]["files"]["labnet.py"]


def test_same_process_save_then_rename_still_sees_the_new_code(fresh, tmp_path):
    r = fresh.submit(lab_workers.save_then_load, str(tmp_path), "rename_class").result(timeout=60)
    assert _attempt(r, "whole model, weights_only=False")["error_type"] == "AttributeError"
    assert _attempt(r, "state_dict")["ok"]


def test_unknown_refactor_is_reported(tmp_path):
    assert saveload.load_after_refactor(str(tmp_path), "rewrite")["ok"] is False


def test_train_vs_eval():
    r = plain_json(saveload.train_vs_eval(seed=0))
    assert r["train"]["max_abs_diff"] > 0
    assert r["train"]["running_mean_changed"] and r["train"]["num_batches_tracked"] == [0, 2]
    assert r["eval"]["max_abs_diff"] == 0.0
    assert not r["eval"]["running_mean_changed"] and not r["eval"]["running_var_changed"]
    assert r["eval"]["num_batches_tracked"] == [2, 2]
    assert r == plain_json(saveload.train_vs_eval(seed=0))  # seeded: deterministic


# ------------------------------------------------------------------ 6.2 / 6.5 clinic

EXPECTED_ERRORS = {
    "renamed_layer": (
        "RuntimeError",
        ['Missing key(s) in state_dict: "classifier.weight"', 'Unexpected key(s) in state_dict: "fc.weight"'],
    ),
    "dataparallel_prefix": ("RuntimeError", ['Unexpected key(s) in state_dict: "module.body.weight"']),
    "size_mismatch": (
        "RuntimeError",
        ["size mismatch for fc.weight: copying a param with shape torch.Size([10, 16]) from checkpoint"],
    ),
    "cuda_checkpoint": (
        "RuntimeError",
        ["Attempting to deserialize object on a CUDA device but torch.cuda.is_available() is False"],
    ),
    "resume_order": ("RuntimeError", ["expected dtype float for `end` but got dtype double"]),
    "unfreeze_groups": (
        "ValueError",
        ["loaded state dict contains a parameter group that doesn't match the size of optimizer's group"],
    ),
    "compile_prefix": (
        "RuntimeError",
        [
            'Missing key(s) in state_dict: "body.weight"',
            'Unexpected key(s) in state_dict: "_orig_mod.body.weight"',
        ],
    ),
    "numpy_weights_only": (
        "UnpicklingError",
        ["Unsupported global: GLOBAL numpy._core.multiarray._reconstruct"],
    ),
    "safetensors_shared": ("RuntimeError", ["Some tensors share memory", "save_model"]),
}


@pytest.mark.parametrize("case_id", list(clinic.CASES))
def test_clinic_case_fails_for_real_and_its_fix_works(case_id, tmp_path):
    assert not torch.cuda.is_available()  # the CUDA case relies on a CPU-only machine
    r = plain_json(clinic.run_case(case_id, str(tmp_path)))
    assert r["error_type"] is not None and r["error"]
    if case_id in EXPECTED_ERRORS:
        etype, parts = EXPECTED_ERRORS[case_id]
        assert r["error_type"] == etype
        for part in parts:
            assert part in r["error"]
    assert r["fix_error"] is None and r["fixed"] is True, r
    assert r["broken_code"] and r["fix_code"] and r["title"]


def test_clinic_evidence_details(tmp_path):
    size = clinic.run_case("size_mismatch", str(tmp_path / "a"))["evidence"]
    assert size["loaded_keys"] == ["body.bias", "body.weight"] and size["skipped_keys"] == [
        "fc.bias",
        "fc.weight",
    ]
    assert size["head_shape_now"] == [3, 16]
    dp = clinic.run_case("dataparallel_prefix", str(tmp_path / "b"))["evidence"]
    assert dp["keys_now"] == ["body.weight", "body.bias", "fc.weight", "fc.bias"]
    trunc = clinic.run_case("truncated_file", str(tmp_path / "c"))
    assert trunc["error_type"] in {"RuntimeError", "OSError"}
    assert trunc["evidence"]["truncated_bytes"] * 2 <= trunc["evidence"]["last_good_bytes"]


# Importing torch's compiler (model.compile(), torch.compile) warns about torch.jit internals.
COMPILER_IMPORT = pytest.mark.filterwarnings(
    "ignore:`torch.jit.script_method` is deprecated:DeprecationWarning"
)


@COMPILER_IMPORT
@pytest.mark.parametrize("case_id,fix_id", [(c, f) for c, fixes in clinic.CANDIDATES.items() for f in fixes])
def test_every_candidate_fix_runs_for_real(case_id, fix_id, tmp_path):
    r = plain_json(clinic.try_fix(case_id, fix_id, str(tmp_path)))
    assert r["broken"]["error_type"] is not None  # the case is really broken first
    if r["right"]:
        assert r["fixed"] and r["error"] is None and all(r["proof"].values()), r
    else:
        # A wrong fix either raises torch's own error or leaves a check that fails.
        assert not r["fixed"]
        assert r["error_type"] is not None or not all(r["proof"].values()), r
    assert r["code"] == clinic.CANDIDATES[case_id][fix_id]


@COMPILER_IMPORT
def test_chapter_7_cases_wrong_fixes_meet_the_next_real_error(tmp_path):
    # Allowlisting only the global the error named: torch names the next one.
    r = clinic.try_fix("numpy_weights_only", "allow_reconstruct", str(tmp_path / "a"))
    assert r["error_type"] == "UnpicklingError" and "Unsupported global: GLOBAL numpy.ndarray" in r["error"]
    # weights_only=False loads, and the file is still one no safe reader can open.
    r = clinic.try_fix("numpy_weights_only", "weights_only_false", str(tmp_path / "b"))
    assert r["error"] is None and not r["fixed"] and r["proof"]["file_loads_with_weights_only"] is False
    assert "numpy._core.multiarray._reconstruct" in r["evidence"]["unsafe_globals_in_file"]
    r = clinic.try_fix("unfreeze_groups", "two_groups", str(tmp_path / "c"))
    assert r["error_type"] == "ValueError" and "different number of parameter groups" in r["error"]
    r = clinic.try_fix("resume_order", "fresh_optimizer", str(tmp_path / "d"))
    assert (
        r["error"] is None
        and r["proof"]["adam_state_restored"] is False
        and r["evidence"]["adam_step"] == 1.0
    )
    r = clinic.try_fix("resume_order", "foreach_false", str(tmp_path / "e"))
    assert "expected dtype float for `end` but got dtype double" in r["error"]
    # model.compile() compiles in place: the keys keep their plain names.
    r = clinic.try_fix("compile_prefix", "compile_too", str(tmp_path / "f"))
    assert (
        r["error_type"] == "RuntimeError"
        and 'Unexpected key(s) in state_dict: "_orig_mod.body.weight"' in r["error"]
    )
    r = clinic.try_fix("safetensors_shared", "contiguous", str(tmp_path / "g"))
    assert r["error"].startswith("Some tensors share memory")  # safetensors' indentation taken off
    assert r["error_from"] == "safetensors" and r["broken"]["error_from"] == "safetensors"
    r = clinic.try_fix("safetensors_shared", "drop_tied_key", str(tmp_path / "h"))
    assert 'Missing key(s) in state_dict: "lm_head.weight"' in r["error"] and r["error_from"] is None


def test_chapter_7_cases_evidence(tmp_path):
    order = clinic.run_case("resume_order", str(tmp_path / "a"))["evidence"]
    assert order == {
        "param_dtype": "torch.float64",
        "exp_avg_dtype": "torch.float64",
        "adam_step": 2.0,
        "saved_step": 1.0,
    }
    groups = clinic.run_case("unfreeze_groups", str(tmp_path / "b"))["evidence"]
    assert groups["params_per_group"] == [2, 2] and groups["lr_per_group"] == [0.01, 0.001]
    np_case = clinic.run_case("numpy_weights_only", str(tmp_path / "c"))["evidence"]
    assert np_case == {
        "unsafe_globals_in_file": [],
        "val_preds_type": "torch.Tensor",
        "numpy_rng_type": "dict",
    }
    shared = clinic.run_case("safetensors_shared", str(tmp_path / "d"))["evidence"]
    assert shared["keys_in_file"] == ["embed.weight"]


@COMPILER_IMPORT
def test_compile_wrapper_names_keys_as_torch_compile_does():
    from app.ml.labs.clinic_practice import CompileWrapper

    torch.manual_seed(0)
    net = clinic.OldNet()
    compiled = torch.compile(net)  # only wraps: nothing is compiled before a forward pass
    assert list(compiled.state_dict()) == list(CompileWrapper(net).state_dict())
    assert next(iter(compiled.state_dict())) == "_orig_mod.body.weight"
    in_place = clinic.OldNet()
    in_place.compile()
    assert list(in_place.state_dict()) == list(net.state_dict())


def test_each_case_has_exactly_one_right_fix():
    for case_id, fixes in clinic.CANDIDATES.items():
        assert sum(code == clinic.CASES[case_id]["fix_code"] for code in fixes.values()) == 1
        assert len(fixes) >= 3


def test_unknown_case_is_reported(tmp_path):
    assert clinic.run_case("nope", str(tmp_path))["ok"] is False


def _data_pkl_strings(path) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        data = zf.read(ptfile.find_data_pkl(zf.namelist()))
    return [arg for op, arg, _ in pickletools.genops(data) if isinstance(arg, str)]


def test_cuda_tagged_checkpoint_is_a_real_gpu_style_file(tmp_path):
    assert not torch.cuda.is_available()
    registry = list(torch.serialization._package_registry)
    sd = clinic.make_cuda_tagged_checkpoint(tmp_path / "gpu.pt")
    assert torch.serialization._package_registry == registry  # nothing left behind
    strings = _data_pkl_strings(tmp_path / "gpu.pt")
    assert "cuda:0" in strings and "cpu" not in strings
    with pytest.raises(RuntimeError, match="Attempting to deserialize object on a CUDA device"):
        torch.load(tmp_path / "gpu.pt", weights_only=True)
    loaded = torch.load(tmp_path / "gpu.pt", weights_only=True, map_location=torch.device("cpu"))
    assert all(torch.equal(loaded[k], sd[k]) for k in sd)
    torch.save(sd, tmp_path / "cpu.pt")  # later saves are tagged normally again
    assert "cpu" in _data_pkl_strings(tmp_path / "cpu.pt")


# ------------------------------------------------------------------ inside a .pt file


def test_zip_entries_of_a_state_dict(tmp_path):
    torch.save(nn.Linear(3, 2).state_dict(), tmp_path / "w.pt")
    z = ptfile.zip_entries(tmp_path / "w.pt")
    names = [e["name"] for e in z["entries"]]
    for suffix in ("/data.pkl", "/data/0", "/data/1", "/version", "/byteorder", "/.data/serialization_id"):
        assert any(n.endswith(suffix) for n in names), suffix
    assert z["count"] == len(names) and z["declared_bytes"] == sum(e["file_size"] for e in z["entries"])
    assert next(e for e in z["entries"] if e["name"].endswith("/data/0"))["file_size"] == 6 * 4


def test_pickle_globals_state_dict_vs_whole_model(saved):
    root, _ = saved
    sd_globals = ptfile.pickle_globals(root / "weights.pt")
    assert set(sd_globals) <= {
        "collections.OrderedDict",
        "torch._utils._rebuild_tensor_v2",
        "torch.FloatStorage",
    }
    assert "collections.OrderedDict" in sd_globals
    whole = ptfile.pickle_globals(root / "whole_model.pt")
    assert "labnet.LabNet" in whole and "torch.nn.modules.linear.Linear" in whole
    info = plain_json(ptfile.explain(root / "whole_model.pt"))
    assert info["references_own_code"] and "labnet.LabNet" in info["unsafe_globals"]
    assert plain_json(ptfile.explain(root / "weights.pt"))["unsafe_globals"] == []


class Payload:
    """A real exploit: unpickling it calls builtins.exec, which creates a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return builtins.exec, (f"open({self.marker!r}, 'w').close()",)


@pytest.mark.parametrize("protocol", [0, 2, 5])
def test_globals_found_without_unpickling(tmp_path, protocol):
    marker = tmp_path / "ran"
    data = pickle.dumps({"x": Payload(marker)}, protocol=protocol)
    found = ptfile.globals_in_pickle(data)
    assert any(g.endswith(".exec") for g in found), found
    assert not marker.exists()


# ------------------------------------------------------------------ inspector: hostile files


def test_the_payload_is_real(tmp_path):
    """Control: plain pickle really runs it. The inspector tests below must never let it."""
    marker = tmp_path / "control"
    pickle.loads(pickle.dumps(Payload(marker)))
    assert marker.exists()


@pytest.mark.parametrize("how", ["torch-zip", "torch-legacy", "pickle"])
def test_malicious_pickle_is_refused_and_never_runs(tmp_path, how):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    obj = {"model_state_dict": {"w": torch.ones(2)}, "trap": Payload(marker)}
    if how == "pickle":
        path.write_bytes(pickle.dumps(obj, protocol=5))
    else:
        torch.save(obj, path, _use_new_zipfile_serialization=how == "torch-zip")
    r = plain_json(inspect_file(str(path), "evil.pt"))
    assert not marker.exists()
    assert r["format"] == how and r["ok"] is True
    v = r["verdict"]
    assert v["safe"] is False and "Weights only load failed" in v["reason"]
    assert any(g.endswith(".exec") for g in v["globals"]), v["globals"]
    assert r["tree"] == []


def test_empty_file(tmp_path):
    (tmp_path / "e.pt").write_bytes(b"")
    r = plain_json(inspect_file(str(tmp_path / "e.pt"), "e.pt"))
    assert not r["ok"] and r["stage"] == "empty" and "empty" in r["error"]


def test_random_bytes(tmp_path):
    (tmp_path / "r.pt").write_bytes(bytes(range(7, 250)) * 10)
    r = plain_json(inspect_file(str(tmp_path / "r.pt"), "r.pt"))
    assert not r["ok"] and r["stage"] == "format" and r["format"] is None


def test_safetensors_with_absurd_header_length(tmp_path):
    header = b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    (tmp_path / "h.safetensors").write_bytes(struct.pack("<Q", 2**62) + header + b"\0" * 4)
    r = plain_json(inspect_file(str(tmp_path / "h.safetensors"), "h.safetensors"))
    assert not r["ok"] and r["stage"] == "limits" and str(2**62) in r["error"]


def _patch_declared_size(path, entry_suffix: str, size: int) -> None:
    """Rewrite one entry's uncompressed size in the zip's central directory."""
    data = bytearray(path.read_bytes())
    pos = data.find(b"PK\x01\x02")
    while pos != -1:
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        name = bytes(data[pos + 46 : pos + 46 + name_len]).decode()
        if name.endswith(entry_suffix):
            struct.pack_into("<I", data, pos + 24, size)
            break
        pos = data.find(b"PK\x01\x02", pos + 4)
    else:
        raise AssertionError("entry not found")
    path.write_bytes(bytes(data))


def test_zip_with_absurd_declared_sizes_is_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "bomb.pt"
    torch.save({"w": torch.ones(4)}, path)
    _patch_declared_size(path, "/data/0", 0xFFFFFFF0)
    assert zipfile.ZipFile(path).infolist()  # still a readable directory: the sizes are the lie

    def no_reading(*args, **kwargs):
        raise AssertionError("torch.load must not be reached")

    monkeypatch.setattr(torch, "load", no_reading)
    monkeypatch.setattr(zipfile.ZipFile, "read", no_reading)
    r = plain_json(inspect_file(str(path), "bomb.pt"))
    assert not r["ok"] and r["stage"] == "limits" and "declares" in r["error"]
    assert r["zip"]["declared_bytes"] >= 0xFFFFFFF0


def test_zip_with_lying_small_sizes_is_refused(tmp_path):
    path = tmp_path / "liar.pt"
    torch.save({"w": torch.ones(4)}, path)
    _patch_declared_size(path, "/data/0", 3)
    r = inspect_file(str(path), "liar.pt")
    assert not r["ok"] and r["stage"] == "limits"


def test_zip_entry_count_limit(tmp_path):
    path = tmp_path / "many.pt"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(30):
            zf.writestr(f"archive/data/{i}", b"x")
    r = inspect_file(str(path), "many.pt", limits={"max_zip_entries": 20})
    assert not r["ok"] and r["stage"] == "limits" and "30 entries" in r["error"]


def test_non_torch_zip(tmp_path):
    path = tmp_path / "plain.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("hello.txt", b"hi")
    r = inspect_file(str(path), "plain.pt")
    assert not r["ok"] and r["stage"] == "format" and "data.pkl" in r["error"]


def test_truncated_torch_file(tmp_path):
    path = tmp_path / "cut.pt"
    torch.save({"w": torch.ones(100)}, path)
    path.write_bytes(path.read_bytes()[:300])
    r = plain_json(inspect_file(str(path), "cut.pt"))
    assert not r["ok"] and r["error_type"] and r["error"]


@pytest.mark.parametrize("name", ["notes.txt", "model", "weights.pt.exe", "x.PKL"])
def test_the_content_decides_not_the_name(tmp_path, name):
    torch.save({"w": torch.ones(2)}, tmp_path / "w.pt")
    assert inspect_file(str(tmp_path / "w.pt"), name)["stage"] == "done"
    (tmp_path / "n.txt").write_text("hello, not a checkpoint")
    r = inspect_file(str(tmp_path / "n.txt"), name)
    assert not r["ok"] and r["stage"] == "format"


def test_keys_come_back_as_exact_text(tmp_path):
    key = "<script>alert(1)</script>"
    torch.save({key: torch.zeros(1), "note": "<b>&amp;</b>"}, tmp_path / "x.pt")
    r = plain_json(inspect_file(str(tmp_path / "x.pt"), "x.pth"))
    paths = {leaf["path"]: leaf for leaf in r["tree"]}
    assert key in paths and paths["note"]["value"] == "<b>&amp;</b>"


# ------------------------------------------------------------------ inspector: legitimate files


def test_state_dict_tree(tmp_path):
    torch.manual_seed(0)
    model = statedict.SmallCNN()
    torch.save(model.state_dict(), tmp_path / "sd.pth")
    r = plain_json(inspect_file(str(tmp_path / "sd.pth"), "sd.pth"))
    assert r["ok"] and r["format"] == "torch-zip" and r["verdict"]["safe"] is True
    sd = model.state_dict()
    leaves = {leaf["path"]: leaf for leaf in r["tree"]}
    assert list(leaves) == list(sd)
    w = leaves["features.0.weight"]
    assert w["kind"] == "tensor" and w["shape"] == [8, 3, 3, 3] and w["dtype"] == "float32"
    assert w["stats"]["mean"] == pytest.approx(sd["features.0.weight"].double().mean().item())
    assert w["stats"]["max"] == pytest.approx(sd["features.0.weight"].max().item())
    assert leaves["features.1.num_batches_tracked"]["stats"] is None
    assert r["totals"]["numel"] == sum(t.numel() for t in sd.values())
    assert r["zip"]["count"] > 0 and "torch._utils._rebuild_tensor_v2" in r["verdict"]["globals"]


def test_full_training_checkpoint_tree(tmp_path):
    torch.manual_seed(0)
    model = statedict.LessonModel()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
    model(torch.randn(4, 10)).sum().backward()
    opt.step()
    sched.step()
    ckpt = {
        "epoch": 3,
        "model_state_dict": model.state_dict(),
        "optimizer_state_dict": opt.state_dict(),
        "scheduler_state_dict": sched.state_dict(),
        "loss": 0.25,
        "best": None,
        "tag": "run-1",
        "rng": torch.get_rng_state(),
    }
    torch.save(ckpt, tmp_path / "ckpt.ckpt")
    r = plain_json(inspect_file(str(tmp_path / "ckpt.ckpt"), "ckpt.ckpt"))
    assert r["ok"] and r["verdict"]["safe"]
    leaves = {leaf["path"]: leaf for leaf in r["tree"]}
    assert leaves["epoch"] == {**leaves["epoch"], "kind": "int", "value": "3"}
    assert leaves["loss"]["kind"] == "float" and leaves["best"]["kind"] == "none"
    assert leaves["tag"]["value"] == "run-1"
    assert leaves["model_state_dict.fc.weight"]["shape"] == [2, 10]
    assert leaves["optimizer_state_dict.state.0.exp_avg"]["kind"] == "tensor"
    assert leaves["optimizer_state_dict.param_groups.0.lr"]["value"] == "0.001"
    assert leaves["optimizer_state_dict.param_groups.0.params.1"]["value"] == "1"
    assert leaves["scheduler_state_dict.step_size"]["value"] == "10"
    assert leaves["rng"]["dtype"] == "uint8" and leaves["rng"]["stats"] is None
    assert r["truncated"] is False


def test_legacy_format(tmp_path):
    torch.save({"w": torch.arange(6.0)}, tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    r = plain_json(inspect_file(str(tmp_path / "old.pt"), "old.pt"))
    assert r["ok"] and r["format"] == "torch-legacy" and r["zip"] is None
    assert r["tree"][0]["stats"]["mean"] == 2.5


def test_safetensors_tree_with_stats(tmp_path):
    from safetensors.torch import save_file

    t = torch.linspace(-1, 1, 12).reshape(3, 4)
    save_file(
        {"enc.weight": t, "enc.steps": torch.tensor([7])},
        tmp_path / "m.safetensors",
        metadata={"format": "pt"},
    )
    r = plain_json(inspect_file(str(tmp_path / "m.safetensors"), "m.safetensors"))
    assert r["ok"] and r["format"] == "safetensors" and r["verdict"]["safe"] is True
    leaves = {leaf["path"]: leaf for leaf in r["tree"]}
    w = leaves["enc.weight"]
    assert w["shape"] == [3, 4] and w["dtype"] == "float32" and w["bytes"] == 48
    assert w["stats"]["min"] == -1.0 and w["stats"]["max"] == 1.0
    assert w["stats"]["mean"] == pytest.approx(0.0, abs=1e-7)
    assert leaves["enc.steps"]["stats"] is None and r["metadata"] == {"format": "pt"}
    # A big tensor: stats read only the leading rows, yet shape and size are the real ones.
    save_file({"big": torch.ones(1000, 10)}, tmp_path / "b.safetensors")
    big = inspect_file(str(tmp_path / "b.safetensors"), "b.safetensors", limits={"stats_elements": 100})[
        "tree"
    ][0]
    assert big["shape"] == [1000, 10] and big["numel"] == 10_000 and big["bytes"] == 40_000
    assert big["stats"]["sampled"] is True and big["stats"]["elements"] == 100


def test_content_decides_not_the_name(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.ones(2)}, tmp_path / "actually_safetensors.pt")
    r = inspect_file(str(tmp_path / "actually_safetensors.pt"), "actually_safetensors.pt")
    assert r["ok"] and r["format"] == "safetensors" and r["notes"]
    torch.save({"w": torch.ones(2)}, tmp_path / "actually_torch.safetensors")
    r = inspect_file(str(tmp_path / "actually_torch.safetensors"), "actually_torch.safetensors")
    assert r["ok"] and r["format"] == "torch-zip" and r["notes"]


def test_leaf_cap_stats_cap_and_non_finite_values(tmp_path):
    obj = {f"k{i}": torch.tensor([float(i)]) for i in range(50)}
    obj["k0"] = torch.tensor([1.0, float("nan"), float("inf"), 3.0] * 1000)
    torch.save(obj, tmp_path / "many.pt")
    r = plain_json(
        inspect_file(str(tmp_path / "many.pt"), "many.pt", limits={"max_leaves": 10, "stats_elements": 8})
    )
    assert r["ok"] and r["truncated"] is True and len(r["tree"]) == 10
    s = r["tree"][0]["stats"]
    assert s == {**s, "sampled": True, "elements": 8, "nonfinite": 4, "min": 1.0, "max": 3.0, "mean": 2.0}


def test_nested_and_shared_containers(tmp_path):
    shared = [1, 2]
    deep: list = []
    node = deep
    for _ in range(100):
        node.append([])
        node = node[0]
    torch.save(
        {"a": shared, "b": shared, "deep": deep, "empty": {}, "size": torch.Size([2, 3])}, tmp_path / "n.pt"
    )
    r = plain_json(inspect_file(str(tmp_path / "n.pt"), "n.pt"))
    leaves = {leaf["path"]: leaf for leaf in r["tree"]}
    assert leaves["a.0"]["value"] == "1" and leaves["empty"]["value"] == "{}"
    assert leaves["size"]["value"] == "torch.Size([2, 3])"
    assert any("nested deeper" in (leaf["value"] or "") for leaf in r["tree"])


def test_inspector_never_raises_on_a_missing_file(tmp_path):
    r = plain_json(inspect_file(str(tmp_path / "gone.pt"), "gone.pt"))
    assert not r["ok"] and r["error_type"] == "FileNotFoundError"


def test_whole_model_file_is_refused_by_the_inspector(saved):
    root, _ = saved
    r = plain_json(inspect_file(str(root / "whole_model.pt"), "whole_model.pt"))
    assert r["ok"] and r["verdict"]["safe"] is False
    assert "labnet.LabNet" in r["verdict"]["globals"] and "labnet.LabNet" in r["verdict"]["reason"]


def test_malformed_pickle_keeps_the_globals_found_so_far(tmp_path):
    marker = tmp_path / "pwned"
    data = pickle.dumps(Payload(marker), protocol=2)[:-1] + b"\xff\xfe"  # bad opcodes instead of STOP
    (tmp_path / "bad.pt").write_bytes(data)
    r = plain_json(inspect_file(str(tmp_path / "bad.pt"), "bad.pt"))
    assert r["verdict"]["globals_complete"] is False and r["verdict"]["globals"] == ["__builtin__.exec"]
    assert r["verdict"]["safe"] is not True and not marker.exists()

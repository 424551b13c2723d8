"""Lessons 6.2 and 6.5: a clinic of real loading errors, each with its fix.

For every case a small real checkpoint is written into the work folder, then the broken code
and the fix are executed exactly as shown (see run_snippet), so each error text is the one
torch really produced here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import torch
import torch.serialization
from torch import nn
from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present

from app.ml.checkpoint import save_atomic
from app.ml.labs import captured, run_snippet, working_dir


class OldNet(nn.Module):
    """The model as it was when the checkpoints were saved."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.body = nn.Linear(8, 16)
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x):
        return self.fc(torch.relu(self.body(x)))


class NewNet(nn.Module):
    """The same model after someone renamed its head: fc -> classifier."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.body = nn.Linear(8, 16)
        self.classifier = nn.Linear(16, num_classes)

    def forward(self, x):
        return self.classifier(torch.relu(self.body(x)))


def make_cuda_tagged_checkpoint(path: str | os.PathLike, obj=None) -> dict:
    """Save ``obj`` (default: a small state_dict) as if its tensors had lived on cuda:0.

    Each storage in a torch.save file carries a location tag chosen at save time by the
    taggers registered with torch.serialization.register_package. A tagger with the highest
    priority that answers "cuda:0" for CPU storages makes torch write exactly what a GPU
    machine writes (the tensor bytes are the same), with no byte patching of the pickle.
    The registry is restored afterwards so later saves in this process are untouched.
    """
    if obj is None:
        torch.manual_seed(0)
        obj = OldNet().state_dict()
    registry = torch.serialization._package_registry
    saved = list(registry)
    torch.serialization.register_package(
        -1_000_000,
        lambda storage: "cuda:0" if storage.device.type == "cpu" else None,
        lambda storage, location: None,  # never used: this tagger is gone before any load
    )
    try:
        torch.save(obj, path)
    finally:
        registry[:] = saved
    return obj


def _same_tensors(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ------------------------------------------------------------------ cases
# Each setup writes the case's files and returns (namespace for the snippets, reference state).


def _setup_renamed(root: Path):
    torch.manual_seed(0)
    sd = OldNet().state_dict()
    torch.save(sd, root / "checkpoint.pt")
    return {"NewNet": NewNet}, sd


def _setup_dataparallel(root: Path):
    torch.manual_seed(0)
    wrapped = nn.DataParallel(OldNet())  # a real wrapper: its state_dict keys get "module."
    torch.save(wrapped.state_dict(), root / "dp_checkpoint.pt")
    names = {"OldNet": OldNet, "consume_prefix_in_state_dict_if_present": consume_prefix_in_state_dict_if_present}
    return names, wrapped.module.state_dict()


def _setup_size(root: Path):
    torch.manual_seed(0)
    sd = OldNet(num_classes=10).state_dict()
    torch.save(sd, root / "pretrained_10_classes.pt")
    return {"OldNet": OldNet}, sd


def _setup_cuda(root: Path):
    sd = make_cuda_tagged_checkpoint(root / "gpu_checkpoint.pt")
    return {"OldNet": OldNet}, sd


def _setup_truncated(root: Path):
    torch.manual_seed(0)
    sd = OldNet().state_dict()
    save_atomic(sd, root / "last_good.pt")  # temp file + fsync + os.replace: never half-written
    # What a plain torch.save leaves behind when the process dies half-way through writing.
    data = (root / "last_good.pt").read_bytes()
    (root / "checkpoint.pt").write_bytes(data[: len(data) // 2])
    return {"OldNet": OldNet}, sd


def _evidence_renamed(ns: dict, ref: dict) -> dict:
    r = ns["result"]
    return {"missing_keys": list(r.missing_keys), "unexpected_keys": list(r.unexpected_keys),
            "keys_now": list(ns["model"].state_dict()),
            "weights_equal": torch.equal(ns["model"].classifier.weight, ref["fc.weight"])}


def _evidence_dp(ns: dict, ref: dict) -> dict:
    r = ns["result"]
    return {"missing_keys": list(r.missing_keys), "unexpected_keys": list(r.unexpected_keys),
            "keys_now": list(ns["state"]), "weights_equal": _same_tensors(ns["model"].state_dict(), ref)}


def _evidence_size(ns: dict, ref: dict) -> dict:
    model_sd = ns["model"].state_dict()
    return {"loaded_keys": sorted(ns["filtered"]),
            "skipped_keys": sorted(set(ns["state"]) - set(ns["filtered"])),
            "head_shape_now": list(model_sd["fc.weight"].shape),
            "body_equal": torch.equal(model_sd["body.weight"], ref["body.weight"])}


def _evidence_cuda(ns: dict, ref: dict) -> dict:
    return {"cuda_available": torch.cuda.is_available(),
            "devices": sorted({str(t.device) for t in ns["state"].values()}),
            "tensors_equal": _same_tensors(ns["state"], ref)}


def _evidence_truncated(ns: dict, ref: dict) -> dict:
    return {"truncated_bytes": os.path.getsize("checkpoint.pt"),
            "last_good_bytes": os.path.getsize("last_good.pt"),
            "tensors_equal": _same_tensors(ns["model"].state_dict(), ref)}


CASES: dict[str, dict] = {
    "renamed_layer": {
        "title": "A layer was renamed: missing and unexpected keys",
        "setup": _setup_renamed,
        "broken_code": """\
model = NewNet()                                    # self.fc became self.classifier
state = torch.load("checkpoint.pt", weights_only=True)
model.load_state_dict(state)
""",
        "fix_code": """\
state = {("classifier." + k[len("fc."):] if k.startswith("fc.") else k): v
         for k, v in state.items()}                 # map the old names to the new ones
result = model.load_state_dict(state)               # strict: every key must match
""",
        "evidence": _evidence_renamed,
    },
    "dataparallel_prefix": {
        "title": "Saved from nn.DataParallel: every key starts with 'module.'",
        "setup": _setup_dataparallel,
        "broken_code": """\
model = OldNet()
state = torch.load("dp_checkpoint.pt", weights_only=True)
model.load_state_dict(state)
""",
        "fix_code": """\
from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present

consume_prefix_in_state_dict_if_present(state, "module.")   # edits the dict in place
result = model.load_state_dict(state)
""",
        "evidence": _evidence_dp,
    },
    "size_mismatch": {
        "title": "A different number of classes: size mismatch",
        "setup": _setup_size,
        "broken_code": """\
model = OldNet(num_classes=3)                       # new task: 3 classes instead of 10
state = torch.load("pretrained_10_classes.pt", weights_only=True)
model.load_state_dict(state)
""",
        "fix_code": """\
model_sd = model.state_dict()
filtered = {k: v for k, v in state.items()
            if k in model_sd and v.shape == model_sd[k].shape}   # keep what fits as it is
model_sd.update(filtered)
model.load_state_dict(model_sd)                     # the new head keeps its fresh init
""",
        "evidence": _evidence_size,
    },
    "cuda_checkpoint": {
        "title": "A checkpoint saved on a GPU, loaded on a CPU-only machine",
        "setup": _setup_cuda,
        "broken_code": """\
state = torch.load("gpu_checkpoint.pt", weights_only=True)
""",
        "fix_code": """\
state = torch.load("gpu_checkpoint.pt", weights_only=True, map_location="cpu")
model = OldNet()
model.load_state_dict(state)
""",
        "evidence": _evidence_cuda,
    },
    "truncated_file": {
        "title": "A truncated file: the save was interrupted",
        "setup": _setup_truncated,
        "broken_code": """\
state = torch.load("checkpoint.pt", weights_only=True)   # the process died while writing it
""",
        "fix_code": """\
# The atomic writer (temp file, fsync, os.replace) never exposes a half-written file,
# so the last good checkpoint is intact: load that one.
state = torch.load("last_good.pt", weights_only=True)
model = OldNet()
model.load_state_dict(state)
""",
        "evidence": _evidence_truncated,
    },
}


def run_case(case_id: str, workdir: str) -> dict:
    case = CASES.get(case_id)
    if case is None:
        return {"id": case_id, "ok": False, "error": f"unknown case {case_id!r}; choose one of {sorted(CASES)}"}
    root = Path(workdir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    setup: Callable = case["setup"]
    result = {"id": case_id, "title": case["title"], "broken_code": case["broken_code"],
              "fix_code": case["fix_code"], "ok": True}
    with working_dir(root):
        extra, reference = setup(root)
        ns = {"torch": torch, "nn": nn, **extra}
        broken = run_snippet(case["broken_code"], ns)
        result.update(captured(broken))
        fix = run_snippet(case["fix_code"], ns)
        result["fix_error_type"] = captured(fix)["error_type"]
        result["fix_error"] = captured(fix)["error"]
        evidence = None
        if fix is None:
            try:
                evidence = case["evidence"](ns, reference)
            except Exception as exc:  # noqa: BLE001 - report, never raise into the page
                evidence = {"evidence_error": f"{type(exc).__name__}: {exc}"}
    result["evidence"] = evidence
    result["fixed"] = broken is not None and fix is None and _proved(evidence)
    return result


def _proved(evidence: dict | None) -> bool:
    """A fix counts only if its evidence shows the weights really arrived."""
    if not evidence or "evidence_error" in evidence:
        return False
    flags = [v for k, v in evidence.items() if k.endswith("_equal")]
    no_leftovers = not evidence.get("missing_keys") and not evidence.get("unexpected_keys")
    return bool(flags) and all(flags) and no_leftovers

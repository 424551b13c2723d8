"""Lessons 6.2 and 6.5, the clinic's cases: the two small models, the checkpoint each case writes,
the broken code and its fix as the page shows them, and the evidence that a fix really worked
(run by app.ml.labs.clinic)."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import torch
import torch.serialization
from torch import nn
from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present

from app.ml.checkpoint import save_atomic
from app.ml.labs import Case, Facts, Namespace, Proof, captured, clinic_practice

StateDict = dict[str, torch.Tensor]


class OldNet(nn.Module):
    """The model as it was when the checkpoints were saved."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.body = nn.Linear(8, 16)
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.body(x)))


class NewNet(nn.Module):
    """The same model after someone renamed its head: fc -> classifier."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.body = nn.Linear(8, 16)
        self.classifier = nn.Linear(16, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.relu(self.body(x)))


def make_cuda_tagged_checkpoint(path: str | os.PathLike[str], obj: Any = None) -> Any:
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


def error_words(exc: BaseException | None) -> dict[str, str | None]:
    """captured(exc), with the indentation some libraries' messages carry (safetensors writes its
    text as an indented block) taken off: the words are untouched. ``error_from`` names the
    library that raised it when that is not torch (the page says whose words these are)."""
    out = captured(exc)
    if out["error"]:
        out["error"] = textwrap.dedent(out["error"]).strip()
    tb = exc.__traceback__ if exc is not None else None
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    package = tb.tb_frame.f_globals.get("__name__", "").split(".")[0] if tb is not None else ""
    out["error_from"] = package if package == "safetensors" else None
    return out


def _same_tensors(a: StateDict, b: StateDict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ------------------------------------------------------------------ cases
# Each setup writes the case's files and returns (namespace for the snippets, reference state).


def _setup_renamed(root: Path) -> tuple[Namespace, StateDict]:
    torch.manual_seed(0)
    sd = OldNet().state_dict()
    torch.save(sd, root / "checkpoint.pt")
    return {"NewNet": NewNet}, sd


def _setup_dataparallel(root: Path) -> tuple[Namespace, StateDict]:
    torch.manual_seed(0)
    wrapped = nn.DataParallel(OldNet())  # a real wrapper: its state_dict keys get "module."
    torch.save(wrapped.state_dict(), root / "dp_checkpoint.pt")
    names = {
        "OldNet": OldNet,
        "consume_prefix_in_state_dict_if_present": consume_prefix_in_state_dict_if_present,
    }
    return names, wrapped.module.state_dict()


def _setup_size(root: Path) -> tuple[Namespace, StateDict]:
    torch.manual_seed(0)
    sd = OldNet(num_classes=10).state_dict()
    torch.save(sd, root / "pretrained_10_classes.pt")
    return {"OldNet": OldNet}, sd


def _setup_cuda(root: Path) -> tuple[Namespace, StateDict]:
    sd = make_cuda_tagged_checkpoint(root / "gpu_checkpoint.pt")
    return {"OldNet": OldNet}, sd


def _setup_truncated(root: Path) -> tuple[Namespace, StateDict]:
    torch.manual_seed(0)
    sd = OldNet().state_dict()
    save_atomic(sd, root / "last_good.pt")  # temp file + fsync + os.replace: never half-written
    # What a plain torch.save leaves behind when the process dies half-way through writing.
    data = (root / "last_good.pt").read_bytes()
    (root / "checkpoint.pt").write_bytes(data[: len(data) // 2])
    return {"OldNet": OldNet}, sd


# Each evidence function looks only at what the learner's code left behind (it may be any of the
# candidate fixes) and returns (facts shown as evidence, checks that must all hold for "fixed").


def _model(ns: Namespace) -> nn.Module | None:
    model = ns.get("model")
    return model if isinstance(model, nn.Module) else None


def _evidence_renamed(ns: Namespace, ref: StateDict) -> tuple[Facts, Proof]:
    model, r = _model(ns), ns.get("result")
    facts: Facts = {
        "missing_keys": list(getattr(r, "missing_keys", [])),
        "unexpected_keys": list(getattr(r, "unexpected_keys", [])),
        "keys_now": list(model.state_dict()) if model else [],
        "weights_equal": bool(
            model is not None
            and hasattr(model, "classifier")
            and torch.equal(model.get_parameter("classifier.weight"), ref["fc.weight"])
        ),
    }
    return facts, {
        "weights_equal": facts["weights_equal"],
        "body_equal": bool(
            model is not None and torch.equal(model.get_parameter("body.weight"), ref["body.weight"])
        ),
        "no_missing_or_unexpected": not facts["missing_keys"] and not facts["unexpected_keys"],
    }


def _evidence_dp(ns: Namespace, ref: StateDict) -> tuple[Facts, Proof]:
    model, r = _model(ns), ns.get("result")
    state = ns.get("state") or {}
    facts: Facts = {
        "missing_keys": list(getattr(r, "missing_keys", [])),
        "unexpected_keys": list(getattr(r, "unexpected_keys", [])),
        "keys_now": list(state),
        "weights_equal": bool(model is not None and _same_tensors(model.state_dict(), ref)),
    }
    return facts, {
        "weights_equal": facts["weights_equal"],
        "no_missing_or_unexpected": not facts["missing_keys"] and not facts["unexpected_keys"],
    }


def _evidence_size(ns: Namespace, ref: StateDict) -> tuple[Facts, Proof]:
    model = _model(ns)
    model_sd = model.state_dict() if model else {}
    facts: Facts = {}
    if "filtered" in ns:  # the shape filter ran: what it kept and what it left out
        facts = {
            "loaded_keys": sorted(ns["filtered"]),
            "skipped_keys": sorted(set(ns["state"]) - set(ns["filtered"])),
        }
    facts |= {
        "head_shape_now": list(model_sd["fc.weight"].shape) if "fc.weight" in model_sd else [],
        "body_equal": bool(model_sd and torch.equal(model_sd["body.weight"], ref["body.weight"])),
    }
    # The task has 3 classes: a fix that loads by going back to 10 outputs solves the wrong problem.
    return facts, {
        "body_equal": facts["body_equal"],
        "head_fits_3_classes": facts["head_shape_now"][:1] == [3],
    }


def _evidence_cuda(ns: Namespace, ref: StateDict) -> tuple[Facts, Proof]:
    state, model = ns.get("state") or {}, _model(ns)
    facts: Facts = {
        "cuda_available": torch.cuda.is_available(),
        "devices": sorted({str(t.device) for t in state.values()}),
        "tensors_equal": bool(state) and _same_tensors(state, ref),
    }
    return facts, {
        "tensors_equal": facts["tensors_equal"],
        "all_on_cpu": facts["devices"] == ["cpu"],
        "model_loaded": bool(model is not None and _same_tensors(model.state_dict(), ref)),
    }


def _evidence_truncated(ns: Namespace, ref: StateDict) -> tuple[Facts, Proof]:
    model = _model(ns)
    facts: Facts = {
        "truncated_bytes": os.path.getsize("checkpoint.pt"),
        "last_good_bytes": os.path.getsize("last_good.pt"),
        "tensors_equal": bool(model is not None and _same_tensors(model.state_dict(), ref)),
    }
    return facts, {"tensors_equal": facts["tensors_equal"]}


CASES: dict[str, Case] = {
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


# The fixes a learner chooses from: one right, the others what people really try first. Each is
# run after the broken code, in its namespace, exactly as shown.
CANDIDATES: dict[str, dict[str, str]] = {
    "renamed_layer": {
        "strict_false": """\
result = model.load_state_dict(state, strict=False)   # just stop complaining
""",
        "rename_keys": CASES["renamed_layer"]["fix_code"],
        "prefix_all": """\
state = {"classifier." + k: v for k, v in state.items()}   # put the new name in front
result = model.load_state_dict(state)
""",
    },
    "dataparallel_prefix": {
        "strict_false": """\
result = model.load_state_dict(state, strict=False)   # tolerate the unexpected keys
""",
        "replace_module": """\
state = {k.replace("module", ""): v for k, v in state.items()}   # drop the word "module"
result = model.load_state_dict(state)
""",
        "consume_prefix": CASES["dataparallel_prefix"]["fix_code"],
    },
    "size_mismatch": {
        "shape_filter": CASES["size_mismatch"]["fix_code"],
        "strict_false": """\
model.load_state_dict(state, strict=False)          # the lesson's myth: does it skip the head?
""",
        "ten_classes": """\
model = OldNet(num_classes=10)                      # build the model the checkpoint expects
model.load_state_dict(state)
""",
    },
    "cuda_checkpoint": {
        "weights_only_false": """\
state = torch.load("gpu_checkpoint.pt", weights_only=False)   # maybe the safety gate is in the way
""",
        "model_to_cuda": """\
model = OldNet().to("cuda")                         # put the model where the tensors were
model.load_state_dict(torch.load("gpu_checkpoint.pt", weights_only=True))
""",
        "map_location": CASES["cuda_checkpoint"]["fix_code"],
    },
    "truncated_file": {
        "last_good": CASES["truncated_file"]["fix_code"],
        "weights_only_false": """\
state = torch.load("checkpoint.pt", weights_only=False)   # load it the permissive way
""",
        "mmap": """\
state = torch.load("checkpoint.pt", weights_only=True, mmap=True)   # read it lazily instead
""",
    },
}
CASES |= clinic_practice.CASES
CANDIDATES |= clinic_practice.CANDIDATES

"""Lesson 6.2: state_dict versus whole-model saving, and what survives a refactor.

save_both writes a real module file (labnet.py) into the work folder, imports it and saves
both ways. load_after_refactor then edits that code the way a project evolves and tries each
loading approach in the current process. It must run in a process that has not imported
labnet yet (the sandbox forks a fresh one); sys.modules is purged anyway to be sure.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from app.ml.labs import Namespace, captured, first_values, run_snippet, working_dir

MODULE_CODE = """\
import torch
from torch import nn


class LabNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))
"""

SAVE_CODE = """\
from labnet import LabNet

torch.manual_seed(0)
model = LabNet()
torch.save(model.state_dict(), "weights.pt")   # tensors only
torch.save(model, "whole_model.pt")            # pickles the object, i.e. a reference to labnet.LabNet
"""

REFACTORS = {
    "none": "No change: the code is as it was at save time.",
    "rename_class": "The class was renamed: LabNet -> LabNetV2 (still in labnet.py).",
    "move_module": "The class was moved to a package: models/net.py (labnet.py deleted).",
}

# What the learner's code imports after each refactor: (import line, class name).
_IMPORTS = {
    "none": ("from labnet import LabNet", "LabNet"),
    "rename_class": ("from labnet import LabNetV2", "LabNetV2"),
    "move_module": ("from models.net import LabNet", "LabNet"),
}

_OUR_MODULES = ("labnet", "models")


def _use_workdir(workdir: str) -> None:
    # Imports must resolve to the work folder's files; the sandbox process is thrown away after.
    if workdir not in sys.path:
        sys.path.insert(0, workdir)
    for name in list(sys.modules):
        if name.split(".")[0] in _OUR_MODULES:
            del sys.modules[name]
    # Files were just (re)written: make the import system look at the folder again, and drop
    # bytecode that could describe an older version of the same file.
    shutil.rmtree(Path(workdir) / "__pycache__", ignore_errors=True)
    shutil.rmtree(Path(workdir) / "models" / "__pycache__", ignore_errors=True)
    importlib.invalidate_caches()


def _write_code(workdir: Path, refactor: str) -> dict[str, str]:
    """Put the code in the state the refactor describes; returns the files written."""
    (workdir / "labnet.py").unlink(missing_ok=True)
    shutil.rmtree(workdir / "models", ignore_errors=True)
    if refactor == "none":
        files = {"labnet.py": MODULE_CODE}
    elif refactor == "rename_class":
        files = {"labnet.py": MODULE_CODE.replace("class LabNet(", "class LabNetV2(")}
    else:
        files = {"models/__init__.py": "", "models/net.py": MODULE_CODE}
    for rel, text in files.items():
        (workdir / rel).parent.mkdir(parents=True, exist_ok=True)
        (workdir / rel).write_text(text)
    return files


def save_both(workdir: str) -> dict[str, Any]:
    workdir = os.path.abspath(workdir)
    _write_code(Path(workdir), "none")
    _use_workdir(workdir)
    ns: Namespace = {"torch": torch}
    with working_dir(workdir):
        exc = run_snippet(SAVE_CODE, ns)
    result: dict[str, Any] = {
        "ok": exc is None,
        **captured(exc),
        "module_code": MODULE_CODE,
        "code": SAVE_CODE,
    }
    if exc is None:
        result["files"] = {
            name: os.path.getsize(os.path.join(workdir, name)) for name in ("weights.pt", "whole_model.pt")
        }
        result["output_sample"] = first_values(ns["model"](torch.ones(1, 4)))
    return result


def _attempts(cls_import: str, cls_name: str) -> list[tuple[str, str, str]]:
    """(label, code, note) for each approach, written for the current state of the code."""
    allow = f"[{cls_name}, nn.Linear, nn.ReLU]"
    return [
        (
            "state_dict",
            f"""\
{cls_import}

model = {cls_name}()
model.load_state_dict(torch.load("weights.pt", weights_only=True))
""",
            "Only tensors are stored; the current code builds the model, so names of classes do not matter.",
        ),
        (
            "whole model, default torch.load",
            """\
model = torch.load("whole_model.pt")   # weights_only=True is the default since PyTorch 2.6
""",
            "The default loader accepts tensors and plain containers only, "
            "so a pickled nn.Module is refused.",
        ),
        (
            "whole model, weights_only=False",
            """\
model = torch.load("whole_model.pt", weights_only=False)   # runs the pickle: trusted files only
""",
            "Unpickling imports the module and class recorded at save time (labnet.LabNet); "
            "it fails when that name no longer exists, and it can run arbitrary code from an untrusted file.",
        ),
        (
            "whole model, allowlist (safe_globals)",
            f"""\
{cls_import}

needed = torch.serialization.get_unsafe_globals_in_checkpoint("whole_model.pt")
with torch.serialization.safe_globals({allow}):
    model = torch.load("whole_model.pt")   # still weights_only=True
""",
            "The allowlist must name exactly the globals the file records; "
            "a renamed or moved class is a different name.",
        ),
    ]


def _matches(model: Any, reference: dict[str, torch.Tensor]) -> bool | None:
    # Proof that a "successful" load really carries the saved weights.
    try:
        sd = model.state_dict()
        return sd.keys() == reference.keys() and all(torch.equal(sd[k], reference[k]) for k in sd)
    except Exception:
        return None


def load_after_refactor(workdir: str, refactor: str) -> dict[str, Any]:
    if refactor not in REFACTORS:
        return {"ok": False, "error": f"unknown refactor {refactor!r}; choose one of {sorted(REFACTORS)}"}
    workdir = os.path.abspath(workdir)
    root = Path(workdir)
    if not ((root / "weights.pt").exists() and (root / "whole_model.pt").exists()):
        save_both(workdir)
    files = _write_code(root, refactor)
    _use_workdir(workdir)
    with working_dir(workdir):
        reference = torch.load("weights.pt", weights_only=True)
        attempts = []
        for label, code, note in _attempts(*_IMPORTS[refactor]):
            ns: Namespace = {"torch": torch, "nn": nn}
            exc = run_snippet(code, ns)
            attempts.append(
                {
                    "label": label,
                    "code": code,
                    "ok": exc is None,
                    **captured(exc),
                    "note": note,
                    "unsafe_globals": sorted(ns["needed"]) if "needed" in ns else None,
                    "matches_saved_weights": _matches(ns["model"], reference) if exc is None else None,
                }
            )
    return {
        "ok": True,
        "refactor": refactor,
        "description": REFACTORS[refactor],
        "files": files,
        "torch_version": torch.__version__,
        "attempts": attempts,
    }


# Three parts run one after the other, so statistics can be read between them;
# TRAIN_EVAL_CODE is exactly their concatenation and is what the page shows.
_SETUP = """\
model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 2))
x = torch.randn(4, 8)
bn = model[1]
"""
_TRAIN = """\
model.train()
with torch.no_grad():           # no_grad does not stop BatchNorm from updating its statistics
    a, b = model(x), model(x)
"""
_EVAL = """\
model.eval()
with torch.no_grad():
    c, d = model(x), model(x)
"""
TRAIN_EVAL_CODE = "\n".join((_SETUP, _TRAIN, _EVAL))


BNStats = tuple[torch.Tensor, torch.Tensor, int]  # running mean, running variance, batches tracked


def _bn_stats(bn: nn.BatchNorm1d) -> BNStats:
    mean, var, batches = bn.running_mean, bn.running_var, bn.num_batches_tracked
    # None only for a BatchNorm built with track_running_stats=False, which the lesson's is not.
    assert mean is not None and var is not None and batches is not None
    return mean.clone(), var.clone(), int(batches)


def _phase(out1: torch.Tensor, out2: torch.Tensor, before: BNStats, after: BNStats) -> dict[str, Any]:
    return {
        "max_abs_diff": float((out1 - out2).abs().max()),
        "outputs": [first_values(out1), first_values(out2)],
        "running_mean_changed": not torch.equal(before[0], after[0]),
        "running_var_changed": not torch.equal(before[1], after[1]),
        "num_batches_tracked": [before[2], after[2]],
    }


def train_vs_eval(seed: int = 0) -> dict[str, Any]:
    torch.manual_seed(seed)
    ns: Namespace = {"torch": torch, "nn": nn}
    stats = []
    for part in (_SETUP, _TRAIN, _EVAL):
        exc = run_snippet(part, ns)
        if exc is not None:  # not expected; report rather than raise
            return {"ok": False, **captured(exc), "code": TRAIN_EVAL_CODE}
        stats.append(_bn_stats(ns["bn"]))
    return {
        "ok": True,
        "code": TRAIN_EVAL_CODE,
        "seed": seed,
        "train": _phase(ns["a"], ns["b"], stats[0], stats[1]),
        "eval": _phase(ns["c"], ns["d"], stats[1], stats[2]),
    }

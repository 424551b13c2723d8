"""Chapter 7's loading failures for the clinic (app.ml.labs.clinic): resume order, optimizer
groups after unfreezing, the torch.compile prefix, NumPy under weights_only, and safetensors
with shared tensors.

Same rules as the other cases: each setup writes a small real checkpoint, the broken code and
every candidate fix are executed exactly as shown, and each error is the one torch (or
safetensors) really raised here. The model is the clinic's OldNet, imported when a case runs
(clinic imports this module).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from safetensors.torch import load_file, load_model, save_file, save_model
from torch import nn
from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present

from app.ml.labs import Case, Facts, Namespace, Proof

if TYPE_CHECKING:  # clinic imports this module: at run time OldNet comes through _old_net()
    from app.ml.labs.clinic import OldNet

StateDict = dict[str, torch.Tensor]


def _old_net() -> type[OldNet]:
    from app.ml.labs.clinic import OldNet

    return OldNet


def _same_tensors(a: StateDict, b: StateDict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class CompileWrapper(nn.Module):
    """What torch.compile(model) returns, as state_dict sees it: a module that holds the model as
    its ``_orig_mod`` attribute (torch._dynamo's OptimizedModule), so every key gets
    ``_orig_mod.``. Building it directly avoids importing the compiler for a file of keys; a test
    checks the names against a real torch.compile wrapper."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self._orig_mod = model


class TinyLM(nn.Module):
    """A language model whose output layer is tied to its input embedding."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.lm_head = nn.Linear(4, 10, bias=False)
        self.lm_head.weight = self.embed.weight  # weight tying: two names, one tensor


# ------------------------------------------------------------------ setups


def _setup_resume_order(root: Path) -> tuple[Namespace, dict[str, float]]:
    OldNet = _old_net()
    torch.manual_seed(0)
    net = OldNet()
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    net(torch.randn(8, 8)).sum().backward()
    opt.step()
    torch.save({"model": net.state_dict(), "optimizer": opt.state_dict()}, root / "checkpoint.pt")
    return {"OldNet": OldNet}, {"step": float(opt.state[net.fc.weight]["step"])}


def _setup_unfreeze(root: Path) -> tuple[Namespace, StateDict]:
    OldNet = _old_net()
    torch.manual_seed(0)
    net = OldNet()
    for p in net.body.parameters():  # phase 1: the body is frozen, only the head trains
        p.requires_grad = False
    opt = torch.optim.SGD(net.fc.parameters(), lr=0.01, momentum=0.9)
    net(torch.randn(8, 8)).sum().backward()
    opt.step()
    torch.save(
        {"model": net.state_dict(), "optimizer": opt.state_dict(), "phase": "head"}, root / "phase1.pt"
    )
    return {"OldNet": OldNet}, {"momentum": opt.state[net.fc.weight]["momentum_buffer"].clone()}


def _setup_compile(root: Path) -> tuple[Namespace, StateDict]:
    OldNet = _old_net()
    torch.manual_seed(0)
    compiled = CompileWrapper(OldNet())  # what `model = torch.compile(model)` leaves in a script
    torch.save(compiled.state_dict(), root / "compiled_checkpoint.pt")
    names = {
        "OldNet": OldNet,
        "consume_prefix_in_state_dict_if_present": consume_prefix_in_state_dict_if_present,
    }
    return names, compiled._orig_mod.state_dict()


PREDS = [3, 1, 4, 1, 5]


def _setup_numpy(root: Path) -> tuple[Namespace, dict[str, list[int]]]:
    OldNet = _old_net()
    torch.manual_seed(0)
    np.random.seed(0)
    return {"OldNet": OldNet, "np": np}, {"preds": PREDS}


def _setup_shared(root: Path) -> tuple[Namespace, dict[str, Any]]:
    torch.manual_seed(0)
    names = {
        "TinyLM": TinyLM,
        "save_file": save_file,
        "load_file": load_file,
        "save_model": save_model,
        "load_model": load_model,
    }
    return names, {}


# ------------------------------------------------------------------ evidence


def _module(ns: Namespace, name: str = "model") -> nn.Module | None:
    value = ns.get(name)
    return value if isinstance(value, nn.Module) else None


def _evidence_resume_order(ns: Namespace, ref: dict[str, float]) -> tuple[Facts, Proof]:
    model, opt = _module(ns), ns.get("optimizer")
    if model is None or not isinstance(opt, torch.optim.Optimizer):
        return {}, {"params_float64": False, "state_matches_params": False, "adam_state_restored": False}
    head = model.get_parameter("fc.weight")
    state = opt.state.get(head, {})
    params = list(model.parameters())
    facts: Facts = {
        "param_dtype": str(head.dtype),
        "exp_avg_dtype": str(state["exp_avg"].dtype) if "exp_avg" in state else "",
        "adam_step": float(state["step"]) if "step" in state else 0.0,
        "saved_step": ref["step"],
    }
    matches = all(
        "exp_avg" in opt.state.get(p, {})
        and opt.state[p]["exp_avg"].dtype == p.dtype
        and opt.state[p]["exp_avg_sq"].dtype == p.dtype
        for p in params
    )
    # One step after resuming: the saved step count plus one (a fresh optimizer would say 1).
    return facts, {
        "params_float64": all(p.dtype == torch.float64 for p in params),
        "state_matches_params": matches,
        "adam_state_restored": facts["adam_step"] == ref["step"] + 1,
    }


def _evidence_unfreeze(ns: Namespace, ref: StateDict) -> tuple[Facts, Proof]:
    model, opt = _module(ns), ns.get("optimizer")
    if model is None or not isinstance(opt, torch.optim.Optimizer):
        return {}, {"momentum_restored": False, "body_in_optimizer": False}
    groups = opt.param_groups
    in_opt = {id(p) for g in groups for p in g["params"]}
    buf = opt.state.get(model.get_parameter("fc.weight"), {}).get("momentum_buffer")
    facts: Facts = {
        "params_per_group": [len(g["params"]) for g in groups],
        "lr_per_group": [g["lr"] for g in groups],
    }
    return facts, {
        "momentum_restored": buf is not None and torch.equal(buf, ref["momentum"]),
        "body_in_optimizer": all(id(p) in in_opt for p in model.get_submodule("body").parameters()),
    }


def _evidence_compile(ns: Namespace, ref: StateDict) -> tuple[Facts, Proof]:
    model, r = _module(ns), ns.get("result")
    facts: Facts = {
        "missing_keys": list(getattr(r, "missing_keys", [])),
        "unexpected_keys": list(getattr(r, "unexpected_keys", [])),
        "keys_now": list(ns.get("state") or {}),
        "weights_equal": bool(model is not None and _same_tensors(model.state_dict(), ref)),
    }
    return facts, {
        "weights_equal": facts["weights_equal"],
        "no_missing_or_unexpected": not facts["missing_keys"] and not facts["unexpected_keys"],
    }


def _evidence_numpy(ns: Namespace, ref: dict[str, list[int]]) -> tuple[Facts, Proof]:
    model, ckpt = _module(ns), ns.get("ckpt")
    unsafe = sorted(torch.serialization.get_unsafe_globals_in_checkpoint("checkpoint.pt"))
    try:  # what any later reader meets: the file as it is, with the protection on
        torch.load("checkpoint.pt", weights_only=True)
        safe = True
    except Exception:
        safe = False
    ckpt = ckpt if isinstance(ckpt, dict) else {}
    preds = ckpt.get("val_preds")
    facts: Facts = {
        "unsafe_globals_in_file": unsafe,
        "val_preds_type": f"{type(preds).__module__}.{type(preds).__name__}" if preds is not None else "",
        "numpy_rng_type": type(ckpt.get("numpy_rng")).__name__ if "numpy_rng" in ckpt else "",
    }
    preds_equal = preds is not None and np.asarray(preds).tolist() == ref["preds"]
    weights = bool(
        model is not None
        and isinstance(ckpt.get("model"), dict)
        and _same_tensors(ckpt["model"], model.state_dict())
    )
    return facts, {
        "file_loads_with_weights_only": safe and not unsafe,
        "preds_equal": preds_equal,
        "weights_equal": weights,
    }


def _evidence_shared(ns: Namespace, ref: dict[str, Any]) -> tuple[Facts, Proof]:
    model, restored = _module(ns), _module(ns, "restored")
    path = "model.safetensors"
    facts: Facts = {
        "keys_in_file": sorted(load_file(path)) if os.path.exists(path) else [],
        "file_bytes": os.path.getsize(path) if os.path.exists(path) else 0,
    }
    if model is None or restored is None:
        return facts, {"weights_equal": False, "still_tied": False}
    return facts, {
        "weights_equal": _same_tensors(restored.state_dict(), model.state_dict()),
        "still_tied": restored.get_parameter("lm_head.weight") is restored.get_parameter("embed.weight"),
    }


CASES: dict[str, Case] = {
    "resume_order": {
        "title": "The optimizer was built before the model was moved",
        "setup": _setup_resume_order,
        "broken_code": """\
ckpt = torch.load("checkpoint.pt", weights_only=True)
model = OldNet()
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
model.load_state_dict(ckpt["model"])
optimizer.load_state_dict(ckpt["optimizer"])
model.to(torch.float64)            # on this CPU machine it stands in for model.to("cuda")
batch = torch.randn(8, 8, dtype=torch.float64)
model(batch).sum().backward()
optimizer.step()
""",
        "fix_code": """\
ckpt = torch.load("checkpoint.pt", weights_only=True)
model = OldNet().to(torch.float64)                         # build, move (.to("cuda")) ...
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)  # ... then build the optimizer
model.load_state_dict(ckpt["model"])
optimizer.load_state_dict(ckpt["optimizer"])  # its state takes the parameters' dtype and device now
model(batch).sum().backward()
optimizer.step()
""",
        "evidence": _evidence_resume_order,
    },
    "unfreeze_groups": {
        "title": "Unfreezing changed the optimizer's parameter groups",
        "setup": _setup_unfreeze,
        "broken_code": """\
ckpt = torch.load("phase1.pt", weights_only=True)    # saved while the body was frozen
model = OldNet()
model.load_state_dict(ckpt["model"])
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)   # now: train everything
optimizer.load_state_dict(ckpt["optimizer"])
""",
        "fix_code": """\
# ckpt["phase"] == "head": rebuild the groups as they were when the file was written
optimizer = torch.optim.SGD(model.fc.parameters(), lr=0.01, momentum=0.9)
optimizer.load_state_dict(ckpt["optimizer"])
optimizer.add_param_group({"params": model.body.parameters(), "lr": 0.001})   # then unfreeze
""",
        "evidence": _evidence_unfreeze,
    },
    "compile_prefix": {
        "title": "Saved after torch.compile: every key starts with _orig_mod.",
        "setup": _setup_compile,
        "broken_code": """\
model = OldNet()
state = torch.load("compiled_checkpoint.pt", weights_only=True)   # saved after model = torch.compile(model)
model.load_state_dict(state)
""",
        "fix_code": """\
from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present

consume_prefix_in_state_dict_if_present(state, "_orig_mod.")   # edits the dict in place
result = model.load_state_dict(state)
""",
        "evidence": _evidence_compile,
    },
    "numpy_weights_only": {
        "title": "NumPy inside a checkpoint, loaded with weights_only=True",
        "setup": _setup_numpy,
        "broken_code": """\
model = OldNet()
preds = np.array([3, 1, 4, 1, 5])                   # predictions from the metrics code
torch.save({"model": model.state_dict(), "val_preds": preds,
            "numpy_rng": np.random.get_state()},    # the data pipeline's random state
           "checkpoint.pt")
ckpt = torch.load("checkpoint.pt", weights_only=True)
""",
        "fix_code": """\
rng = np.random.default_rng(0)                      # the pipeline draws from a Generator
torch.save({"model": model.state_dict(), "val_preds": torch.from_numpy(preds),
            "numpy_rng": rng.bit_generator.state},  # a dict of ints and strings
           "checkpoint.pt")
ckpt = torch.load("checkpoint.pt", weights_only=True)
rng.bit_generator.state = ckpt["numpy_rng"]
""",
        "evidence": _evidence_numpy,
    },
    "safetensors_shared": {
        "title": "safetensors refuses tensors that share memory",
        "setup": _setup_shared,
        "broken_code": """\
from safetensors.torch import save_file

model = TinyLM()            # lm_head.weight is embed.weight (weight tying)
save_file(model.state_dict(), "model.safetensors")
""",
        "fix_code": """\
from safetensors.torch import load_model, save_model

save_model(model, "model.safetensors")      # stores the shared tensor once
restored = TinyLM()
load_model(restored, "model.safetensors")   # and ties it again through the model
""",
        "evidence": _evidence_shared,
    },
}


CANDIDATES: dict[str, dict[str, str]] = {
    "resume_order": {
        "foreach_false": """\
model = OldNet()
optimizer = torch.optim.Adam(model.parameters(), lr=0.01, foreach=False)   # another kernel
model.load_state_dict(ckpt["model"])
optimizer.load_state_dict(ckpt["optimizer"])
model.to(torch.float64)
model(batch).sum().backward()
optimizer.step()
""",
        "fresh_optimizer": """\
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)   # a new optimizer after the move
model.zero_grad()
model(batch).sum().backward()
optimizer.step()
""",
        "build_move_load": CASES["resume_order"]["fix_code"],
    },
    "unfreeze_groups": {
        "two_groups": """\
optimizer = torch.optim.SGD([{"params": model.fc.parameters()},
                             {"params": model.body.parameters(), "lr": 0.001}],
                            lr=0.01, momentum=0.9)
optimizer.load_state_dict(ckpt["optimizer"])
""",
        "same_groups_then_add": CASES["unfreeze_groups"]["fix_code"],
        "skip_state": """\
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)   # start it afresh
""",
    },
    "compile_prefix": {
        "compile_too": """\
model.compile()                     # compile the new model as well
result = model.load_state_dict(state)
""",
        "strict_false": """\
result = model.load_state_dict(state, strict=False)   # tolerate the unexpected keys
""",
        "consume_prefix": CASES["compile_prefix"]["fix_code"],
    },
    "numpy_weights_only": {
        "allow_reconstruct": """\
with torch.serialization.safe_globals([np._core.multiarray._reconstruct]):   # the one it named
    ckpt = torch.load("checkpoint.pt", weights_only=True)
""",
        "weights_only_false": """\
ckpt = torch.load("checkpoint.pt", weights_only=False)   # turn the protection off
""",
        "plain_types": CASES["numpy_weights_only"]["fix_code"],
    },
    "safetensors_shared": {
        "save_model": CASES["safetensors_shared"]["fix_code"],
        "contiguous": """\
save_file({k: v.contiguous() for k, v in model.state_dict().items()}, "model.safetensors")
""",
        "drop_tied_key": """\
state = model.state_dict()
del state["lm_head.weight"]                 # it is the same tensor anyway
save_file(state, "model.safetensors")
restored = TinyLM()
restored.load_state_dict(load_file("model.safetensors"))
""",
    },
}

"""Lesson 6.1: what a state_dict holds, and that it holds references, not copies."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from app.ml.labs import Namespace, captured, first_values, run_snippet


class LessonModel(nn.Module):
    """The lesson's small model."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(10, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


class SmallCNN(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, kernel_size=3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, kernel_size=3, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(0.2),
            nn.Linear(16, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class MLPDropout(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(20, 32),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(32, 32),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(32, 3),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


MODELS: dict[str, tuple[str, Callable[[], nn.Module]]] = {
    "linear": ("The lesson's model: one Linear(10, 2) layer.", LessonModel),
    "cnn_bn": ("A small CNN with BatchNorm: parameters plus running-statistics buffers.", SmallCNN),
    "mlp_dropout": ("An MLP with Dropout: ReLU and Dropout add nothing to the state_dict.", MLPDropout),
}


def _owner(key: str) -> str:
    # "features.1.running_mean" -> "features.1"; a root-level entry has owner "".
    return key.rpartition(".")[0]


def explore(model_name: str) -> dict[str, Any]:
    if model_name not in MODELS:
        return {"ok": False, "error": f"unknown model {model_name!r}; choose one of {sorted(MODELS)}"}
    description, builder = MODELS[model_name]
    torch.manual_seed(0)
    model = builder()
    modules = dict(model.named_modules())
    param_keys = {k for k, _ in model.named_parameters()}
    entries = []
    for key, t in model.state_dict().items():
        owner = _owner(key)
        entries.append(
            {
                "key": key,
                "shape": list(t.shape),
                "dtype": str(t.dtype).removeprefix("torch."),
                "numel": t.numel(),
                "bytes": t.numel() * t.element_size(),
                "kind": "parameter" if key in param_keys else "buffer",
                "module": owner,
                "module_type": type(modules[owner]).__name__,
            }
        )
    owners = {e["module"] for e in entries}
    # Only leaf modules: containers (Sequential, the model itself) hold nothing of their own
    # either, but listing them would hide the point that ReLU/Dropout/pooling have no state.
    stateless = [
        {"name": name, "type": type(m).__name__}
        for name, m in model.named_modules()
        if name and not any(True for _ in m.children()) and name not in owners
    ]
    params = [e for e in entries if e["kind"] == "parameter"]
    buffers = [e for e in entries if e["kind"] == "buffer"]
    return {
        "ok": True,
        "model": model_name,
        "description": description,
        "code": inspect.getsource(builder),
        "entries": entries,
        "stateless_modules": stateless,
        "totals": {
            "parameters": sum(e["numel"] for e in params),
            "buffers": sum(e["numel"] for e in buffers),
            "bytes": sum(e["bytes"] for e in entries),
            "entries": len(entries),
        },
    }


# Two parts, so the watched values can be read at the moment of "saving";
# REFERENCE_CODE is exactly their concatenation and is what the page shows.
_SAVE = """\
model = LessonModel()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

best = model.state_dict()                       # no copy: references to the live tensors
best_copy = copy.deepcopy(model.state_dict())   # an independent snapshot
"""
_TRAIN = """\
for _ in range(3):                              # keep training after "saving the best"
    loss = model(x).pow(2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
"""
REFERENCE_CODE = "\n".join((_SAVE, _TRAIN))
WATCHED = "fc.weight"


def reference_demo(seed: int = 0) -> dict[str, Any]:
    torch.manual_seed(seed)
    ns: Namespace = {"torch": torch, "copy": copy, "LessonModel": LessonModel, "x": torch.randn(16, 10)}
    exc = run_snippet(_SAVE, ns)
    if exc is None:
        alias_before = first_values(ns["best"][WATCHED])
        exc = run_snippet(_TRAIN, ns)
    if exc is not None:  # not expected; report rather than raise
        return {"ok": False, **captured(exc), "code": REFERENCE_CODE}
    alias, snapshot = ns["best"][WATCHED], ns["best_copy"][WATCHED]
    live = ns["model"].state_dict()[WATCHED]
    return {
        "ok": True,
        "code": REFERENCE_CODE,
        "key": WATCHED,
        "steps": 3,
        "alias_before": alias_before,
        "alias_after": first_values(alias),
        "copy": first_values(snapshot),
        "live_after": first_values(live),
        "alias_changed": first_values(alias) != alias_before,
        "copy_changed": first_values(snapshot) != alias_before,
        "alias_is_live": torch.equal(alias, live),
        "alias_shares_memory": alias.data_ptr() == live.data_ptr(),
    }

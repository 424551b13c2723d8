"""Finding the pieces of training state in a loaded checkpoint, by their structure.

A piece is recognised by what it holds, not by the key it sits under: an optimizer's
state_dict has "state" and "param_groups", a scheduler's has "last_epoch" and its LRs, torch's
CPU generator state is 5,056 bytes, Python's is a version-3 tuple of 625 words. Key names only
decide between two pieces of the same shape (the global torch RNG or a data-order generator).

Everything here reads an object that torch.load(weights_only=True) already built; nothing is
called on it but type checks, len() and .shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

RNG_CPU_BYTES = 5056  # torch.get_rng_state() and torch.Generator().get_state(): MT19937
RNG_CUDA_BYTES = 16  # torch.cuda.get_rng_state(): Philox seed and offset
DATA_WORDS = ("data", "sampler", "loader", "order", "shuffle", "perm", "dl_")
COUNTER_WORDS = ("epoch", "step", "iter")
EMA_WORDS = ("ema", "averaged", "swa", "shadow")
BUFFER_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked", "_extra_state", "n_averaged")
MAX_NODES = 50_000  # containers visited, at most: a walk of any file stays bounded
MAX_DEPTH = 8


def empty() -> dict:
    """Pieces found so far: lists, so a folder's files can be merged by extending them."""
    return {
        "weights": [],
        "ema": [],
        "optimizers": [],
        "schedulers": [],
        "scalers": [],
        "counters": [],
        "torch_cpu": [],
        "torch_cuda": [],
        "numpy": [],
        "python": [],
        "data_gen": [],
        "loaders": [],
        "top_keys": [],
    }


def merge(into: dict, other: dict) -> dict:
    for key, value in other.items():
        into.setdefault(key, []).extend(value)
    return into


def _str_keys(m: Mapping) -> bool:
    return all(isinstance(k, str) for k in m)


def is_optimizer(m: Any) -> bool:
    groups = m.get("param_groups") if isinstance(m, Mapping) else None
    return (
        isinstance(m, Mapping)
        and isinstance(m.get("state"), Mapping)
        and isinstance(groups, (list, tuple))
        and all(isinstance(g, Mapping) and "params" in g for g in groups)
    )


def is_scheduler(m: Any) -> bool:
    return (
        isinstance(m, Mapping)
        and isinstance(m.get("last_epoch"), int)
        and any(k in m for k in ("base_lrs", "_step_count", "_last_lr"))
    )


def is_scaler(m: Any) -> bool:
    return isinstance(m, Mapping) and "scale" in m and "growth_factor" in m


def is_loader_state(m: Any) -> bool:
    return isinstance(m, Mapping) and any(
        k in m for k in ("_num_yielded", "_sampler_iter_yielded", "_sampler_iter_state")
    )


def torch_rng(x: Any) -> str | None:
    if isinstance(x, torch.Tensor) and x.dtype == torch.uint8 and x.dim() == 1:
        if x.numel() == RNG_CPU_BYTES:
            return "cpu"
        if x.numel() == RNG_CUDA_BYTES:
            return "cuda"
    return None


def python_rng(x: Any) -> bool:
    return (
        isinstance(x, (tuple, list))
        and len(x) == 3
        and x[0] == 3
        and isinstance(x[1], (tuple, list))
        and len(x[1]) == 625
    )


def numpy_rng(x: Any) -> dict | None:
    """NumPy's legacy get_state() tuple, or a Generator's bit_generator.state dict."""
    if isinstance(x, (tuple, list)) and len(x) == 5 and x[0] == "MT19937":
        return {"bit_generator": "MT19937", "form": "legacy", "array": type(x[1]).__name__ == "ndarray"}
    if isinstance(x, Mapping) and isinstance(x.get("bit_generator"), str) and "state" in x:
        state = x["state"]
        arrays = isinstance(state, Mapping) and any(type(v).__name__ == "ndarray" for v in state.values())
        return {"bit_generator": x["bit_generator"], "form": "generator", "array": arrays}
    return None


def is_state_dict(m: Any) -> bool:
    """A model's state_dict: string keys, (almost) every value a tensor, not an RNG state."""
    if not isinstance(m, Mapping) or not m or not _str_keys(m):
        return False
    tensors = [v for v in m.values() if isinstance(v, torch.Tensor)]
    if not tensors or len(tensors) < 0.8 * len(m):
        return False
    return not all(torch_rng(t) for t in tensors)


def _words(path: str, words: tuple[str, ...]) -> bool:
    low = path.lower()
    return any(w in low for w in words)


def weights_info(path: str, sd: Mapping) -> dict:
    """The parameters in state_dict order (the order model.parameters() gives, which is the order
    an optimizer built from it numbers them), buffers left out."""
    params = [
        [k, list(v.shape)]
        for k, v in sd.items()
        if isinstance(v, torch.Tensor) and v.is_floating_point() and not k.endswith(BUFFER_SUFFIXES)
    ]
    keys = [k for k in sd if isinstance(k, str)]
    prefixes = [
        p for p in ("module.", "_orig_mod.") if keys and sum(k.startswith(p) for k in keys) > len(keys) / 2
    ]
    return {"path": path, "tensors": len(keys), "params": params, "prefixes": prefixes}


def optimizer_info(path: str, m: Mapping) -> dict:
    groups = []
    ids: list = []
    for g in m["param_groups"]:
        params = list(g.get("params") or [])
        ids.extend(params)
        groups.append(
            {
                "params": len(params),
                "lr": _num(g.get("lr")),
                "initial_lr": _num(g.get("initial_lr")),
            }
        )
    state = m["state"]
    shapes: list[list[list[int]] | None] = []
    for pid in ids:  # by position: what load_state_dict will pair with the i-th parameter
        st = state.get(pid)
        if isinstance(st, Mapping):
            shapes.append([list(v.shape) for v in st.values() if isinstance(v, torch.Tensor) and v.dim() > 0])
        else:
            shapes.append(None)
    return {"path": path, "groups": groups, "count": len(ids), "with_state": len(state), "shapes": shapes}


def scheduler_info(path: str, m: Mapping) -> dict:
    return {
        "path": path,
        "last_epoch": m.get("last_epoch"),
        "step_count": m.get("_step_count"),
        "base_lrs": [_num(x) for x in m.get("base_lrs") or []] or None,
        "last_lr": [_num(x) for x in m.get("_last_lr") or []] or None,
    }


def _num(x: Any) -> float | None:
    if isinstance(x, bool):
        return None
    if isinstance(x, (int, float)):
        return float(x)
    if isinstance(x, torch.Tensor) and x.numel() == 1 and not x.is_meta:
        return float(x)
    return None


def collect(obj: Any, where: str = "") -> dict:
    """Every piece of training state in obj, each with the dotted path that holds it."""
    found = empty()
    if isinstance(obj, Mapping):
        found["top_keys"] = [str(k)[:80] for k in list(obj)[:40]]
    stack: list[tuple[str, Any, int]] = [(where, obj, 0)]
    visited = 0
    while stack and visited < MAX_NODES:
        path, node, depth = stack.pop()
        visited += 1
        if _piece(found, path, node):
            continue
        if depth >= MAX_DEPTH:
            continue
        if isinstance(node, Mapping):
            kids = [(str(k), v) for k, v in node.items()]
        elif isinstance(node, (list, tuple)) and not isinstance(node, torch.Size):
            kids = [(str(i), v) for i, v in enumerate(node)]
        else:
            continue
        for key, value in reversed(kids):
            stack.append((f"{path}.{key}" if path else key, value, depth + 1))
    return found


def _piece(found: dict, path: str, node: Any) -> bool:
    """Record node if it is a piece; True when it is one (its inside is not walked further)."""
    label = path or "(root)"
    if is_optimizer(node):
        found["optimizers"].append(optimizer_info(label, node))
    elif is_scheduler(node):
        found["schedulers"].append(scheduler_info(label, node))
    elif is_scaler(node):
        found["scalers"].append({"path": label, "scale": _num(node.get("scale"))})
    elif is_loader_state(node):
        found["loaders"].append({"path": label, "kind": "StatefulDataLoader"})
    elif is_state_dict(node):
        info = weights_info(label, node)
        ema = "n_averaged" in node or _words(path, EMA_WORDS)
        found["ema" if ema else "weights"].append(info)
    elif (kind := torch_rng(node)) is not None:
        if kind == "cpu" and _words(path, DATA_WORDS):
            found["data_gen"].append({"path": label})
        else:
            found["torch_cpu" if kind == "cpu" else "torch_cuda"].append({"path": label})
    elif python_rng(node):
        found["python"].append({"path": label})
    elif (np_state := numpy_rng(node)) is not None:
        found["numpy"].append({"path": label, **np_state})
    elif isinstance(node, int) and not isinstance(node, bool) and path and path.count(".") <= 1:
        if _words(path, COUNTER_WORDS):
            found["counters"].append({"path": label, "value": node})
        return True
    elif isinstance(node, (list, tuple)) and path and _words(path.rsplit(".", 1)[-1], ("order", "perm")):
        if node and all(isinstance(i, int) for i in node[:16]):
            found["loaders"].append({"path": label, "kind": "order"})
            return True
        return False
    elif isinstance(node, torch.Tensor) and _words(path.rsplit(".", 1)[-1], ("order", "perm")):
        if not node.is_floating_point():
            found["loaders"].append({"path": label, "kind": "order"})
        return True
    else:
        return False
    return True

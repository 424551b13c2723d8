"""The inspector's key tree: a loaded checkpoint flattened to dotted paths, bounded on every axis.

Leaves past the cap are counted, not shown. A file with a few top-level groups (a Lightning
checkpoint: state_dict, optimizer_states, lr_schedulers, loops, callbacks, hyper_parameters)
gets a fair share of the cap for each group, and a group cut short ends in a summary line, so a
big state_dict never hides the small groups after it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import torch

MAX_GROUPS = 50  # a root with more children than this is cut in key order, as a flat dict


def no_more() -> dict:
    """How many of each kind of entry exist beyond what the report shows."""
    return {"leaves": 0, "globals": 0, "metadata": 0, "zip_entries": 0, "notes": 0}


def short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _stats(t: torch.Tensor, limit: int) -> dict | None:
    if not t.is_floating_point() or t.numel() == 0 or t.layout != torch.strided or t.is_meta:
        return None
    flat = t.detach().reshape(-1)[:limit].to(torch.float64)
    finite = flat[torch.isfinite(flat)]
    n = finite.numel()
    out: dict[str, Any] = {
        "mean": None,
        "std": None,
        "min": None,
        "max": None,
        "sampled": flat.numel() < t.numel(),
        "elements": flat.numel(),
        "nonfinite": flat.numel() - n,
    }
    if n:
        out.update(
            mean=float(finite.mean()),
            std=float(finite.std()) if n > 1 else 0.0,
            min=float(finite.min()),
            max=float(finite.max()),
        )
    return out


def make_leaf(path: str, obj: Any, limits: dict) -> dict:
    leaf: dict[str, Any] = {
        "path": path,
        "kind": "other",
        "shape": None,
        "dtype": None,
        "numel": None,
        "bytes": None,
        "stats": None,
        "value": None,
    }
    if isinstance(obj, torch.Tensor):
        leaf.update(
            kind="tensor",
            shape=list(obj.shape),
            dtype=str(obj.dtype).removeprefix("torch."),
            numel=obj.numel(),
            bytes=obj.numel() * obj.element_size(),
        )
        try:
            leaf["stats"] = _stats(obj, limits["stats_elements"])
        except Exception:
            leaf["stats"] = None
        return leaf
    chars = limits["value_chars"]
    if isinstance(obj, bool):
        leaf.update(kind="bool", value=str(obj))
    elif isinstance(obj, int):
        leaf.update(kind="int", value=short(str(obj), chars))
    elif isinstance(obj, float):
        leaf.update(kind="float", value=repr(obj))
    elif isinstance(obj, str):
        leaf.update(kind="str", value=short(obj, chars))
    elif obj is None:
        leaf.update(kind="none", value="None")
    elif isinstance(obj, (bytes, bytearray)):
        leaf.update(value=short(repr(bytes(obj[:chars])), chars))  # no repr of a huge blob
    else:
        leaf.update(value=short(repr(obj), chars))
    return leaf


def _children(obj: Any, key_chars: int) -> list | None:
    """(key, value) pairs of a container, or None for a leaf. Keys are cut to key_chars here,
    so no path is ever built from the full text of a hostile key."""
    if isinstance(obj, Mapping):
        return [(_key(k, key_chars), v) for k, v in obj.items()]
    if isinstance(obj, (list, tuple)) and not isinstance(obj, torch.Size):
        return [(str(i), v) for i, v in enumerate(obj)]
    return None


def _key(k: Any, limit: int) -> str:
    if isinstance(k, str):
        if len(k) <= limit:
            return k
        # Two long keys that differ only past the cut (two ModelCheckpoint callbacks' states)
        # must stay two paths: the cut key ends in a few hex digits of the whole key's hash.
        digest = hashlib.sha1(k.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        return k[: max(1, limit - 10)] + "…~" + digest
    if isinstance(k, (int, float, bool)) or k is None:
        return short(str(k), limit)
    return short(f"<{type(k).__name__}>", limit)  # no repr of an arbitrary (maybe huge) object


def _join(path: str, key: str, limit: int) -> str:
    joined = f"{path}.{key}" if path else key
    if len(joined) <= limit:
        return joined
    # Cut the middle, keep the last key: siblings deep in a long path stay distinct.
    return path[: max(0, limit - len(key) - 2)] + "…." + key


def _walk(start: list, cap: int, limits: dict, seen: dict) -> tuple[list[dict], list]:
    """Leaves in order until cap; returns them and the stack of what was not walked."""
    leaves: list[dict] = []
    stack = list(start)
    key_chars, path_chars = limits["key_chars"], limits["path_chars"]
    while stack:
        path, node, depth = stack.pop()
        if len(leaves) >= cap:
            stack.append((path, node, depth))
            break
        kids = _children(node, key_chars)
        if kids is None:
            leaves.append(make_leaf(path or "(root)", node, limits))
            continue
        if id(node) in seen:  # shared or cyclic container: show it once
            leaves.append(
                {
                    **make_leaf(path, None, limits),
                    "kind": "other",
                    "value": short(f"(same object as {seen[id(node)] or '(root)'})", path_chars),
                }
            )
            continue
        seen[id(node)] = path
        if not kids or depth >= limits["max_depth"]:
            text = (
                ("{}" if isinstance(node, Mapping) else "[]")
                if not kids
                else f"(nested deeper than {limits['max_depth']} levels)"
            )
            leaves.append({**make_leaf(path or "(root)", None, limits), "kind": "other", "value": text})
            continue
        for key, value in reversed(kids):  # reversed: the stack pops them in order
            stack.append((_join(path, key, path_chars), value, depth + 1))
    return leaves, stack


def build_tree(obj: Any, limits: dict) -> dict:
    """Flatten nested dicts/lists to dotted paths; iterative, so depth and cycles are bounded."""
    cap = limits["max_leaves"]
    kids = _children(obj, limits["key_chars"])
    groups = kids is not None and 1 < len(kids) <= MAX_GROUPS and any(_children(v, 1) for _k, v in kids)
    if not groups:
        seen: dict[int, str] = {}
        leaves, stack = _walk([("", obj, 0)], cap, limits, seen)
        totals = totals_of(leaves)
        more = _count_rest(stack, seen, limits, totals)
        return {
            "tree": leaves,
            "truncated": more > 0,
            "totals": totals,
            "more": {**no_more(), "leaves": more},
        }
    assert kids is not None
    # Each top-level group walked up to the whole cap, then the cap shared out: groups that
    # need less than an equal share give the rest to those that need more.
    walked = []
    for key, value in kids:
        seen = {id(obj): ""}
        leaves, stack = _walk([(key, value, 1)], cap, limits, seen)
        group_totals = totals_of([])
        rest = _count_rest(stack, seen, limits, group_totals)
        walked.append((key, leaves, rest, group_totals))
    need = [len(w[1]) for w in walked]
    share = _shares(need, cap - len(walked))
    out: list[dict] = []
    totals = totals_of([])
    more = 0
    for (key, leaves, rest, group_totals), n in zip(walked, share, strict=True):
        shown, hidden = leaves[:n], leaves[n:]
        out += shown
        hidden_totals = totals_of(hidden)
        for name in totals:
            totals[name] += totals_of(shown)[name] + hidden_totals[name] + group_totals[name]
        cut = len(hidden) + rest
        if cut:
            more += cut
            out.append(_summary(key, cut, hidden_totals, group_totals, limits))
    return {"tree": out, "truncated": more > 0, "totals": totals, "more": {**no_more(), "leaves": more}}


def _shares(need: list[int], cap: int) -> list[int]:
    """Water-filling: every group gets what it needs up to an equal share of what is left."""
    share = [0] * len(need)
    left = max(cap, len(need))
    open_ = [i for i in range(len(need))]
    while open_ and left > 0:
        each = max(1, left // len(open_))
        for i in list(open_):
            add = min(each, need[i] - share[i], left)
            share[i] += add
            left -= add
            if share[i] >= need[i]:
                open_.remove(i)
            if left <= 0:
                break
    return share


def _summary(key: str, cut: int, hidden: dict, rest: dict, limits: dict) -> dict:
    """One line standing for the leaves of a group that the cap left out."""
    leaf = make_leaf(short(f"{key}.…", limits["path_chars"]), None, limits)
    leaf.update(
        kind="more",
        value=str(cut),
        numel=hidden["numel"] + rest["numel"],
        bytes=hidden["tensor_bytes"] + rest["tensor_bytes"],
    )
    return leaf


def _count_rest(stack: list, seen: dict, limits: dict, totals: dict) -> int:
    """Leaves past the cap are counted (and their tensors added to the totals), not shown:
    the learner sees "… N more" and the real size of the file's content."""
    more = 0
    budget = limits["count_limit"]
    ids = set(seen)
    while stack and budget > 0:
        _path, node, depth = stack.pop()
        budget -= 1
        if isinstance(node, Mapping):
            kids = list(node.values())
        elif isinstance(node, (list, tuple)) and not isinstance(node, torch.Size):
            kids = list(node)
        else:
            kids = None
        if kids is None or not kids or id(node) in ids or depth >= limits["max_depth"]:
            more += 1
            if isinstance(node, torch.Tensor):
                totals["tensors"] += 1
                totals["numel"] += node.numel()
                totals["tensor_bytes"] += node.numel() * node.element_size()
            continue
        ids.add(id(node))
        stack.extend((None, kid, depth + 1) for kid in kids)
    more += len(stack)  # not walked (count_limit reached): at least one leaf each
    totals["leaves"] += more
    return more


def totals_of(leaves: list[dict]) -> dict:
    tensors = [x for x in leaves if x["kind"] == "tensor"]
    return {
        "leaves": len(leaves),
        "tensors": len(tensors),
        "numel": sum(x["numel"] for x in tensors),
        "tensor_bytes": sum(x["bytes"] for x in tensors),
    }


def verdict(safe: bool | None, summary: str) -> dict[str, Any]:
    """The safety verdict's fields, as every reader starts them: no pickled global looked at yet."""
    return {
        "safe": safe,
        "summary": summary,
        "reason": None,
        "globals": [],
        "globals_complete": True,
        "checked": [],
        "allowlist": None,
        "numpy_keys": None,
    }

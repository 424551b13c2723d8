"""What the inspector says about a pickle's globals, and the size bound on a whole report."""

from __future__ import annotations

import json
from typing import Any

import torch
import torch.serialization

from app.ml.labs.inspect_tree import short

# What torch's weights-only unpickler says when a pickle names code it will not run (see
# torch/_weights_only_unpickler.py); its other refusals (an opcode it does not implement, a
# malformed stream) say nothing about safety.
_CODE_REFUSALS = (
    "Unsupported global",
    "unrecognized function",
    "unsupported class",
    "Can only build",
    "Unsupported class",
    "not an allowed global",
)


def allowed_globals() -> set[str]:
    try:
        from torch._weights_only_unpickler import _get_allowed_globals

        allowed = set(_get_allowed_globals())
    except (ImportError, AttributeError):  # a private helper: never let its absence break a verdict
        allowed = set()
    for g in torch.serialization.get_safe_globals():
        g = g[0] if isinstance(g, tuple) else g
        allowed.add(f"{getattr(g, '__module__', '')}.{getattr(g, '__qualname__', '')}")
    return allowed


def asks_for_code(text: str, globals_: list[str]) -> bool:
    if any(marker in text for marker in _CODE_REFUSALS):
        return True
    # The refusal came from something else (an opcode torch does not implement comes first in
    # the stream), but the pickle also names code outside torch's allowlist: that is still a
    # refusal on safety grounds, never "just unsupported".
    allowed = allowed_globals()
    return any(g not in allowed for g in globals_)


def _size(obj: Any) -> int:
    return len(json.dumps(obj, ensure_ascii=False, default=str).encode())


def bounded(res: dict, limits: dict) -> dict:
    """The report cut to fit limits['report_bytes'] of JSON, every cut counted in res['more'].

    The caps above already bound each part; this is the guarantee on the whole, measured on
    the real encoding, so the web process never receives (or stores, or renders) more."""
    budget = limits["report_bytes"]
    chars = limits["error_chars"]
    for key in ("error", "filename"):
        if isinstance(res.get(key), str):
            res[key] = short(res[key], chars if key == "error" else 255)
    if res.get("verdict") and isinstance(res["verdict"].get("reason"), str):
        res["verdict"]["reason"] = short(res["verdict"]["reason"], chars)
    notes = res.get("notes") or []
    res["notes"] = [short(n, 500) for n in notes[: limits["max_notes"]]]
    res["more"]["notes"] = len(notes) - len(res["notes"])
    if _size(res) <= budget:
        return res
    tree = res["tree"]
    res["tree"] = []
    room = budget - _size(res) - 64  # 64: the digits of the counts that change below
    kept = 0
    for leaf in tree:
        room -= _size(leaf) + 2
        if room < 0:
            break
        kept += 1
    res["tree"] = tree[:kept]
    res["more"]["leaves"] += len(tree) - kept
    res["truncated"] = res["truncated"] or kept < len(tree)
    if _size(res) <= budget:
        return res
    # Only a pathological mix of every other part gets here: keep the counts, drop the lists.
    if res.get("zip"):
        res["more"]["zip_entries"] = len(res["zip"]["entries"])
        res["zip"]["entries"], res["zip"]["entries_truncated"] = [], True
    if res.get("verdict"):
        res["more"]["globals"] += len(res["verdict"]["globals"])
        res["verdict"]["globals"] = []
    if res.get("metadata"):
        res["more"]["metadata"] += len(res["metadata"])
        res["metadata"] = {}
    return res

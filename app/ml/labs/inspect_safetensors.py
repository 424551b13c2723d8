"""The inspector's reading of a safetensors file: a JSON header and raw tensor bytes, no pickle."""

from __future__ import annotations

import json
import struct
from typing import Any

from app.ml.labs import captured, error_text, resume_audit
from app.ml.labs.checkpoint_folder import safetensors_weights
from app.ml.labs.inspect_tree import make_leaf, short, totals_of, verdict
from app.ml.labs.resume_parts import empty


def refuse(res: dict, stage: str, message: str, exc: BaseException | None = None) -> dict:
    res.update(ok=False, stage=stage, error=message, error_type=None)
    if exc is not None:  # a library's own failure: keep its type and exact text
        res.update(captured(exc))
    return res


def read_safetensors(res: dict, path: str, limits: dict) -> dict:
    size = res["bytes"]
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8).ljust(8, b"\0"))
        if n > limits["max_header_bytes"] or 8 + n > size or n < 2:
            return refuse(
                res,
                "limits",
                f"The safetensors header declares {n} bytes; the file has {size} "
                f"bytes and the limit is {limits['max_header_bytes']}. Nothing was parsed.",
            )
        sent = res.get("sent")
        if sent and 8 + n > sent["head"]:
            return refuse(
                res,
                "limits",
                f"The safetensors header declares {n:,} bytes, more than the first {sent['head']:,} bytes "
                "that were sent: it cannot be read from them.",
            )
        raw = f.read(n)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        return refuse(res, "format", error_text(exc), exc)
    if not isinstance(header, dict):
        return refuse(res, "format", "The safetensors header is JSON but not an object.")
    meta = header.get("__metadata__")
    if isinstance(meta, dict):
        shown = list(meta.items())[: limits["max_metadata"]]
        res["metadata"] = {
            short(str(k), limits["key_chars"]): short(str(v), limits["value_chars"]) for k, v in shown
        }
        res["more"]["metadata"] = len(meta) - len(shown)
    del raw, meta
    if res.get("reading") == "header":
        keys = [k for k in header if k != "__metadata__"]
        leaves = {key: _header_leaf(key, header[key], limits) for key in keys[: limits["max_leaves"]]}
    else:
        from safetensors import safe_open

        try:
            with safe_open(path, framework="pt", device="cpu") as sf:  # validates header and offsets
                keys = list(sf.keys())
                leaves = {key: _tensor_leaf(sf, key, limits) for key in keys[: limits["max_leaves"]]}
        except Exception as exc:
            return refuse(res, "load", error_text(exc), exc)
    del header
    tree = list(leaves.values())
    for leaf in tree:
        leaf["path"] = short(leaf["path"], limits["path_chars"])
    res.update(tree=tree, totals=totals_of(tree), truncated=len(keys) > limits["max_leaves"])
    res["more"]["leaves"] = len(keys) - len(tree)
    res["totals"]["leaves"] += res["more"]["leaves"]
    res["verdict"] = verdict(
        True, "safetensors holds a JSON header and raw tensor bytes: loading it runs no code."
    )
    found = empty()
    found["weights"].append(safetensors_weights(path, limits))
    found["weights"][0]["path"] = "(root)"
    res["kind"] = "safetensors_weights"
    res["audit"] = resume_audit.judge(found, "safetensors_weights")
    res.update(ok=True, stage="done")
    return res


_BYTES = {"F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2, "I16": 2, "U16": 2}


def _header_leaf(key: str, entry: object, limits: dict) -> dict:
    """A tensor as the header declares it: shape and dtype, no data read (header-only reading)."""
    leaf = make_leaf(key, None, limits)
    if not isinstance(entry, dict):
        return leaf
    shape = [int(d) for d in entry.get("shape") or [] if isinstance(d, int)]
    numel = 1
    for d in shape:
        numel *= d
    dtype = str(entry.get("dtype", ""))
    leaf.update(
        kind="tensor", shape=shape, dtype=dtype, numel=numel, bytes=numel * _BYTES.get(dtype, 1), value=None
    )
    return leaf


def _tensor_leaf(sf: Any, key: str, limits: dict) -> dict:
    sl = sf.get_slice(key)
    shape = list(sl.get_shape())
    inner = 1
    for d in shape[1:]:
        inner *= d
    if shape and shape[0] * inner > limits["stats_elements"] and inner:
        # Read only the leading rows the stats need, not a possibly huge tensor.
        part = sl[: max(1, limits["stats_elements"] // inner)]
        leaf = make_leaf(key, part, limits)
        numel = shape[0] * inner
        leaf.update(shape=shape, numel=numel, bytes=numel * part.element_size())
        if leaf["stats"]:
            leaf["stats"]["sampled"] = True
        return leaf
    return make_leaf(key, sf.get_tensor(key), limits)

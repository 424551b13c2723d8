"""CheckpointInspector: look inside a user's own, untrusted checkpoint file.

Safety comes first and in order: extension, empty file, the real format (sniffed from the
bytes, never trusted from the name), size limits checked on the declared sizes BEFORE any
data is read, a static listing of the pickle's globals (no unpickling), and only then
torch.load(..., weights_only=True). Never weights_only=False and never plain pickle: a
malicious pickle is refused by the weights-only unpickler before any of its code can run.

Every key and string is returned as plain text; escaping is the web layer's job.
"""

from __future__ import annotations

import json
import os
import pickle
import struct
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.serialization

from app.ml.labs import captured, error_text
from app.ml.labs.ptfile import find_data_pkl, iter_globals

TORCH_EXTENSIONS = (".pt", ".pth", ".bin", ".ckpt")
SAFETENSORS_EXTENSIONS = (".safetensors",)

MB = 1024 * 1024
DEFAULT_LIMITS = {
    "max_file_bytes": 1024 * MB,  # the web layer's upload cap should be lower still
    "max_header_bytes": 100 * MB,  # safetensors JSON header
    "max_zip_entries": 10_000,
    "max_declared_bytes": 2048 * MB,  # sum of the zip's declared uncompressed sizes
    "max_pickle_bytes": 32 * MB,  # data.pkl is disassembled in pure Python
    # What a report shows is bounded on every axis, and each cut is counted ("… N more"): a
    # 4 KB pickle can name 1,000-character keys nested 50 deep whose joined paths run to
    # 90 MB. The report's JSON must also fit report_bytes, checked here, in the sandbox,
    # before anything is sent back to the web process.
    "max_leaves": 1000,
    "max_depth": 24,  # state dicts nest ~6 deep; optimizer states ~5
    "key_chars": 80,  # one key (one segment of a dotted path)
    "path_chars": 300,  # a whole dotted path
    "max_globals": 100,
    "max_metadata": 50,
    "max_notes": 10,
    "error_chars": 2000,
    "count_limit": 1_000_000,  # leaves counted (not shown) past max_leaves, at most
    "report_bytes": 512 * 1024,
    "stats_elements": 2_000_000,  # stats use at most this many leading elements
    "value_chars": 200,
    "zip_entries_shown": 200,
}

_LEGACY_MAGIC = pickle.dumps(torch.serialization.MAGIC_NUMBER, protocol=2)[:-1]  # without STOP


# ------------------------------------------------------------------ result helpers


def _result(filename: str, size: int | None = None) -> dict:
    return {
        "ok": False,
        "filename": filename,
        "extension": Path(filename).suffix.lower(),
        "format": None,
        "bytes": size,
        "stage": None,
        "error_type": None,
        "error": None,
        "verdict": None,
        "zip": None,
        "metadata": None,
        "tree": [],
        "truncated": False,
        "totals": {"leaves": 0, "tensors": 0, "numel": 0, "tensor_bytes": 0},
        "notes": [],
        "more": _no_more(),
    }


def _no_more() -> dict:
    """How many of each kind of entry exist beyond what the report shows."""
    return {"leaves": 0, "globals": 0, "metadata": 0, "zip_entries": 0, "notes": 0}


def _refuse(res: dict, stage: str, message: str, exc: BaseException | None = None) -> dict:
    res.update(ok=False, stage=stage, error=message, error_type=None)
    if exc is not None:  # a library's own failure: keep its type and exact text
        res.update(captured(exc))
    return res


def _sniff(head: bytes) -> str | None:
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "torch-zip"
    if head.startswith(_LEGACY_MAGIC):
        return "torch-legacy"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "pickle"  # a pickle, but not one torch.save wrote
    if len(head) >= 9 and head[8:9] == b"{":
        return "safetensors"
    return None


# ------------------------------------------------------------------ tree


def _stats(t: torch.Tensor, limit: int) -> dict | None:
    if not t.is_floating_point() or t.numel() == 0 or t.layout != torch.strided or t.is_meta:
        return None
    flat = t.detach().reshape(-1)[:limit].to(torch.float64)
    finite = flat[torch.isfinite(flat)]
    n = finite.numel()
    out = {
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


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _leaf(path: str, obj: Any, limits: dict) -> dict:
    leaf = {
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
        leaf.update(kind="int", value=_short(str(obj), chars))
    elif isinstance(obj, float):
        leaf.update(kind="float", value=repr(obj))
    elif isinstance(obj, str):
        leaf.update(kind="str", value=_short(obj, chars))
    elif obj is None:
        leaf.update(kind="none", value="None")
    elif isinstance(obj, (bytes, bytearray)):
        leaf.update(value=_short(repr(bytes(obj[:chars])), chars))  # no repr of a huge blob
    else:
        leaf.update(value=_short(repr(obj), chars))
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
        return _short(k, limit)
    if isinstance(k, (int, float, bool)) or k is None:
        return _short(str(k), limit)
    return _short(f"<{type(k).__name__}>", limit)  # no repr of an arbitrary (maybe huge) object


def _join(path: str, key: str, limit: int) -> str:
    joined = f"{path}.{key}" if path else key
    if len(joined) <= limit:
        return joined
    # Cut the middle, keep the last key: siblings deep in a long path stay distinct.
    return path[: max(0, limit - len(key) - 2)] + "…." + key


def build_tree(obj: Any, limits: dict | None = None) -> dict:
    """Flatten nested dicts/lists to dotted paths; iterative, so depth and cycles are bounded."""
    limits = {**DEFAULT_LIMITS, **(limits or {})}
    leaves: list[dict] = []
    seen: dict[int, str] = {}
    stack = [("", obj, 0)]
    key_chars, path_chars = limits["key_chars"], limits["path_chars"]
    while stack:
        path, node, depth = stack.pop()
        if len(leaves) >= limits["max_leaves"]:
            stack.append((path, node, depth))
            break
        kids = _children(node, key_chars)
        if kids is None:
            leaves.append(_leaf(path or "(root)", node, limits))
            continue
        if id(node) in seen:  # shared or cyclic container: show it once
            leaves.append(
                {
                    **_leaf(path, None, limits),
                    "kind": "other",
                    "value": _short(f"(same object as {seen[id(node)] or '(root)'})", path_chars),
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
            leaves.append({**_leaf(path or "(root)", None, limits), "kind": "other", "value": text})
            continue
        for key, value in reversed(kids):  # reversed: the stack pops them in order
            stack.append((_join(path, key, path_chars), value, depth + 1))
    totals = _totals(leaves)
    more = _count_rest(stack, seen, limits, totals)
    return {"tree": leaves, "truncated": more > 0, "totals": totals, "more": {**_no_more(), "leaves": more}}


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


def _totals(leaves: list[dict]) -> dict:
    tensors = [x for x in leaves if x["kind"] == "tensor"]
    return {
        "leaves": len(leaves),
        "tensors": len(tensors),
        "numel": sum(x["numel"] for x in tensors),
        "tensor_bytes": sum(x["bytes"] for x in tensors),
    }


# ------------------------------------------------------------------ formats


def _torch_load(path: str, mmap: bool) -> Any:
    # torch.load picks safetensors by the PATH's extension (torch >= 2.10); the content was
    # already sniffed, so a path ending in .safetensors is handed over as an open file. mmap
    # (tensors stay on disk: cheap on memory) needs a path, so it is used only otherwise.
    if os.fspath(path).endswith(".safetensors"):
        with open(path, "rb") as f:
            return torch.load(f, map_location="cpu", weights_only=True)
    return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)


def _load_torch(res: dict, path: str, mmap: bool, limits: dict) -> dict:
    """torch.load with weights_only=True, and nothing else, ever."""
    globals_ = res["verdict"]["globals"]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                obj = _torch_load(path, mmap)
            finally:
                # torch's warnings (e.g. an unusual pickle protocol) belong in the report.
                res["notes"].extend(_short(str(w.message), 500) for w in caught)
    except pickle.UnpicklingError as exc:
        text = error_text(exc)
        if not _asks_for_code(text, globals_):
            # e.g. protocol 0's LIST opcode: torch's unpickler does not implement it. That is
            # "a pickle torch cannot read", not "a pickle that wants to run code".
            res["verdict"].update(safe=None, summary="")
            return _refuse(res, "unsupported", text, exc)
        res["verdict"].update(
            safe=False,
            reason=text,
            summary="Refused by torch's weights-only unpickler: the file asks for code "
            "that is not on the allowlist. Nothing in it was executed.",
        )
        res.update(ok=True, stage="load")
        return res
    except Exception as exc:
        return _refuse(res, "load", error_text(exc), exc)
    res["verdict"].update(
        safe=True,
        summary="Loaded with weights_only=True: only tensors, numbers, strings and plain containers.",
    )
    if any(not g.startswith(("torch.", "collections.", "builtins.", "__builtin__.")) for g in globals_):
        res["notes"].append(
            "The pickle names globals outside torch and the standard containers, "
            "but torch's allowlist accepted them."
        )
    tree = build_tree(obj, limits)
    res["more"]["leaves"] = tree.pop("more")["leaves"]
    res.update(ok=True, stage="done", **tree)
    return res


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


def _allowed_globals() -> set[str]:
    try:
        from torch._weights_only_unpickler import _get_allowed_globals

        allowed = set(_get_allowed_globals())
    except (ImportError, AttributeError):  # a private helper: never let its absence break a verdict
        allowed = set()
    for g in torch.serialization.get_safe_globals():
        g = g[0] if isinstance(g, tuple) else g
        allowed.add(f"{getattr(g, '__module__', '')}.{getattr(g, '__qualname__', '')}")
    return allowed


def _asks_for_code(text: str, globals_: list[str]) -> bool:
    if any(marker in text for marker in _CODE_REFUSALS):
        return True
    # The refusal came from something else (an opcode torch does not implement comes first in
    # the stream), but the pickle also names code outside torch's allowlist: that is still a
    # refusal on safety grounds, never "just unsupported".
    allowed = _allowed_globals()
    return any(g not in allowed for g in globals_)


def _torch_zip(res: dict, path: str, limits: dict) -> dict:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > limits["max_zip_entries"]:
                return _refuse(
                    res,
                    "limits",
                    f"The zip lists {len(infos)} entries; the limit is "
                    f"{limits['max_zip_entries']}. Nothing was read.",
                )
            declared = sum(i.file_size for i in infos)
            stored = sum(i.compress_size for i in infos)
            res["zip"] = {
                "count": len(infos),
                "declared_bytes": declared,
                "entries": [
                    {
                        "name": _short(i.filename, limits["path_chars"]),
                        "file_size": i.file_size,
                        "compress_size": i.compress_size,
                    }
                    for i in infos[: limits["zip_entries_shown"]]
                ],
                "entries_truncated": len(infos) > limits["zip_entries_shown"],
            }
            res["more"]["zip_entries"] = max(0, len(infos) - limits["zip_entries_shown"])
            if declared > limits["max_declared_bytes"]:
                return _refuse(
                    res,
                    "limits",
                    f"The zip declares {declared} bytes of content, more than the "
                    f"limit of {limits['max_declared_bytes']}. Nothing was read.",
                )
            if any(i.compress_type != zipfile.ZIP_STORED for i in infos):
                return _refuse(
                    res,
                    "limits",
                    "The zip has compressed entries. torch.save never compresses, "
                    "and a compressed entry's real size is only known by inflating it.",
                )
            if any(i.file_size != i.compress_size for i in infos) or stored > res["bytes"]:
                return _refuse(
                    res,
                    "limits",
                    "The zip's declared sizes do not match the bytes it holds. Nothing was read.",
                )
            pkl = find_data_pkl([i.filename for i in infos])
            if pkl is None:
                return _refuse(
                    res,
                    "format",
                    "A zip file, but not one written by torch.save (no '<archive>/data.pkl' entry).",
                )
            if zf.getinfo(pkl).file_size > limits["max_pickle_bytes"]:
                return _refuse(res, "limits", f"data.pkl is larger than {limits['max_pickle_bytes']} bytes.")
            data = zf.read(pkl)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        return _refuse(res, "format", error_text(exc), exc)
    res["verdict"] = _verdict_start(data, res, limits)
    return _load_torch(res, path, mmap=True, limits=limits)


def _verdict_start(data, res: dict, limits: dict) -> dict:
    verdict = {"safe": None, "summary": "", "reason": None, "globals": [], "globals_complete": True}
    found: dict[str, None] = {}
    more = 0
    try:
        # Up to 4 pickles: a legacy file starts with magic, version and sys-info pickles.
        for name in iter_globals(data, max_pickles=4):
            name = _short(name, limits["key_chars"] * 2)
            if name in found:
                continue
            if len(found) < limits["max_globals"]:
                found[name] = None
            else:
                more += 1  # may count a repeated long tail twice: "at least N more"
    except Exception:
        verdict["globals_complete"] = False
    verdict["globals"] = list(found)
    res["more"]["globals"] = more
    return verdict


def _pickle_file(res: dict, path: str, limits: dict) -> dict:
    with open(path, "rb") as f:
        res["verdict"] = _verdict_start(f, res, limits)
    if res["format"] == "pickle":
        res["notes"].append("A plain pickle, not written by torch.save.")
    return _load_torch(res, path, mmap=False, limits=limits)


def _safetensors(res: dict, path: str, limits: dict) -> dict:
    size = res["bytes"]
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8).ljust(8, b"\0"))
        if n > limits["max_header_bytes"] or 8 + n > size or n < 2:
            return _refuse(
                res,
                "limits",
                f"The safetensors header declares {n} bytes; the file has {size} "
                f"bytes and the limit is {limits['max_header_bytes']}. Nothing was parsed.",
            )
        raw = f.read(n)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        return _refuse(res, "format", error_text(exc), exc)
    if not isinstance(header, dict):
        return _refuse(res, "format", "The safetensors header is JSON but not an object.")
    meta = header.get("__metadata__")
    if isinstance(meta, dict):
        shown = list(meta.items())[: limits["max_metadata"]]
        res["metadata"] = {
            _short(str(k), limits["key_chars"]): _short(str(v), limits["value_chars"]) for k, v in shown
        }
        res["more"]["metadata"] = len(meta) - len(shown)
    del raw, header, meta
    from safetensors import safe_open

    try:
        with safe_open(path, framework="pt", device="cpu") as sf:  # validates header and offsets
            keys = list(sf.keys())
            leaves = {key: _safetensor_leaf(sf, key, limits) for key in keys[: limits["max_leaves"]]}
    except Exception as exc:
        return _refuse(res, "load", error_text(exc), exc)
    tree = list(leaves.values())
    for leaf in tree:
        leaf["path"] = _short(leaf["path"], limits["path_chars"])
    res.update(tree=tree, totals=_totals(tree), truncated=len(keys) > limits["max_leaves"])
    res["more"]["leaves"] = len(keys) - len(tree)
    res["totals"]["leaves"] += res["more"]["leaves"]
    res["verdict"] = {
        "safe": True,
        "reason": None,
        "globals": [],
        "globals_complete": True,
        "summary": "safetensors holds a JSON header and raw tensor bytes: loading it runs no code.",
    }
    res.update(ok=True, stage="done")
    return res


def _safetensor_leaf(sf, key: str, limits: dict) -> dict:
    sl = sf.get_slice(key)
    shape = list(sl.get_shape())
    inner = 1
    for d in shape[1:]:
        inner *= d
    if shape and shape[0] * inner > limits["stats_elements"] and inner:
        # Read only the leading rows the stats need, not a possibly huge tensor.
        part = sl[: max(1, limits["stats_elements"] // inner)]
        leaf = _leaf(key, part, limits)
        numel = shape[0] * inner
        leaf.update(shape=shape, numel=numel, bytes=numel * part.element_size())
        if leaf["stats"]:
            leaf["stats"]["sampled"] = True
        return leaf
    return _leaf(key, sf.get_tensor(key), limits)


# ------------------------------------------------------------------ entry point


def inspect_file(path: str, filename: str, limits: dict | None = None) -> dict:
    limits = {**DEFAULT_LIMITS, **(limits or {})}
    return bounded(_inspect(path, filename, limits), limits)


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
            res[key] = _short(res[key], chars if key == "error" else 255)
    if res.get("verdict") and isinstance(res["verdict"].get("reason"), str):
        res["verdict"]["reason"] = _short(res["verdict"]["reason"], chars)
    notes = res.get("notes") or []
    res["notes"] = [_short(n, 500) for n in notes[: limits["max_notes"]]]
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


def _inspect(path: str, filename: str, limits: dict) -> dict:
    filename = os.path.basename(filename or "")
    res = _result(filename)
    ext = res["extension"]
    if ext not in TORCH_EXTENSIONS + SAFETENSORS_EXTENSIONS:
        return _refuse(
            res,
            "extension",
            f"unsupported extension {ext or '(none)'!r}: expected one of "
            f"{', '.join(TORCH_EXTENSIONS + SAFETENSORS_EXTENSIONS)}",
        )
    try:
        size = os.path.getsize(path)
        res["bytes"] = size
        if size == 0:
            return _refuse(res, "empty", "The file is empty (0 bytes): there is nothing to inspect.")
        if size > limits["max_file_bytes"]:
            return _refuse(
                res, "limits", f"The file has {size} bytes; the limit is {limits['max_file_bytes']}."
            )
        with open(path, "rb") as f:
            head = f.read(16)
        fmt = _sniff(head)
        if fmt is None and ext in SAFETENSORS_EXTENSIONS and size >= 8:
            fmt = "safetensors"  # let the header checks explain what is wrong with it
        if fmt is None:
            return _refuse(
                res,
                "format",
                "Not a PyTorch or safetensors file: the first bytes are "
                f"{head[:8].hex(' ')}, which match no known format.",
            )
        res["format"] = fmt
        expected = "safetensors" if ext in SAFETENSORS_EXTENSIONS else "torch"
        if not fmt.startswith(expected) and fmt != "pickle":
            res["notes"].append(f"The name says {ext}, but the content is {fmt}: the content decides.")
        if fmt == "safetensors":
            return _safetensors(res, path, limits)
        if fmt == "torch-zip":
            return _torch_zip(res, path, limits)
        return _pickle_file(res, path, limits)
    except Exception as exc:
        return _refuse(res, res["stage"] or "inspect", error_text(exc), exc)

"""Loading a checkpoint for the resume audit, and auditing a whole checkpoint folder.

A file is loaded with weights_only=True and nothing else. When torch refuses it only for
NumPy's data classes (an array, a dtype, NumPy 2's per-dtype classes), it is loaded again with
exactly those allowlisted, the way transformers loads its own rng_state.pth: still the
weights-only unpickler, which builds data and calls no other code. The allowlist that worked is
part of the answer, so the learner can use the same one.

Folders (HF Trainer's checkpoint-N/, Accelerate's save_state output, one unzipped upload) are
read file by file with map_location="meta": shapes and counters, no tensor data.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import stat
import zipfile
from pathlib import Path
from typing import Any

import torch
import torch.serialization

from app.ml.labs import resume_audit, resume_parts

MAX_FILES = 200
MAX_JSON_BYTES = 10 * 1024 * 1024
READ_SUFFIXES = (".pt", ".pth", ".bin", ".pkl", ".ckpt", ".tar", ".safetensors")


def _numpy_classes() -> dict[str, Any]:
    """NumPy's data classes by the dotted name a pickle uses for them."""
    try:
        import numpy as np
    except ImportError:
        return {}
    core = getattr(np, "_core", None) or np.core
    objs: list[Any] = [core.multiarray._reconstruct, core.multiarray.scalar, np.ndarray, np.dtype]
    objs += {type(np.dtype(t)) for t in set(np.sctypeDict.values())}
    names = {}
    for obj in objs:
        names[f"{obj.__module__}.{obj.__name__}"] = obj
    # NumPy 1 pickles name numpy.core, NumPy 2 numpy._core; either may be in a file.
    for name in list(names):
        if name.startswith("numpy._core."):
            names.setdefault("numpy.core." + name.removeprefix("numpy._core."), names[name])
    return names


def unsafe_globals(path: str) -> list[str] | None:
    """torch's own list of globals its weights-only loader refuses (zip files only)."""
    try:
        return list(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    except Exception:
        return None


def numpy_allowlist(unsafe: list[str]) -> list[str] | None:
    """The names to allowlist when every refused global is one of NumPy's data classes."""
    known = _numpy_classes()
    if not unsafe or any(name not in known for name in unsafe):
        return None
    return sorted(unsafe)


_BUT_GOT = re.compile(r"<class '([\w.]+)'>")


def load_numpy_allowlisted(path: str, map_location: str, unsafe: list[str]) -> tuple[Any, list[str]]:
    """Load with the NumPy classes torch's checker listed, adding the dtype classes it cannot
    see (NumPy 2 builds each dtype through a class of its own, named only when torch refuses
    it): the loop chapter 7 describes, done here. Returns the object and the allowlist that
    worked; raises the last refusal when a non-NumPy class is asked for."""
    allow = list(unsafe)
    known = _numpy_classes()
    for _ in range(12):
        try:
            return load(path, map_location=map_location, allow=allow), sorted(allow)
        except pickle.UnpicklingError as exc:
            names = [n for n in _BUT_GOT.findall(str(exc)) if n in known and n not in allow]
            if not names:
                raise
            allow += names
    raise pickle.UnpicklingError("the NumPy allowlist did not converge")


def load(path: str, map_location: str = "cpu", mmap: bool = False, allow: list[str] | None = None) -> Any:
    """weights_only=True, with the NumPy classes named in allow (and no others) allowlisted."""
    objs = [_numpy_classes()[n] for n in allow or []]
    with torch.serialization.safe_globals(objs):
        if path.endswith(".safetensors"):
            with open(path, "rb") as f:
                return torch.load(f, map_location=map_location, weights_only=True)
        return torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)


def numpy_paths(obj: Any, limit: int = 5) -> list[str]:
    """Where NumPy objects sit in a loaded checkpoint (the keys that made torch refuse it)."""
    out: list[str] = []
    stack: list[tuple[str, Any, int]] = [("", obj, 0)]
    seen = 0
    while stack and len(out) < limit and seen < resume_parts.MAX_NODES:
        path, node, depth = stack.pop()
        seen += 1
        if type(node).__module__.startswith("numpy"):
            out.append(path or "(root)")
            continue
        if depth > resume_parts.MAX_DEPTH:
            continue
        if isinstance(node, dict):
            stack.extend((f"{path}.{k}" if path else str(k), v, depth + 1) for k, v in node.items())
        elif isinstance(node, (list, tuple)):
            stack.extend((f"{path}.{i}" if path else str(i), v, depth + 1) for i, v in enumerate(node))
    return sorted(out)


def safetensors_weights(path: str, limits: dict) -> dict:
    """A weights entry from the safetensors header alone (its keys are in sorted order)."""
    import struct

    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        if n > limits.get("max_header_bytes", 100 * 1024 * 1024):
            raise ValueError("safetensors header too large")
        header = json.loads(f.read(n))
    sd = {k: v for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)}
    params = [
        [k, list(v.get("shape") or [])]
        for k, v in sd.items()
        if str(v.get("dtype", "")).startswith(("F", "BF")) and not k.endswith(resume_parts.BUFFER_SUFFIXES)
    ]
    prefixes = [p for p in ("module.", "_orig_mod.") if sd and sum(k.startswith(p) for k in sd) > len(sd) / 2]
    return {
        "path": Path(path).name,
        "tensors": len(sd),
        "params": params,
        "prefixes": prefixes,
        "ordered": False,
    }


def _prefixed(found: dict, name: str) -> dict:
    for items in found.values():
        for item in items:
            if isinstance(item, dict) and "path" in item:
                item["path"] = name if item["path"] == "(root)" else f"{name}:{item['path']}"
    return found


def _file(path: Path, limits: dict) -> tuple[dict, dict]:
    """(the file's line in the folder listing, the pieces it holds)."""
    name = path.name
    entry: dict = {
        "name": name[:120],
        "bytes": path.stat().st_size,
        "kind": "other",
        "safe": None,
        "allowlist": None,
        "refused": None,
        "error": None,
    }
    found = resume_parts.empty()
    low = name.lower()
    if low == "trainer_state.json" and entry["bytes"] <= MAX_JSON_BYTES:
        state = json.loads(path.read_text())
        entry.update(kind="hf_trainer_state", safe=True)
        for key in ("global_step", "epoch"):
            if isinstance(state.get(key), (int, float)):
                found["counters"].append({"path": f"{name}:{key}", "value": state[key]})
        # The Trainer puts the data back where it was by skipping global_step batches of the
        # same seeded order: the step count is the loader's position.
        if isinstance(state.get("global_step"), int):
            found["loaders"].append({"path": f"{name}:global_step", "kind": "skip"})
        return entry, found
    if low.endswith(".safetensors"):
        found["weights"].append(safetensors_weights(str(path), limits))
        entry.update(kind="safetensors_weights", safe=True)
        return entry, found
    if not low.endswith(READ_SUFFIXES):
        return entry, found
    if entry["bytes"] > limits.get("max_folder_file_bytes", 16 * 1024**3):
        return entry, found
    try:
        obj = load(str(path), map_location="meta")
        entry["safe"] = True
    except pickle.UnpicklingError:
        unsafe = unsafe_globals(str(path)) or []
        allow = numpy_allowlist(unsafe)
        entry.update(safe=False, refused=unsafe[:20])
        if allow is None:
            entry["kind"] = resume_audit.file_kind(name, None, None, unsafe)
            return entry, found
        obj, entry["allowlist"] = load_numpy_allowlisted(str(path), "meta", allow)
    found = resume_parts.collect(obj)
    entry["kind"] = resume_audit.file_kind(name, obj, found, [])
    if entry["kind"] in ("hf_rng", "accelerate_rng"):
        for state in found["numpy"]:  # the library loads its own file with this allowlist
            state["array"] = False
    return entry, _prefixed(found, name)


def folder_layout(names: list[str]) -> str:
    low = [n.lower() for n in names]
    if "trainer_state.json" in low or any(n.startswith("rng_state") for n in low) or "optimizer.pt" in low:
        return "hf_trainer_folder"
    if any(n.startswith("random_states_") for n in low) or "optimizer.bin" in low:
        return "accelerate_folder"
    if any(n.endswith(".distcp") for n in low):
        return "dcp_folder"
    return "folder"


def audit_folder(folder: str, limits: dict | None = None) -> dict:
    """Every file of a checkpoint folder, and the resume audit of all of them together."""
    limits = limits or {}
    paths = sorted(p for p in Path(folder).iterdir() if p.is_file())[:MAX_FILES]
    found = resume_parts.empty()
    files = []
    for path in paths:
        try:
            entry, part = _file(path, limits)
        except Exception as exc:  # one unreadable file is reported, the rest still audited
            entry = {
                "name": path.name[:120],
                "bytes": path.stat().st_size,
                "kind": "other",
                "safe": None,
                "allowlist": None,
                "refused": None,
                "error": f"{type(exc).__name__}: {str(exc)[:300]}",
            }
            part = resume_parts.empty()
        files.append(entry)
        resume_parts.merge(found, part)
    layout = folder_layout([p.name for p in paths])
    audit = resume_audit.judge(found, layout)
    audit["files"] = files
    return audit


class UnsafeZip(ValueError):
    """A zipped folder that is not unpacked: too big, too many entries, or an unsafe name."""


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _unsafe_name(name: str) -> bool:
    """An absolute path, a drive letter, a '..' step or a NUL: a name that could point outside
    the folder it is unpacked in (flattening alone would hide what the zip tried)."""
    parts = name.replace("\\", "/").split("/")
    return (
        name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts or "\x00" in name
    )


def flat_names(paths: list[str]) -> list[str]:
    """Each entry's file name; two of one name (an FSDP save_state's shards in their own folders)
    keep their folders in the name ("optimizer_0__0_0.distcp"), so neither overwrites the other."""
    base = [p.replace("\\", "/").rsplit("/", 1)[-1] for p in paths]
    out = []
    for path, name in zip(paths, base, strict=True):
        if base.count(name) > 1:
            parts = [x for x in path.replace("\\", "/").split("/") if x]
            name = "__".join(parts[1:] if len(parts) > 2 else parts)
        out.append(name[-200:])
    return out


def unzipped_cap(limits: dict) -> int:
    """How many bytes a zipped folder may unpack to: its files barely compress (tensors), so a
    few times the upload limit is room enough, and a zip bomb is refused before it inflates."""
    cap = limits.get("max_unzipped_bytes") or 4 * limits.get("max_file_bytes", 1024**3)
    return min(int(cap), limits.get("max_declared_bytes", cap))


def extract_folder_zip(path: str, dest: str, limits: dict) -> list[str]:
    """A zipped checkpoint folder, unpacked flat into dest within the inspector's limits: at most
    MAX_FILES entries and unzipped_cap bytes in all (declared, and counted while writing), no
    symlink, no name leading outside the folder, no two files of one name. Returns the names
    extracted; raises UnsafeZip, before writing anything, when the zip is out of bounds."""
    cap = unzipped_cap(limits)
    with zipfile.ZipFile(path) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if len(infos) > MAX_FILES:
            raise UnsafeZip(
                f"the zip holds {len(infos)} files; at most {MAX_FILES} are read. Nothing was unpacked."
            )
        for info in infos:
            if _is_symlink(info):
                raise UnsafeZip(
                    f"the zip holds a symbolic link ({info.filename[:120]!r}). Nothing was unpacked."
                )
            if _unsafe_name(info.filename):
                raise UnsafeZip(
                    f"the zip's entry {info.filename[:120]!r} points outside its folder (an absolute path or "
                    "'..'). Nothing was unpacked."
                )
        declared = sum(i.file_size for i in infos)
        if declared > cap:
            raise UnsafeZip(
                f"the zip's files unpack to {declared:,} bytes, more than the inspector's limit of {cap:,} "
                f"(from {os.path.getsize(path):,} bytes zipped). Nothing was unpacked."
            )
        names = flat_names([i.filename for i in infos])
        written = 0
        for info, name in sorted(zip(infos, names, strict=True), key=lambda p: p[1]):
            # ZipExtFile stops at the declared size and checks the CRC: a lying entry cannot
            # write more than it says; the count is kept anyway.
            with zf.open(info) as src, open(os.path.join(dest, name), "xb") as out:
                while chunk := src.read(1 << 20):
                    written += len(chunk)
                    if written > cap:
                        raise UnsafeZip(f"the zip unpacks to more than {cap:,} bytes. Unpacking stopped.")
                    out.write(chunk)
    return sorted(names)

"""CheckpointInspector: look inside a user's own, untrusted checkpoint file.

Safety comes first and in order: empty file, the real format (sniffed from the bytes, never
trusted from the name or its extension), size limits checked on the declared sizes BEFORE any
data is read, a static listing of the pickle's globals (no unpickling), and only then
torch.load(..., weights_only=True). Never weights_only=False and never plain pickle: a
malicious pickle is refused by the weights-only unpickler before any of its code can run.

Then the resume audit (resume_audit) of what was loaded: what the file is, and whether
training resumes from it exactly. Every key and string is returned as plain text; escaping is
the web layer's job.
"""

from __future__ import annotations

import os
import pickle
import warnings
import zipfile
from pathlib import Path
from typing import IO, Any

import torch
import torch.serialization

from app.ml.labs import captured, checkpoint_folder, error_text, resume_audit, resume_parts
from app.ml.labs.inspect_folder import folder_zip, json_file
from app.ml.labs.inspect_globals import allowed_globals, asks_for_code, bounded
from app.ml.labs.inspect_header import why_not_header
from app.ml.labs.inspect_safetensors import read_safetensors
from app.ml.labs.inspect_tree import build_tree, no_more, short
from app.ml.labs.inspect_tree import verdict as blank_verdict
from app.ml.labs.ptfile import find_data_pkl, iter_globals

# What the file picker suggests; any name is read if its bytes are a checkpoint.
TORCH_EXTENSIONS = (".pt", ".pth", ".bin", ".ckpt", ".tar", ".pkl", ".distcp", ".zip", ".json")
SAFETENSORS_EXTENSIONS = (".safetensors",)

MB = 1024 * 1024
DEFAULT_LIMITS = {
    "max_file_bytes": 1024 * MB,  # the web layer's upload cap should be lower still
    "max_header_file_bytes": 1024 * 1024 * MB,  # above max_file_bytes: header-only reading
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
        "more": no_more(),
        "reading": "full",  # or "header": above the size limit, no tensor data was read
        "kind": None,  # what the file is (resume_audit.file_kind)
        "audit": None,  # will it resume training? (resume_audit.judge)
        "sent": None,  # a web upload read from its head and tail: {"head": bytes, "tail": bytes}
    }


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


# ------------------------------------------------------------------ formats


def _torch_load(path: str, mmap: bool, map_location: str = "cpu", allow: list[str] | None = None) -> Any:
    # torch.load picks safetensors by the PATH's extension (torch >= 2.10); the content was
    # already sniffed, so checkpoint_folder.load hands such a path over as an open file. mmap
    # (tensors stay on disk: cheap on memory) needs a path, so it is used only otherwise.
    return checkpoint_folder.load(path, map_location=map_location, mmap=mmap, allow=allow)


def _load_torch(res: dict, path: str, mmap: bool, limits: dict) -> dict:
    """torch.load with weights_only=True, and nothing else, ever. Above the size limit only the
    pickle is read (map_location="meta": shapes and dtypes, no tensor data)."""
    globals_ = res["verdict"]["globals"]
    header = res["reading"] == "header"
    where = "meta" if header else "cpu"
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                obj = _torch_load(path, mmap and not header, where)
            finally:
                # torch's warnings (e.g. an unusual pickle protocol) belong in the report.
                res["notes"].extend(short(str(w.message), 500) for w in caught)
    except pickle.UnpicklingError as exc:
        text = error_text(exc)
        if not asks_for_code(text, globals_):
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
        return _refused_audit(res, path, where, limits)
    except Exception as exc:
        return _refuse(res, "load", error_text(exc), exc)
    res["verdict"].update(
        safe=True,
        summary="Loaded with weights_only=True: only tensors, numbers, strings and plain containers.",
    )
    _global_verdicts(res, path, refused=[])
    return _tree_and_audit(res, obj, limits)


def _tree_and_audit(res: dict, obj: Any, limits: dict) -> dict:
    tree = build_tree(obj, limits)
    res["more"]["leaves"] = tree.pop("more")["leaves"]
    res.update(ok=True, stage="done", **tree)
    found = resume_parts.collect(obj)
    res["kind"] = resume_audit.file_kind(res["filename"], obj, found, [])
    res["audit"] = resume_audit.judge(found, res["kind"])
    return res


def _global_verdicts(res: dict, path: str, refused: list[str]) -> None:
    """Allowed or refused, per global, as torch's own checker says (not guessed by name)."""
    verdict = res["verdict"]
    unsafe = set(refused)
    verdict["checked"] = [{"name": g, "allowed": g not in unsafe} for g in verdict["globals"]]


def _refused_audit(res: dict, path: str, where: str, limits: dict) -> dict:
    """What the refused file is, and something to act on: the keys that hold the objects
    torch refused, and, for NumPy's data classes, the allowlist that loads it (tried here)."""
    unsafe = checkpoint_folder.unsafe_globals(path)
    if unsafe is None:  # not a zip: torch's checker cannot read it; its allowlist decides
        allowed = allowed_globals()
        unsafe = [g for g in res["verdict"]["globals"] if g not in allowed]
    _global_verdicts(res, path, unsafe)
    kind = resume_audit.file_kind(res["filename"], None, None, unsafe)
    res["kind"] = kind
    allow = checkpoint_folder.numpy_allowlist(unsafe)
    if allow is None:
        code = {"whole_model": "whole_model", "hf_training_args": "training_args"}.get(kind)
        findings = [resume_audit.finding(code)] if code else []
        res["audit"] = {
            "kind": kind,
            "verdict": "not_training",
            "findings": findings,
            "pieces": [],
            "files": None,
        }
        return res
    try:
        obj, allow = checkpoint_folder.load_numpy_allowlisted(path, where, allow)
    except Exception as exc:  # the allowlist was not enough: say so, keep the refusal
        res["notes"].append(short(f"With NumPy's classes allowlisted it still fails: {error_text(exc)}", 500))
        return res
    res["verdict"]["allowlist"] = allow
    res["verdict"]["numpy_keys"] = checkpoint_folder.numpy_paths(obj)
    _tree_and_audit(res, obj, limits)
    res["stage"] = "load"  # refused by default: the tree shown is what the allowlist loads
    return res


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
                        "name": short(i.filename, limits["path_chars"]),
                        "file_size": i.file_size,
                        "compress_size": i.compress_size,
                    }
                    for i in infos[: limits["zip_entries_shown"]]
                ],
                "entries_truncated": len(infos) > limits["zip_entries_shown"],
            }
            res["more"]["zip_entries"] = max(0, len(infos) - limits["zip_entries_shown"])
            pkl = find_data_pkl([i.filename for i in infos])
            if (
                pkl is None
                and checkpoint_folder.folder_layout([Path(i.filename).name for i in infos]) != "folder"
            ):
                return folder_zip(res, path, limits)
            if declared > limits["max_declared_bytes"] and res["reading"] != "header":
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
            if pkl is None:
                return _refuse(
                    res,
                    "format",
                    "A zip file, but not one written by torch.save (no '<archive>/data.pkl' entry).",
                )
            if zf.getinfo(pkl).file_size > limits["max_pickle_bytes"]:
                return _refuse(res, "limits", f"data.pkl is larger than {limits['max_pickle_bytes']} bytes.")
            data = zf.read(pkl)
    except zipfile.BadZipFile as exc:
        if res["sent"]:  # only a head and a tail were sent: say which is short, not "cut off"
            sent = res["sent"]
            return _refuse(
                res,
                "limits",
                f"The first {sent['head']:,} and last {sent['tail']:,} bytes that were sent do not hold the "
                "whole of the zip's directory and its data.pkl, which a header-only reading needs "
                f"({error_text(exc)}).",
            )
        # It starts like a zip (torch.save's format) but zipfile finds no directory at its end:
        # the file was cut off, most often by a crash or a full disk while saving (6.3.2).
        return _refuse(
            res,
            "truncated",
            "The file starts like a torch.save zip archive but its end is missing (no zip directory): "
            f"it was cut off, most likely while it was being written. ({error_text(exc)})",
            exc,
        )
    except (OSError, EOFError, ValueError) as exc:
        return _refuse(res, "format", error_text(exc), exc)
    res["verdict"] = _verdict_start(data, res, limits)
    return _load_torch(res, path, mmap=True, limits=limits)


def _verdict_start(data: bytes | IO[bytes], res: dict, limits: dict) -> dict:
    verdict = blank_verdict(None, "")
    found: dict[str, None] = {}
    more = 0
    try:
        # Up to 4 pickles: a legacy file starts with magic, version and sys-info pickles.
        for name in iter_globals(data, max_pickles=4):
            name = short(name, limits["key_chars"] * 2)
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


# ------------------------------------------------------------------ entry point


def inspect_file(path: str, filename: str, limits: dict | None = None) -> dict:
    limits = {**DEFAULT_LIMITS, **(limits or {})}
    return bounded(_inspect(path, filename, limits), limits)


def _inspect(path: str, filename: str, limits: dict) -> dict:
    filename = os.path.basename(filename or "")
    res = _result(filename)
    res["sent"] = limits.get("sent")
    ext = res["extension"]
    try:
        size = os.path.getsize(path)
        res["bytes"] = size
        if size == 0:
            return _refuse(res, "empty", "The file is empty (0 bytes): there is nothing to inspect.")
        with open(path, "rb") as f:
            head = f.read(16)
        fmt = _sniff(head)
        if fmt is None and ext in SAFETENSORS_EXTENSIONS and size >= 8:
            fmt = "safetensors"  # let the header checks explain what is wrong with it
        if fmt is None and head[:1] == b"{" and ext == ".json" and size <= checkpoint_folder.MAX_JSON_BYTES:
            return json_file(res, path)
        if fmt is None:
            return _refuse(
                res,
                "format",
                "Not a PyTorch, pickle or safetensors file: the first bytes are "
                f"{head[:8].hex(' ')}, which match no known format (the content decides, not the name).",
            )
        res["format"] = fmt
        if (ext in SAFETENSORS_EXTENSIONS) != (fmt == "safetensors") and ext:
            res["notes"].append(f"The name says {ext}, but the content is {fmt}: the content decides.")
        if size > limits["max_file_bytes"]:
            if fmt not in ("torch-zip", "safetensors") or size > limits["max_header_file_bytes"]:
                # Too big for a header-only reading, or a format without a directory to read it by.
                headerless = fmt in ("torch-legacy", "pickle") and size <= limits["max_header_file_bytes"]
                return _refuse(
                    res, "no_header" if headerless else "limits", why_not_header(fmt, size, limits)
                )
            # Bigger than the limit: only the zip's directory and the pickle (or the safetensors
            # header) are read; every tensor is shape and dtype, without its data.
            res["reading"] = "header"
        if fmt == "safetensors":
            return read_safetensors(res, path, limits)
        if fmt == "torch-zip":
            return _torch_zip(res, path, limits)
        return _pickle_file(res, path, limits)
    except Exception as exc:
        return _refuse(res, res["stage"] or "inspect", error_text(exc), exc)

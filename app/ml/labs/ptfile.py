"""Inside a .pt file: a zip archive whose data.pkl is a pickle, read here WITHOUT unpickling.

Only the zip directory and the pickle's opcodes are looked at (pickletools.genops walks the
byte stream; it never imports or calls anything), so these functions are safe on any file.
"""

from __future__ import annotations

import io
import os
import pickletools
import zipfile
from collections.abc import Iterator
from typing import IO

# Opcodes that push a str whose value genops gives us (STACK_GLOBAL takes its module and
# name from the two most recent pushes).
_STRING_OPS = {
    "SHORT_BINUNICODE",
    "BINUNICODE",
    "BINUNICODE8",
    "UNICODE",
    "STRING",
    "BINSTRING",
    "SHORT_BINSTRING",
}
_MEMO_PUT = {"BINPUT", "LONG_BINPUT", "PUT"}
_MEMO_GET = {"BINGET", "LONG_BINGET", "GET"}


def zip_entries(path: str | os.PathLike) -> dict:
    """The archive's directory as the zip declares it; no entry is read."""
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
    entries = [
        {
            "name": i.filename,
            "file_size": i.file_size,
            "compress_size": i.compress_size,
            "compressed": i.compress_type != zipfile.ZIP_STORED,
        }
        for i in infos
    ]
    return {
        "count": len(entries),
        "declared_bytes": sum(e["file_size"] for e in entries),
        "entries": entries,
    }


def find_data_pkl(names: list[str]) -> str | None:
    """torch.save puts the pickle at '<archive name>/data.pkl' (the archive name varies)."""
    hits = [n for n in names if n.count("/") == 1 and n.endswith("/data.pkl")]
    return hits[0] if len(hits) == 1 else None


def iter_globals(data: bytes | IO[bytes], max_pickles: int = 1) -> Iterator[str]:
    """Yield 'module.name' for each GLOBAL / STACK_GLOBAL in up to max_pickles consecutive pickles.

    A generator, so a caller can keep what was found before a malformed opcode stops the walk.
    """
    stream = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    for _ in range(max_pickles):
        if not stream.read(1):
            return
        stream.seek(-1, io.SEEK_CUR)
        pushed: list = []  # recent pushes; only strings matter, anything else is None
        memo: dict = {}
        for op, arg, _pos in pickletools.genops(stream):
            name = op.name
            if name == "GLOBAL":
                module, _, attr = str(arg).partition(" ")
                yield f"{module}.{attr}"
                pushed.append(None)
            elif name == "STACK_GLOBAL":
                top = pushed[-2:] if len(pushed) >= 2 else [None, None]
                ok = isinstance(top[0], str) and isinstance(top[1], str)
                yield f"{top[0]}.{top[1]}" if ok else "<dynamic global>"
                pushed = [*pushed[:-2], None]
            elif name in _STRING_OPS:
                pushed.append(arg if isinstance(arg, str) else bytes(arg or b"").decode("latin-1"))
            elif name in _MEMO_PUT:
                memo[arg] = pushed[-1] if pushed else None
            elif name == "MEMOIZE":
                memo[len(memo)] = pushed[-1] if pushed else None
            elif name in _MEMO_GET:
                pushed.append(memo.get(arg))
            elif op.stack_after:
                pushed.append(None)
            del pushed[:-8]  # only the last two matter; keep a little slack


def globals_in_pickle(data: bytes | IO[bytes], max_pickles: int = 1) -> list[str]:
    """The distinct globals, in order of first appearance (raises on a malformed pickle)."""
    return list(dict.fromkeys(iter_globals(data, max_pickles)))


def pickle_globals(path: str | os.PathLike) -> list[str]:
    """Globals referenced by a torch.save zip's data.pkl (raises for a non-torch zip)."""
    with zipfile.ZipFile(path) as zf:
        name = find_data_pkl(zf.namelist())
        if name is None:
            raise ValueError("no '<archive>/data.pkl' entry: not a torch.save zip file")
        data = zf.read(name)
    return globals_in_pickle(data)


def _role(global_name: str) -> str:
    if global_name == "collections.OrderedDict":
        return "container"
    if global_name.startswith(("builtins.", "__builtin__.")):
        return "Python builtin"
    if global_name.startswith("torch._utils._rebuild") or (
        global_name.startswith("torch.") and global_name.endswith("Storage")
    ):
        return "torch tensor rebuild"
    if global_name.startswith("torch."):
        return "torch class or function"
    return "other code: imported and called when unpickled"


def explain(path: str | os.PathLike) -> dict:
    """Zip directory + pickle globals + size, for the 'inside a .pt file' page."""
    import torch.serialization  # only here: zip_entries/pickle_globals need no torch at all

    try:
        globals_ = pickle_globals(path)
    except Exception as exc:
        return {"ok": False, "error_type": type(exc).__name__, "error": str(exc)}
    # torch's own static check (it disassembles data.pkl too): the globals its weights-only
    # loader would refuse unless they are allowlisted.
    unsafe = set(torch.serialization.get_unsafe_globals_in_checkpoint(os.fspath(path)))
    return {
        "ok": True,
        "bytes": os.path.getsize(path),
        "zip": zip_entries(path),
        "globals": [{"name": g, "role": _role(g), "weights_only_allowed": g not in unsafe} for g in globals_],
        "unsafe_globals": sorted(unsafe),
        "references_own_code": any(_role(g).startswith("other code") for g in globals_),
    }

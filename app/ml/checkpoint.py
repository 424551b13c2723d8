"""Checkpoint files: atomic and naive writers, a crash-while-saving demo, a store, inspection.

A checkpoint is a dict of plain types and tensors only, so that
``torch.load(path, weights_only=True)`` accepts it (numpy arrays would be refused).
"""

from __future__ import annotations

import builtins
import hashlib
import io
import os
import secrets
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO, NoReturn, cast

import torch
from torch import Tensor

from app.ml import layout
from app.ml.layout import TEMP_SUFFIX, checkpoint_name, checkpoint_position

FORMAT = "checkpoint-lab/1"

# ---------------------------------------------------------------- writers


def _temp_file(path: Path) -> tuple[int, Path]:
    # Same folder as the target: os.replace is only atomic within one filesystem.
    # Not tempfile.mkstemp: it creates the file with mode 0600, and os.replace keeps that mode, so
    # a teammate on a shared machine could not read the checkpoint. Asking for 0666 lets the umask
    # decide, as for any new file; O_EXCL still never reuses an existing name.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        name = path.parent / f"{path.name}.{secrets.token_hex(8)}{TEMP_SUFFIX}"
        try:
            return os.open(name, flags, 0o666), name
        except FileExistsError:
            continue


def _fsync_dir(folder: Path) -> None:
    # fsync of the file makes its bytes durable, not the directory entry that names it.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_atomic(obj: Any, path: str | os.PathLike) -> int:
    """Write to a temp file, fsync, rename over ``path``, fsync the folder. Returns bytes."""
    path = Path(path)
    # Serialized in memory first: a write the disk refuses (full, or over a size limit) then fails
    # in Python's own write with its OSError, which torch's C++ writer would report as a bare
    # "unexpected pos" RuntimeError.
    data = io.BytesIO()
    torch.save(obj, data)
    fd, tmp = _temp_file(path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.getbuffer())
            f.flush()
            os.fsync(f.fileno())
            size = f.tell()
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return size


def save_naive(obj: Any, path: str | os.PathLike) -> int:
    """Straight to the final name, truncating the previous file first: the pattern the lesson warns
    against. (Bytes made in memory, as in save_atomic, so that a full disk reads as one.)"""
    data = io.BytesIO()
    torch.save(obj, data)
    with open(path, "wb") as f:
        f.write(data.getbuffer())
    return Path(path).stat().st_size


class _KillingTee(io.RawIOBase):
    """File-like object that copies each chunk to several files and dies at a byte limit."""

    def __init__(self, files: list[BinaryIO], limit: int) -> None:
        super().__init__()
        self.files = files
        self.limit = limit
        self.written = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        cut = min(len(chunk), self.limit - self.written)
        for f in self.files:
            f.write(chunk[:cut])
            f.flush()
        self.written += cut
        if self.written >= self.limit:
            # A real SIGKILL: no finally blocks, no atexit, no flush of anything else.
            os.kill(os.getpid(), signal.SIGKILL)
        return len(chunk)

    def flush(self) -> None:
        for f in self.files:
            f.flush()


def save_crashing(
    obj: Any, atomic_path: str | os.PathLike, naive_path: str | os.PathLike, fraction: float = 0.5
) -> NoReturn:
    """Start saving ``obj`` both ways at once and SIGKILL this process part-way through.

    Leaves a truncated file at ``naive_path`` (its previous content already gone), a
    leftover temp file next to ``atomic_path``, and whatever was at ``atomic_path`` untouched.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError("fraction must be in (0, 1)")
    probe = io.BytesIO()
    torch.save(obj, probe)
    limit = max(1, int(probe.tell() * fraction))
    atomic_path = Path(atomic_path)
    # Opening with "wb" truncates the previous good copy right away, as a naive writer does.
    naive = open(naive_path, "wb", buffering=0)  # noqa: SIM115 (never closed: the process dies mid-write)
    fd, _tmp = _temp_file(atomic_path)
    temp = os.fdopen(fd, "wb", buffering=0)
    torch.save(obj, cast(BinaryIO, _KillingTee([naive, temp], limit)))  # file-like enough for torch.save
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict:
    """Load with weights_only=True: only tensors and plain containers, no arbitrary code."""
    return torch.load(path, map_location=map_location, weights_only=True)


# ---------------------------------------------------------------- store


@dataclass(frozen=True)
class CheckpointInfo:
    epoch: int  # epochs completed
    file: str
    bytes: int
    seconds: float  # time spent saving; 0.0 when only listed from disk
    batch: int = 0  # batches of the next epoch done: 0 at an epoch's end
    batches: int | None = None  # batches per epoch, for a mid-epoch checkpoint

    def to_dict(self) -> dict:
        return asdict(self)


class CheckpointStore:
    """``run_dir/checkpoints/ckpt-epoch-0005.pt`` files, a ``latest`` pointer, a naive copy."""

    def __init__(self, run_dir: str | os.PathLike, keep_last: int) -> None:
        if keep_last < 1:
            raise ValueError("keep_last must be >= 1")
        self.run_dir = Path(run_dir)
        self.keep_last = keep_last
        self.dir = self.run_dir / layout.CHECKPOINT_DIR
        self.pointer = self.dir / layout.POINTER
        self.naive_path = self.run_dir / layout.NAIVE_FILE
        self.final_path = self.run_dir / layout.FINAL_FILE
        self.dir.mkdir(parents=True, exist_ok=True)
        self.naive_path.parent.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def filename(epoch: int, batch: int = 0) -> str:
        return checkpoint_name(epoch, batch)

    @staticmethod
    def _position(ckpt: dict) -> tuple[int, int]:
        sampler = ckpt.get("sampler")
        return int(ckpt["epoch"]), int(sampler["next_batch"]) if sampler else 0

    def path(self, info: CheckpointInfo | str) -> Path:
        return self.dir / (info.file if isinstance(info, CheckpointInfo) else info)

    def save(self, ckpt: dict, batches: int | None = None) -> CheckpointInfo:
        epoch, batch = self._position(ckpt)
        name = self.filename(epoch, batch)
        t0 = time.perf_counter()
        size = save_atomic(ckpt, self.dir / name)
        seconds = time.perf_counter() - t0
        # The pointer moves only once the file it names is durable.
        self._write_pointer(name)
        save_naive(ckpt, self.naive_path)
        self._prune()
        return CheckpointInfo(epoch, name, size, seconds, batch, batches if batch else None)

    def save_crashing(self, ckpt: dict, fraction: float = 0.5) -> NoReturn:
        save_crashing(ckpt, self.dir / self.filename(*self._position(ckpt)), self.naive_path, fraction)

    def list(self) -> list[CheckpointInfo]:
        infos = []
        for p in self.dir.iterdir():
            pos = checkpoint_position(p.name)
            if pos and p.is_file():
                infos.append(CheckpointInfo(pos[0], p.name, p.stat().st_size, 0.0, pos[1]))
        return sorted(infos, key=lambda i: (i.epoch, i.batch))

    def latest(self) -> CheckpointInfo | None:
        """The file the pointer names; the newest listed file if the pointer is missing or stale."""
        try:
            name = self.pointer.read_text().strip()
        except FileNotFoundError:
            name = ""
        pos = checkpoint_position(name)
        if pos and (self.dir / name).is_file():
            return CheckpointInfo(pos[0], name, (self.dir / name).stat().st_size, 0.0, pos[1])
        infos = self.list()
        return infos[-1] if infos else None

    def temp_files(self) -> builtins.list[Path]:  # `list` here is the method above
        return sorted(p for p in self.dir.iterdir() if p.name.endswith(TEMP_SUFFIX))

    def clean_temp(self) -> int:
        """Remove temp files left by writers that died; returns how many were removed."""
        removed = 0
        for p in self.temp_files():
            p.unlink(missing_ok=True)
            removed += 1
        return removed

    def save_final(self, state_dict: dict) -> int:
        return save_atomic(state_dict, self.final_path)

    def load_final(self) -> dict:
        return load_checkpoint(self.final_path)

    def _write_pointer(self, name: str) -> None:
        fd, tmp = _temp_file(self.pointer)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(name + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.pointer)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(self.dir)

    def _prune(self) -> None:
        infos = self.list()
        keep = {i.file for i in infos[-self.keep_last :]}
        latest = self.latest()
        if latest is not None:
            keep.add(latest.file)
        for info in infos:
            if info.file not in keep:
                self.path(info).unlink(missing_ok=True)


# ---------------------------------------------------------------- comparison


def _tensor_bytes(t: Tensor) -> bytes:
    # Viewing as uint8 works for every dtype, including those numpy lacks (bfloat16).
    return t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def weights_hash(state_dict: dict) -> str:
    """sha256 over sorted keys, dtypes, shapes and raw tensor bytes."""
    h = hashlib.sha256()
    for key in sorted(state_dict):
        t = state_dict[key]
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(_tensor_bytes(t))
    return h.hexdigest()


def max_abs_diff(sd_a: dict, sd_b: dict) -> float:
    if sd_a.keys() != sd_b.keys():
        raise ValueError("state dicts have different keys")
    worst = 0.0
    for key in sd_a:
        a, b = sd_a[key], sd_b[key]
        if a.shape != b.shape:
            raise ValueError(f"shape mismatch for {key}: {tuple(a.shape)} vs {tuple(b.shape)}")
        if a.numel():
            worst = max(worst, (a.double() - b.double()).abs().max().item())
    return worst


# ---------------------------------------------------------------- inspection


def _tensor_info(t: Tensor) -> dict:
    return {
        "shape": list(t.shape),
        "dtype": str(t.dtype).removeprefix("torch."),
        "numel": t.numel(),
        "bytes": t.numel() * t.element_size(),
    }


def _plain(v: Any) -> Any:
    """JSON-able view of a value: scalar tensors as numbers, other tensors as summaries."""
    if isinstance(v, Tensor):
        return v.item() if v.numel() == 1 and v.dim() == 0 else _tensor_info(v)
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return repr(v)


def _summary(v: Any) -> tuple[str, int]:
    if isinstance(v, Tensor):
        return f"tensor {list(v.shape)} {str(v.dtype).removeprefix('torch.')}", v.numel()
    if isinstance(v, (dict, list, tuple)):
        return f"{type(v).__name__} of {len(v)}", len(v)
    return repr(v), 1


def describe(ckpt: dict) -> dict:
    """What is inside a checkpoint, as plain JSON-able data for the lesson's inspector."""
    keys = []
    for k, v in ckpt.items():
        text, size = _summary(v)
        keys.append({"key": k, "type": type(v).__name__, "size": size, "summary": text})

    tensors = [{"key": k, **_tensor_info(t)} for k, t in ckpt["model_state_dict"].items()]
    model = {
        "tensors": tensors,
        "numel": sum(t["numel"] for t in tensors),
        "bytes": sum(t["bytes"] for t in tensors),
    }

    opt = ckpt.get("optimizer_state_dict") or {}
    opt_state = []
    for idx, entries in sorted(opt.get("state", {}).items()):
        opt_state.append({"param": idx, "entries": {name: _plain(v) for name, v in entries.items()}})
    groups = [
        {**{k: _plain(v) for k, v in g.items() if k != "params"}, "params": list(g["params"])}
        for g in opt.get("param_groups", [])
    ]

    sched = ckpt.get("scheduler_state_dict")
    rng = ckpt.get("rng") or {}
    py_state = rng.get("python")
    return {
        "format": ckpt.get("format"),
        "epoch": ckpt.get("epoch"),
        "step": ckpt.get("step"),
        "keys": keys,
        "config": _plain(ckpt.get("config")),
        "model": model,
        "optimizer": {"state": opt_state, "param_groups": groups} if opt else None,
        "scheduler": _plain(sched) if sched is not None else None,
        "rng": {
            "python_state_len": len(py_state[1]) if py_state else None,
            "torch_bytes": rng["torch"].numel() if "torch" in rng else None,
            "data_order_bytes": rng["data_order"].numel() if "data_order" in rng else None,
        },
        "loss_history_len": len(ckpt.get("loss_history") or []),
        "sampler": _sampler_summary(ckpt.get("sampler")),
    }


def _sampler_summary(sampler: Any) -> dict | None:
    """A mid-epoch checkpoint's place in its epoch; None for one saved at an epoch's end."""
    if not isinstance(sampler, dict):
        return None
    state = sampler.get("generator_state")
    return {
        "epoch": sampler.get("epoch"),
        "next_batch": sampler.get("next_batch"),
        "generator_bytes": state.numel() if isinstance(state, Tensor) else None,
        "steps_so_far": len(sampler.get("step_losses") or []),
    }

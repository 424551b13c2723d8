"""Where a run keeps its files. Free of torch so the web process can list them cheaply."""

from __future__ import annotations

import os
import re
from pathlib import Path

CHECKPOINT_DIR = "checkpoints"
POINTER = "latest"
NAIVE_FILE = "naive/latest.pt"
FINAL_FILE = "final.pt"
TEMP_SUFFIX = ".tmp"
# What a resume from a mid-epoch checkpoint trained of the interrupted epoch (app/ml/epoch_order.py).
ORDER_FILE = "epoch-order.json"
# ckpt-epoch-0011.pt: after epoch 11. ckpt-epoch-0011-batch-0019.pt: after epoch 11 and 19
# batches of epoch 12 (a mid-epoch checkpoint). Group 1 is always the epochs completed.
CKPT_RE = re.compile(r"^ckpt-epoch-(\d{4,})(?:-batch-(\d{4,}))?\.pt$")


def checkpoint_name(epoch: int, batch: int = 0) -> str:
    return f"ckpt-epoch-{epoch:04d}-batch-{batch:04d}.pt" if batch else f"ckpt-epoch-{epoch:04d}.pt"


def checkpoint_position(name: str) -> tuple[int, int] | None:
    """(epochs completed, batches of the next epoch done) named by a checkpoint file, or None."""
    m = CKPT_RE.match(name)
    return (int(m.group(1)), int(m.group(2) or 0)) if m else None


def _sizes(folder: Path) -> list[tuple[str, int]]:
    """(name, bytes) of the regular files in a folder, as they are at one moment.

    A run's folder changes while it is listed: the atomic writer renames its temp file, keeps
    only the last N checkpoints and deletes the rest, a crash leaves files behind. A file that
    vanishes between the listing and its stat is skipped; a folder that vanishes (a deleted
    run) lists as empty. Nothing here raises for what a running worker does."""
    out = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                try:
                    if entry.is_file(follow_symlinks=False):
                        out.append((entry.name, entry.stat(follow_symlinks=False).st_size))
                except OSError:
                    continue
    except (FileNotFoundError, NotADirectoryError):
        return []
    return out


def list_checkpoints(run_dir: Path) -> list[tuple[int, str, int]]:
    """(epoch, file name, bytes) of the complete checkpoints in a run folder, oldest first
    (a mid-epoch checkpoint after the end of the epoch it continues)."""
    found = []
    for name, size in _sizes(run_dir / CHECKPOINT_DIR):
        pos = checkpoint_position(name)
        if pos:
            found.append((pos, name, size))
    return [(pos[0], name, size) for pos, name, size in sorted(found)]


def temp_files(run_dir: Path) -> list[Path]:
    folder = run_dir / CHECKPOINT_DIR
    return sorted(folder / name for name, _ in _sizes(folder) if TEMP_SUFFIX in name)


def temp_file_sizes(run_dir: Path) -> list[tuple[str, int]]:
    """(name, bytes) of leftover temp files: listed and measured in one tolerant pass."""
    return sorted((name, size) for name, size in _sizes(run_dir / CHECKPOINT_DIR) if TEMP_SUFFIX in name)


def file_size(path: Path) -> int | None:
    """A file's size, or None if it is not there (now)."""
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def latest_pointer(run_dir: Path) -> str | None:
    try:
        return (run_dir / CHECKPOINT_DIR / POINTER).read_text().strip() or None
    except OSError:
        return None

"""Where a run keeps its files. Free of torch so the web process can list them cheaply."""
from __future__ import annotations

import re
from pathlib import Path

CHECKPOINT_DIR = "checkpoints"
POINTER = "latest"
NAIVE_FILE = "naive/latest.pt"
FINAL_FILE = "final.pt"
TEMP_SUFFIX = ".tmp"
CKPT_RE = re.compile(r"^ckpt-epoch-(\d{4,})\.pt$")


def checkpoint_name(epoch: int) -> str:
    return f"ckpt-epoch-{epoch:04d}.pt"


def list_checkpoints(run_dir: Path) -> list[tuple[int, str, int]]:
    """(epoch, file name, bytes) of the complete checkpoints in a run folder, oldest first."""
    folder = run_dir / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = CKPT_RE.match(path.name)
        if match and path.is_file():
            found.append((int(match.group(1)), path.name, path.stat().st_size))
    return sorted(found)


def temp_files(run_dir: Path) -> list[Path]:
    folder = run_dir / CHECKPOINT_DIR
    return sorted(p for p in folder.iterdir() if TEMP_SUFFIX in p.name) if folder.is_dir() else []


def latest_pointer(run_dir: Path) -> str | None:
    try:
        return (run_dir / CHECKPOINT_DIR / POINTER).read_text().strip() or None
    except OSError:
        return None

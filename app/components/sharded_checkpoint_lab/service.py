"""The ShardedCheckpointLab's cases, run on real ranks in the labs' sandbox and shared by everyone
who asks the same question (the model and its seed are fixed); plus what the page shows of them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import Request

from app.components import labs
from app.jobs.sharded_tasks import sharded_ddp, sharded_killed, sharded_reshard, sharded_save


def _run(request: Request, fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    with labs.work_folder(request) as folder:
        return labs.sandbox(request, fn, folder, *args)


def save(request: Request, world: int, sharding: str) -> dict[str, Any]:
    return labs.cached(
        request, ("scl.save", world, sharding), lambda: _run(request, sharded_save, world, sharding)
    )


def reshard(request: Request, world: int, sharding: str, load_world: int) -> dict[str, Any]:
    key = ("scl.reshard", world, sharding, load_world)
    return labs.cached(request, key, lambda: _run(request, sharded_reshard, world, sharding, load_world))


def killed(request: Request, world: int, sharding: str) -> dict[str, Any]:
    key = ("scl.killed", world, sharding)
    return labs.cached(request, key, lambda: _run(request, sharded_killed, world, sharding))


def ddp(request: Request, world: int) -> dict[str, Any]:
    return labs.cached(request, ("scl.ddp", world), lambda: _run(request, sharded_ddp, world))


# --- what the page shows -------------------------------------------------------------------------
def writer_of(file: str) -> int | None:
    """The rank that wrote a DCP file: `__<rank>_0.distcp`; `.metadata` is the coordinator's (rank 0)."""
    if file == ".metadata":
        return 0
    found = re.fullmatch(r"__(\d+)_\d+\.distcp", file)
    return int(found.group(1)) if found else None


def file_rows(saved: dict[str, Any]) -> list[dict[str, Any]]:
    """Each file with its writer and the slices it holds, for the files table."""
    rows = []
    for f in saved["files"]:
        held = [s for s in saved["slices"] if s["file"] == f["name"]]
        rows.append({**f, "rank": writer_of(f["name"]), "slices": held, "metadata": f["name"] == ".metadata"})
    return rows


def worst_diff(loaded: dict[str, Any] | None) -> float | None:
    if not loaded:
        return None
    diffs = [t["max_abs_diff"] for r in loaded["ranks"] for t in r.get("tensors", [])]
    return max(diffs) if diffs else None


def mask_text(mask: list[int]) -> str:
    """A dropout mask as the page prints it: 1 kept, 0 dropped."""
    return "".join(str(v) for v in mask)

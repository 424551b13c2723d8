"""Sandbox entry points of the ShardedCheckpointLab (app.ml.sharded_lab), run with the labs' sandbox.

Each call runs its whole case on real ranks in a fresh work folder: a load is preceded by the save
it loads, so no learner's files outlive the request. torch is imported inside, in the sandbox.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from app.jobs.lab_tasks import _hide_folder

SEED = 0  # the same tiny model for everyone: the answers are shared, the ranks still run for real


def sharded_save(workdir: str, world: int, sharding: str) -> dict[str, Any]:
    from app.ml.sharded_lab import save, sharding_of

    folder = os.path.realpath(workdir)
    return _hide_folder(
        {"save": save(Path(folder), "checkpoint", world, sharding_of(sharding), SEED)}, folder
    )


def sharded_reshard(workdir: str, world: int, sharding: str, load_world: int) -> dict[str, Any]:
    from app.ml.sharded_lab import load, save, sharding_of

    folder = os.path.realpath(workdir)
    saved = save(Path(folder), "checkpoint", world, sharding_of(sharding), SEED)
    loaded = load(Path(folder), "checkpoint", load_world, "sharded", SEED) if saved["complete"] else None
    return _hide_folder({"save": saved, "load": loaded}, folder)


def sharded_killed(workdir: str, world: int, sharding: str) -> dict[str, Any]:
    """Save at step 4, then lose the last rank during the save of step 8: what each rank says, what
    is on disk, what loading the cut folder says, and that step 4 still loads exactly."""
    from app.ml.sharded_lab import load, partial_load_error, save, sharding_of

    folder, kind = os.path.realpath(workdir), sharding_of(sharding)
    out = {
        "before": save(Path(folder), "step-4", world, kind, SEED),
        "during": save(Path(folder), "step-8", world, kind, SEED, steps=8, kill_rank=world - 1),
        "load_error": partial_load_error(Path(folder), "step-8", SEED),
        "previous": load(Path(folder), "step-4", 1, "sharded", SEED),
    }
    return _hide_folder(out, folder)


def sharded_ddp(workdir: str, world: int) -> dict[str, Any]:
    from app.ml.sharded_lab import ddp_rules

    folder = os.path.realpath(workdir)
    return _hide_folder({"ddp": ddp_rules(Path(folder), world, SEED)}, folder)

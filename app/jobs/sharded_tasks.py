"""The ShardedCheckpointLab's experiments (app.ml.sharded_lab) as jobs of their own kind, "sharded".

A learner's experiment waits in the scheduler's line like a run and takes a full-speed place per
rank it runs at once (`places`). Its process is started by the executor like a training run's; it
forks the ranks itself, runs the whole case in a fresh folder of its run (a load is preceded by
the save it loads), removes the files and sends the answer as one "result" event, which the run
service stores with the job. torch is imported inside, in the job's process.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from app.jobs.lab_tasks import _hide_folder

KIND = "sharded"
SEED = 0  # the same tiny model for everyone: the answers are comparable, the ranks still run for real
Case = Literal["save", "reshard", "killed", "ddp"]
CASES: tuple[str, ...] = ("save", "reshard", "killed", "ddp")
WORLDS = (1, 2, 4)
# Wall-clock and CPU budget of one experiment once it runs (not while it waits): four ranks that
# start, meet, train and save twice on a busy two-core laptop, with room to spare.
TIME_LIMIT_S = 60


def parse(config: dict[str, Any]) -> dict[str, Any]:
    """The experiment a config asks for, checked: the case, the worlds and the sharding."""
    case = config.get("case")
    if case not in CASES:
        raise ValueError(f"unknown case {case!r}: one of {', '.join(CASES)}")
    world, load_world = int(config.get("world", 2)), int(config.get("load_world", 1))
    sharding = config.get("sharding", "sharded")
    if world not in WORLDS or load_world not in WORLDS or sharding not in ("replicated", "sharded"):
        raise ValueError("world sizes are 1, 2 or 4 and the sharding replicated or sharded")
    if case in ("killed", "ddp") and world == 1:
        raise ValueError("a world of one has no other rank")
    return {"case": case, "world": world, "sharding": sharding, "load_world": load_world}


def places(config: dict[str, Any]) -> int:
    """Its processes at once: the ranks of the save, or of the load if more (a load on one rank
    runs in the job's own process)."""
    return (
        max(int(config["world"]), int(config["load_world"]))
        if config["case"] == "reshard"
        else int(config["world"])
    )


# --- in the job's process (app/jobs/worker.py) --------------------------------------------------
def run(config: dict[str, Any], run_dir: str, memory_mb: int, send: Callable[[dict], None]) -> None:
    """Run the experiment under the labs' limits, every rank included: wall-clock and CPU time,
    memory per process (RLIMIT_AS, inherited by the forked ranks, which die with this process)."""
    from app.jobs.processes import limit_memory

    def out_of_time(signum: int, frame: Any) -> None:
        raise TimeoutError(f"the experiment ran longer than {TIME_LIMIT_S} s and was stopped")

    signal.signal(signal.SIGALRM, out_of_time)
    signal.alarm(TIME_LIMIT_S)
    resource.setrlimit(resource.RLIMIT_CPU, (TIME_LIMIT_S, TIME_LIMIT_S + 1))
    limit_memory(memory_mb)
    c = parse(config)
    folder = Path(run_dir) / "ranks"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        if c["case"] == "save":
            result = sharded_save(str(folder), c["world"], c["sharding"])
        elif c["case"] == "reshard":
            result = sharded_reshard(str(folder), c["world"], c["sharding"], c["load_world"])
        elif c["case"] == "killed":
            result = sharded_killed(str(folder), c["world"], c["sharding"])
        else:
            result = sharded_ddp(str(folder), c["world"])
    finally:
        signal.alarm(0)
        shutil.rmtree(folder, ignore_errors=True)
    send({"type": "result", "case": c["case"], "result": result})


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

"""Sharded checkpoints across real ranks: torch.distributed on the CPU (gloo), saved and loaded with DCP.

Each rank is a real process. The ranks meet through a FileStore in the run's folder (no ports to
collide in a classroom), train a tiny model for a few steps and save it with
`torch.distributed.checkpoint`: every rank writes its own `__<rank>_0.distcp`, and rank 0, the
coordinator, writes `.metadata` last, once every rank has reported its writes. Each rank's outcome
goes to `rank-<r>.json`, a file that outlives a rank killed on purpose.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import traceback
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

Sharding = Literal["replicated", "sharded"]
RankBody = Callable[[int, int, Path, dict[str, Any]], dict[str, Any]]

PR_SET_PDEATHSIG = 1
STEPS = 4  # optimizer steps before the save: enough for the weights to leave their initial values
COLLECTIVE_TIMEOUT = timedelta(seconds=30)  # a dead peer ends a collective with an error, not a hang


def tiny_model(seed: int) -> nn.Module:
    """Small enough for sixty learners at once; every size divides by 4, so each rank of a world of
    1, 2 or 4 holds whole rows of every weight."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.25), nn.Linear(16, 4))


def batch(seed: int, rank: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The data each rank trains on: its own slice of a fixed stream, as a sampler would hand out."""
    g = torch.Generator().manual_seed(seed * 10_000 + step * 100 + rank)
    x = torch.randn(32, 8, generator=g)
    return x, (x[:, :4].sum(dim=1) > 0).long() + 2 * (x[:, 4:].sum(dim=1) > 0).long()


def wrap(model: nn.Module, sharding: Sharding, world: int) -> nn.Module:
    """Replicated like DDP (every rank holds every weight) or sharded like FSDP (each holds rows)."""
    if sharding == "replicated":
        return nn.parallel.DistributedDataParallel(model)
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    fully_shard(model, mesh=init_device_mesh("cpu", (world,)))
    return model


def train(model: nn.Module, seed: int, rank: int, steps: int = STEPS) -> float:
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = torch.zeros(())
    for step in range(steps):
        x, y = batch(seed, rank, step)
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss.detach())


def full_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """The whole of every weight, gathered from the ranks (a collective: every rank calls it)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    whole = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True))
    return {k: v for k, v in whole.items() if isinstance(v, torch.Tensor)}


def run_ranks(world: int, folder: Path, body: RankBody, args: dict[str, Any]) -> list[dict[str, Any]]:
    """Run `body(rank, world, folder, args)` on `world` ranks and return each rank's outcome.

    The ranks are forked from this process, which has imported torch once (plain os.fork: the
    labs' sandbox is a daemon process, which multiprocessing refuses children). A rank that died
    without a word (SIGKILL) reads as {"exit": -9}."""
    folder.mkdir(parents=True, exist_ok=True)
    store = folder / f"store-{os.getpid()}-{len(list(folder.glob('store-*')))}"
    me, pids = os.getpid(), []
    for rank in range(world):
        pid = os.fork()
        if pid == 0:  # the rank: never returns into the caller's code
            code = 1
            try:
                code = _rank_main(rank, world, folder, store, body, args, me)
            finally:
                os._exit(code)
        pids.append(pid)
    outcomes = []
    for rank, pid in enumerate(pids):
        _, status = os.waitpid(pid, 0)
        path = folder / f"rank-{rank}.json"
        outcome = json.loads(path.read_text()) if path.exists() else {}
        outcomes.append({"rank": rank, "exit": os.waitstatus_to_exitcode(status), **outcome})
        path.unlink(missing_ok=True)
    store.unlink(missing_ok=True)
    return outcomes


def _die_with(parent_pid: int) -> None:
    """A rank must not outlive the process that started it (a sandbox killed for its time limit)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:
        os._exit(1)


def _rank_main(
    rank: int, world: int, folder: Path, store: Path, body: RankBody, args: dict[str, Any], parent_pid: int
) -> int:
    import torch.distributed as dist

    torch.set_num_threads(1)  # forked after torch started: one thread keeps OpenMP out of trouble
    _die_with(parent_pid)
    out: dict[str, Any]
    try:
        dist.init_process_group(
            "gloo",
            store=dist.FileStore(str(store), world),
            rank=rank,
            world_size=world,
            timeout=COLLECTIVE_TIMEOUT,
        )
        out = {"ok": True, **body(rank, world, folder, args)}
    except Exception as exc:  # the learner sees torch's own words for what went wrong
        out = {
            "ok": False,
            "error": f"{type(exc).__name__}: {exc}".strip(),
            "trace": traceback.format_exc(-3),
        }
    (folder / f"rank-{rank}.json").write_text(json.dumps(out))
    if out["ok"] and dist.is_initialized():
        dist.destroy_process_group()  # a failed rank leaves without it: a peer may be gone
    return 0 if out["ok"] else 1


class KillingWriter:
    """A DCP FileSystemWriter whose rank `victim` is SIGKILLed right after writing its shard file,
    before it can tell the coordinator: every data file is on disk, and still no checkpoint is."""

    @staticmethod
    def make(path: Path, rank: int, victim: int) -> Any:
        from torch.distributed.checkpoint import FileSystemWriter

        class _Writer(FileSystemWriter):
            def write_data(self, plan: Any, planner: Any) -> Any:
                future = super().write_data(plan, planner)
                if rank == victim:
                    os.kill(os.getpid(), signal.SIGKILL)
                return future

        return _Writer(str(path))

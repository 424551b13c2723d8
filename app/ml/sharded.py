"""Sharded checkpoints across real ranks: torch.distributed on the CPU (gloo), saved and loaded with DCP.

Each rank is a real process. The ranks meet through a FileStore in the run's folder (no ports to
collide in a classroom), train a tiny model for a few steps and save it with
`torch.distributed.checkpoint`: every rank writes its own `__<rank>_0.distcp`, and rank 0, the
coordinator, writes `.metadata` last, once every rank has reported its writes. Each rank's outcome
goes to `rank-<r>.json`, a file that outlives a rank killed on purpose.
"""

from __future__ import annotations

import json
import multiprocessing as mp
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
    return float(loss)


def full_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """The whole of every weight, gathered from the ranks (a collective: every rank calls it)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    whole = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True))
    return {k: v for k, v in whole.items() if isinstance(v, torch.Tensor)}


def run_ranks(world: int, folder: Path, body: RankBody, args: dict[str, Any]) -> list[dict[str, Any]]:
    """Run `body(rank, world, folder, args)` on `world` ranks and return each rank's outcome.

    The ranks are forked from this process, which has imported torch once; each uses one thread.
    A rank that died without a word (SIGKILL) reads as {"exit": -9}."""
    folder.mkdir(parents=True, exist_ok=True)
    store = folder / f"store-{os.getpid()}-{len(list(folder.glob('store-*')))}"
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_rank_main, args=(r, world, folder, store, body, args)) for r in range(world)]
    for p in procs:
        p.start()
    outcomes = []
    for rank, p in enumerate(procs):
        p.join()
        path = folder / f"rank-{rank}.json"
        outcome = json.loads(path.read_text()) if path.exists() else {}
        outcomes.append({"rank": rank, "exit": p.exitcode, **outcome})
        path.unlink(missing_ok=True)
    store.unlink(missing_ok=True)
    return outcomes


def _rank_main(
    rank: int, world: int, folder: Path, store: Path, body: RankBody, args: dict[str, Any]
) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)  # forked after torch started: one thread keeps OpenMP out of trouble
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
    if dist.is_initialized():
        if out["ok"]:
            dist.destroy_process_group()
        else:  # a peer may be gone: leave without the goodbye collective
            os._exit(1)


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

"""The ShardedCheckpointLab's cases, each on real ranks (app/ml/sharded.py): save across N ranks,
load on M, a rank killed during the save, and DDP's rules for who saves and whose RNG state."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from app.ml.sharded import (
    STEPS,
    KillingWriter,
    Sharding,
    full_weights,
    run_ranks,
    tiny_model,
    train,
    wrap,
)


def sharding_of(name: str) -> Sharding:
    if name not in ("replicated", "sharded"):
        raise ValueError(f"unknown sharding {name!r}: replicated or sharded")
    return "replicated" if name == "replicated" else "sharded"


def expected_path(folder: Path, name: str) -> Path:
    """The saved weights, gathered whole, kept beside (never inside) the checkpoint folder."""
    return folder / f"{name}.expected.pt"


def save(
    folder: Path,
    name: str,
    world: int,
    sharding: Sharding,
    seed: int,
    steps: int = STEPS,
    kill_rank: int | None = None,
) -> dict[str, Any]:
    """Train on `world` ranks and save with DCP into folder/name; with `kill_rank`, that rank is
    SIGKILLed during the save. Returns each rank's outcome, the files and the slice map."""
    args = {"name": name, "sharding": sharding, "seed": seed, "steps": steps, "kill": kill_rank}
    ranks = run_ranks(world, folder, _save_body, args)
    target = folder / name
    return {
        "ranks": ranks,
        "files": files(target),
        "complete": (target / ".metadata").exists(),
        "slices": slice_map(target) if (target / ".metadata").exists() else [],
    }


def _save_body(rank: int, world: int, folder: Path, args: dict[str, Any]) -> dict[str, Any]:
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_model_state_dict

    model = wrap(tiny_model(args["seed"]), args["sharding"], world)
    loss = train(model, args["seed"], rank, args["steps"])
    whole = full_weights(model)  # a collective: before the save, while every rank is alive
    if rank == 0:
        torch.save(whole, expected_path(folder, args["name"]))
    target = folder / args["name"]
    writer = None if args["kill"] is None else KillingWriter.make(target, rank, args["kill"])
    dcp.save({"model": get_model_state_dict(model)}, checkpoint_id=target, storage_writer=writer)
    return {"loss": loss}


def files(target: Path) -> list[dict[str, Any]]:
    if not target.is_dir():
        return []
    return [{"name": p.name, "bytes": p.stat().st_size} for p in sorted(target.iterdir()) if p.is_file()]


def slice_map(target: Path) -> list[dict[str, Any]]:
    """Which rows of which tensor live in which file, at which byte range: read from `.metadata`."""
    from torch.distributed.checkpoint import FileSystemReader
    from torch.distributed.checkpoint.metadata import MetadataIndex, TensorStorageMetadata

    meta = FileSystemReader(str(target)).read_metadata()
    out = []
    for fqn, item in meta.state_dict_metadata.items():
        if not isinstance(item, TensorStorageMetadata):
            continue
        for chunk in item.chunks:
            where = meta.storage_data[MetadataIndex(fqn, chunk.offsets)]
            start = chunk.offsets[0] if len(chunk.offsets) else 0
            rows = chunk.sizes[0] if len(chunk.sizes) else 1
            out.append(
                {
                    "tensor": fqn,
                    "shape": list(item.size),
                    "rows": [int(start), int(start + rows)],
                    "file": where.relative_path,
                    "offset": where.offset,
                    "bytes": where.length,
                }
            )
    return out


def load(folder: Path, name: str, world: int, sharding: Sharding, seed: int) -> dict[str, Any]:
    """Load folder/name on `world` ranks (1: into a plain model, via `dcp_to_torch_save`) into a
    model built with other initial weights, and compare every rank's slice with what was saved."""
    if world == 1:
        return {"ranks": [_load_plain(folder, name, seed)]}
    args = {"name": name, "sharding": sharding, "seed": seed}
    return {"ranks": run_ranks(world, folder, _load_body, args)}


def _load_plain(folder: Path, name: str, seed: int) -> dict[str, Any]:
    from torch.distributed.checkpoint.format_utils import dcp_to_torch_save

    plain = folder / f"{name}.torch.pt"
    dcp_to_torch_save(folder / name, plain)
    model = tiny_model(seed + 1)
    model.load_state_dict(torch.load(plain, weights_only=True)["model"])
    expected = torch.load(expected_path(folder, name), weights_only=True)
    rows = [_compare(k, v, expected[k], 0, 1) for k, v in model.state_dict().items()]
    return {"rank": 0, "exit": 0, "ok": True, "tensors": rows, "via": plain.name}


def _load_body(rank: int, world: int, folder: Path, args: dict[str, Any]) -> dict[str, Any]:
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_model_state_dict, set_model_state_dict

    model = wrap(tiny_model(args["seed"] + 1), args["sharding"], world)
    state = {"model": get_model_state_dict(model)}
    dcp.load(state, checkpoint_id=folder / args["name"])
    set_model_state_dict(model, state["model"])
    expected = torch.load(expected_path(folder, args["name"]), weights_only=True)
    mine = get_model_state_dict(model)
    tensors = [
        _compare(k, v, expected[k], rank, world) for k, v in mine.items() if isinstance(v, torch.Tensor)
    ]
    return {"tensors": tensors}


def _compare(name: str, held: torch.Tensor, whole: torch.Tensor, rank: int, world: int) -> dict[str, Any]:
    """This rank's part of one weight against the same rows of the saved whole."""
    from torch.distributed.tensor import DTensor, Shard

    if isinstance(held, DTensor) and any(isinstance(p, Shard) for p in held.placements):
        parts = torch.arange(whole.shape[0]).chunk(world)  # DTensor's Shard(0) splits as torch.chunk does
        idx = parts[rank] if rank < len(parts) else torch.arange(0)
        local, want = held.to_local(), whole[idx]
    else:
        local = held.to_local() if isinstance(held, DTensor) else held
        idx, want = torch.arange(whole.shape[0]), whole
    rows = [int(idx[0]), int(idx[-1]) + 1] if len(idx) else [0, 0]
    diff = float((local.detach() - want).abs().max()) if local.numel() else 0.0
    return {"tensor": name, "rows": rows, "shape": list(local.shape), "max_abs_diff": diff}


def partial_load_error(folder: Path, name: str, seed: int) -> str:
    """What torch says when a folder without `.metadata` is loaded (in this process, no ranks)."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.api import CheckpointException

    quiet = logging.getLogger("torch.distributed.checkpoint")
    level, quiet.level = quiet.level, logging.CRITICAL  # torch logs each failed read with its traceback
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "assuming the intent is to load in a single process": it is
            dcp.load({"model": tiny_model(seed).state_dict()}, checkpoint_id=folder / name, no_dist=True)
    except CheckpointException as exc:  # DCP wraps each rank's own exception (not an Exception subclass)
        inner = [f"{type(e).__name__}: {e}" for e, _ in exc.failures.values()]
        return "; ".join(inner).replace(f"{folder}/", "")
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".replace(f"{folder}/", "")
    finally:
        quiet.setLevel(level)
    return ""


def ddp_rules(folder: Path, world: int, seed: int) -> dict[str, Any]:
    """Who writes what under DDP, and whose RNG state a resume restores (dropout masks per rank)."""
    ranks = run_ranks(world, folder, _ddp_body, {"seed": seed})
    return {
        "ranks": ranks,
        "rank0_only": files(folder / "rank0_only"),
        "every_rank": files(folder / "every_rank"),
    }


def _ddp_body(rank: int, world: int, folder: Path, args: dict[str, Any]) -> dict[str, Any]:
    import torch.distributed as dist

    inner = tiny_model(args["seed"])
    model = wrap(inner, "replicated", world)
    train(model, args["seed"], rank)
    weights = inner.state_dict()  # what DDP wraps: the keys carry no "module." prefix
    if rank == 0:
        (folder / "rank0_only").mkdir(exist_ok=True)
        torch.save(weights, folder / "rank0_only" / "model.pt")
    (folder / "every_rank").mkdir(exist_ok=True)
    torch.save(weights, folder / "every_rank" / f"model-rank{rank}.pt")

    torch.manual_seed(args["seed"] * 100 + rank)  # each rank its own stream, as dropout needs
    states: list[Any] = [None] * world
    dist.all_gather_object(states, torch.get_rng_state())
    dropout = next(m for m in model.modules() if isinstance(m, nn.Dropout))

    def mask() -> list[int]:
        dropout.train()
        return (dropout(torch.ones(24)) != 0).int().tolist()

    live = mask()
    torch.set_rng_state(states[0])  # a checkpoint that kept rank 0's state only, restored everywhere
    rank0_everywhere = mask()
    torch.set_rng_state(states[rank])  # each rank restores its own
    own = mask()
    return {"mask_live": live, "mask_rank0_state": rank0_everywhere, "mask_own_state": own}

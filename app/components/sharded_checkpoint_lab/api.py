"""JSON API of the ShardedCheckpointLab, under /api/sharded-checkpoint-lab (see /docs)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from app.components.labs import SandboxSlot
from app.components.sharded_checkpoint_lab import service
from app.components.sharded_checkpoint_lab.schemas import (
    DdpOut,
    KilledOut,
    ManyRanks,
    ReshardOut,
    SaveOut,
    ShardingName,
    World,
)

router = APIRouter(prefix="/api/sharded-checkpoint-lab", tags=["sharded checkpoint lab"])


@router.get(
    "/save", response_model=SaveOut, summary="Train on N ranks and save with DCP: files and slice map"
)
def save(
    request: Request, _: SandboxSlot, world: World = 2, sharding: ShardingName = "sharded"
) -> dict[str, Any]:
    return service.save(request, world, sharding)


@router.get(
    "/reshard",
    response_model=ReshardOut,
    summary="Save on N ranks, load on M (1: into a plain model) and compare every slice",
)
def reshard(
    request: Request,
    _: SandboxSlot,
    world: World = 2,
    sharding: ShardingName = "sharded",
    load_world: World = 4,
) -> dict[str, Any]:
    return service.reshard(request, world, sharding, load_world)


@router.get(
    "/killed",
    response_model=KilledOut,
    summary="Save at step 4, then SIGKILL the last rank during the save at step 8",
)
def killed(
    request: Request, _: SandboxSlot, world: ManyRanks = 2, sharding: ShardingName = "sharded"
) -> dict[str, Any]:
    return service.killed(request, world, sharding)


@router.get("/ddp", response_model=DdpOut, summary="DDP: who writes which file, and per-rank RNG state")
def ddp(request: Request, _: SandboxSlot, world: ManyRanks = 2) -> dict[str, Any]:
    return service.ddp(request, world)["ddp"]

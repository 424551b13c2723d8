"""JSON API of the ShardedCheckpointLab, under /api/sharded-checkpoint-lab (see /docs).

An experiment is a job: POST queues it (201, with its place in line), GET reads it back until its
status is done (with `result`) or failed (with `error`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from app.components.sharded_checkpoint_lab import service
from app.components.sharded_checkpoint_lab.schemas import ExperimentIn, ExperimentOut
from app.jobs.protocol import LimitReached

router = APIRouter(prefix="/api/sharded-checkpoint-lab", tags=["sharded checkpoint lab"])


@router.post(
    "/experiments",
    status_code=201,
    response_model=ExperimentOut,
    summary="Queue an experiment on real ranks (save, reshard, killed rank, DDP's rules)",
)
def submit(request: Request, body: ExperimentIn) -> dict[str, Any]:
    try:
        run = service.submit(request, body)
    except LimitReached as exc:
        raise HTTPException(429, str(exc)) from None
    return service.state(request, run)


@router.get(
    "/experiments/{experiment_id}",
    response_model=ExperimentOut,
    summary="An experiment: its place in line, then its result (files, slices, loads, ranks' fates)",
)
def experiment(request: Request, experiment_id: str) -> dict[str, Any]:
    return service.state(request, service.owned(request, experiment_id))

"""JSON API of the TransferLearningVisualizer, under /api/transfer (see /docs)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request

from app.components.transfer_visualizer import service, story
from app.components.transfer_visualizer.schemas import (
    Comparison,
    FinetuneOut,
    FinetuneRequest,
    LoadView,
    OptionsOut,
    StoryGroup,
    Strategy,
    TensorPreview,
    TransferQuery,
)
from app.deps import Jobs
from app.jobs.protocol import LimitReached
from app.ml.catalog import SOURCE_NAMES, STRATEGIES, VARIANTS

router = APIRouter(prefix="/api/transfer", tags=["transfer learning"])
Query = Annotated[TransferQuery, Depends()]
# What a view answers while its source model is still being pretrained (see _ready).
NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {"description": "the source model is still being pretrained; try again shortly"}
}


@router.get(
    "/options",
    response_model=OptionsOut,
    summary="Sources, target variants and loading strategies, and pretraining state",
)
def options(request: Request, jobs: Jobs) -> dict:
    return {
        "sources": {name: {"pretraining": service.pretraining_status(jobs, name)} for name in SOURCE_NAMES},
        "variants": {name: v.to_dict() for name, v in VARIANTS.items()},
        "strategies": STRATEGIES,
        "all_views_ready": request.app.state.transfer_prewarmed,
    }


def _ready(request: Request, source: str) -> None:
    if service.pretraining_status(request.app.state.jobs, source):
        raise HTTPException(503, "the source model is still being pretrained; try again shortly")


@router.get(
    "/inspect",
    response_model=LoadView,
    responses=NOT_READY,
    summary="Load the pretrained source into a target with a strategy: every tensor's fate",
)
async def inspect(request: Request, query: Query) -> dict:
    _ready(request, query.source)
    view = await service.view(request, query)
    return {k: v for k, v in view.items() if k != "previews"}


@router.get(
    "/groups",
    response_model=list[StoryGroup],
    responses=NOT_READY,
    summary="The load's tensors grouped by fate and module, what differs first (as the diagram tells it)",
)
async def groups(request: Request, query: Query) -> list[dict]:
    _ready(request, query.source)
    view = await service.view(request, query)
    return [{**g, "keys": [r["key"] for r in g["rows"]]} for g in story.groups(view["rows"])]


@router.get(
    "/compare",
    response_model=Comparison,
    responses=NOT_READY,
    summary='What changes when another strategy loads the same checkpoint ("apply the fix")',
)
async def compare(request: Request, against: Strategy, query: Query) -> dict:
    _ready(request, query.source)
    before = await service.view(request, query.model_copy(update={"strategy": against}))
    return story.compare(before, await service.view(request, query))


# exclude_unset: a tensor the checkpoint lacks has no `source` side, and its answer has no such key
# (not null).
@router.get(
    "/tensor",
    response_model=TensorPreview,
    response_model_exclude_unset=True,
    responses={**NOT_READY, 404: {"description": "no such tensor in this load"}},
    summary="One tensor before and after loading, with the source's values",
)
async def tensor(request: Request, key: str, query: Query) -> dict:
    _ready(request, query.source)
    preview = (await service.view(request, query))["previews"].get(key)
    if preview is None:
        raise HTTPException(404, "no such tensor")
    return preview


@router.post(
    "/finetune",
    status_code=201,
    response_model=FinetuneOut,
    responses=NOT_READY,
    summary="Fine-tune transferred vs from scratch (background)",
)
def finetune(request: Request, jobs: Jobs, body: FinetuneRequest) -> dict:
    _ready(request, body.source)
    try:
        run = service.submit_finetune(request, body)
    except LimitReached as exc:
        raise HTTPException(429, str(exc)) from None
    return service.finetune_state(jobs, run)


@router.get(
    "/finetune/{run_id}",
    response_model=FinetuneOut,
    summary="Progress and results of a fine-tuning comparison",
)
def finetune_status(request: Request, jobs: Jobs, run_id: str) -> dict:
    return service.finetune_state(jobs, service.owned_finetune(request, run_id))

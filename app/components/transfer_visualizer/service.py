"""Read and write side of the transfer visualizer, shared by its HTML views and JSON API.

Source models are pretrained once in the job pool and kept as files; every load view is computed
in a throwaway process (the web process never imports torch) and cached, since the same question
always has the same answer.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import get_args

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool

from app.components import labs
from app.components.cache import ViewCache
from app.components.transfer_visualizer.schemas import (
    FinetuneRequest,
    Strategy,
    TransferQuery,
    Variant,
)
from app.jobs.processes import (
    SandboxError,
    SandboxFailure,
    call_in_sandbox,
    call_limited,
)
from app.jobs.protocol import JobBackend, Run
from app.jobs.tasks import transfer_view, transfer_views
from app.ml.catalog import SOURCE_NAMES
from app.sessions import session_id

log = logging.getLogger(__name__)
INIT_SEED = 0  # target initialisation; fixed so a filtered tensor is a known fresh init
SEEDS_PER_COMPARISON = 3
KEEP_FINETUNES = 5  # per learner: older comparisons are forgotten


def pretrained_path(jobs: JobBackend, source: str) -> Path:
    return jobs.settings.pretrained_path / f"{source}.pt"


PRETRAIN_RUN = "pretrain"


def ensure_pretrained(app) -> None:
    """Queue pretraining of every source model that has no file yet (first start, or lost).

    One job trains them one after the other, so it takes one worker slot and learners' runs keep
    the others: a class can start training while the sources are still being prepared."""
    jobs: JobBackend = app.state.jobs
    missing = [s for s in SOURCE_NAMES if not pretrained_path(jobs, s).exists()]
    run = jobs.run(PRETRAIN_RUN)
    if not missing or (run is not None and run.active):
        return
    jobs.delete(PRETRAIN_RUN)  # the record of an earlier (failed) pretraining gives way
    outs = {source: str(pretrained_path(jobs, source)) for source in missing}
    jobs.submit(None, "pretrain", {"sources": missing, "outs": outs}, run_id=PRETRAIN_RUN, first=True)


def pretraining_status(jobs: JobBackend, source: str) -> dict | None:
    """None once the source is ready; else how far its pretraining has got."""
    if pretrained_path(jobs, source).exists():
        return None
    run = jobs.run(PRETRAIN_RUN)
    epochs = [e for e in jobs.events(run.id, "pretrain_epoch") if e.get("source") == source] if run else []
    last = epochs[-1] if epochs else {}
    return {
        "status": run.status if run else "queued",
        "epoch": last.get("epoch", 0),
        "total": last.get("total_epochs"),
        "error": run.error if run else None,
        "queue_position": jobs.queue_position(run.id) if run else None,
    }


def _view_key(request: Request, query: TransferQuery) -> tuple:
    return (*query.key(), pretrained_path(request.app.state.jobs, query.source).stat().st_mtime_ns)


def cached_view(request: Request, query: TransferQuery) -> dict | None:
    """The answer if it is already known (after start-up, always): no thread, no torch."""
    cache: ViewCache = request.app.state.transfer_cache
    return cache.peek(_view_key(request, query))


async def view(request: Request, query: TransferQuery) -> dict:
    """The answer from the cache on the event loop, or computed in a sandbox off it."""
    known = cached_view(request, query)
    if known is not None:
        return known
    async with labs.sandbox_slot_held(request) as got:
        if not got:
            raise HTTPException(503, "waited too long for a free sandbox (the class is busy); try again")
        return await run_in_threadpool(load_view, request, query)


def load_view(request: Request, query: TransferQuery) -> dict:
    jobs: JobBackend = request.app.state.jobs
    cache: ViewCache = request.app.state.transfer_cache
    path = pretrained_path(jobs, query.source)
    key = _view_key(request, query)

    def compute() -> dict:
        settings = jobs.settings
        try:
            return call_limited(
                settings,
                transfer_view,
                str(path),
                query.source,
                query.variant,
                query.num_classes,
                query.strategy,
                INIT_SEED,
            )
        except (SandboxFailure, SandboxError) as exc:
            # Not a strategy's error (those are in the report): the computation itself failed.
            raise HTTPException(503, f"the load could not be computed: {exc}") from None

    return cache.get(key, compute)


def prewarm(app, stop: threading.Event) -> bool:
    """Every load view is one of a few hundred fixed questions: once the sources are pretrained,
    answer them all in the background, a source and variant per sandbox call, so that a class
    exploring the diagram never waits for torch."""
    jobs: JobBackend = app.state.jobs
    cache: ViewCache = app.state.transfer_cache
    classes = list(range(2, 11))
    todo = [(s, v) for s in SOURCE_NAMES for v in get_args(Variant)]
    while todo and not stop.is_set():
        source, variant = todo[0]
        path = pretrained_path(jobs, source)
        if not path.exists():
            stop.wait(2.0)
            continue
        todo.pop(0)
        mtime = path.stat().st_mtime_ns
        try:
            views = call_in_sandbox(
                transfer_views,
                str(path),
                source,
                variant,
                classes,
                list(get_args(Strategy)),
                INIT_SEED,
                timeout=300,
                memory_mb=jobs.settings.inspect_memory_mb,
            )
        except (SandboxFailure, SandboxError):
            log.exception("prewarming transfer views for %s/%s failed", source, variant)
            continue
        for (num_classes, strategy), view in views.items():
            cache.put((source, variant, num_classes, strategy, mtime), view)
    return not todo


def submit_finetune(request: Request, req: FinetuneRequest) -> Run:
    jobs: JobBackend = request.app.state.jobs
    sid = session_id(request)
    config = {
        **req.model_dump(),
        "pretrained": str(pretrained_path(jobs, req.source)),
        "seeds": [req.seed + i for i in range(SEEDS_PER_COMPARISON)],
    }
    run = jobs.submit(sid, "finetune", config)
    old = [r for r in jobs.session_runs(sid) if r.kind == "finetune" and not r.active]
    for stale in old[: max(0, len(old) - KEEP_FINETUNES)]:
        jobs.delete(stale.id)
    return run


def owned_finetune(request: Request, run_id: str) -> Run:
    jobs: JobBackend = request.app.state.jobs
    run = jobs.run(run_id) if len(run_id) <= 64 else None
    if run is None or run.kind != "finetune" or run.session != session_id(request):
        raise HTTPException(404, "no such fine-tuning run")
    return run


def latest_finetune(request: Request) -> Run | None:
    jobs: JobBackend = request.app.state.jobs
    runs = [r for r in jobs.session_runs(session_id(request)) if r.kind == "finetune"]
    return runs[-1] if runs else None


def finetune_state(jobs: JobBackend, run: Run) -> dict:
    series = jobs.events(run.id, "series")
    results = jobs.events(run.id, "result")
    curves: dict[str, list[dict]] = {"transfer": [], "scratch": []}
    for row in series:
        curves.setdefault(row["run"], []).append(row)
    margins = [r["margin"] for r in results]
    # With a frozen backbone, the first seed's last epoch carries what froze and what did not.
    frozen = next((r["frozen"] for r in reversed(curves["transfer"]) if r.get("frozen")), None)
    return {
        "id": run.id,
        "status": run.status,
        "config": run.config,
        "error": run.error,
        "queue_position": jobs.queue_position(run.id),
        "curves": curves,
        "results": results,
        "mean_margin": sum(margins) / len(margins) if margins else None,
        "seeds_done": len(results),
        "seeds_total": len(run.config.get("seeds", [])),
        "frozen": frozen,
    }

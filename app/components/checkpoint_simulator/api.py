"""JSON API of the CheckpointSimulator, under /api/checkpoint-simulator (see /docs).

Blocking work follows the simulator's one rule (views.py): every route is `async def` and runs
its SQLite, disk and rendering work through `service.in_slot`.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel

from app.components.checkpoint_simulator import data_order, service, words
from app.components.checkpoint_simulator.schemas import (
    CheckpointOut,
    CrashOut,
    DataOrderOut,
    EpochOut,
    LedgerOut,
    LedgerRow,
    OrderRowOut,
    PlannedResume,
    Prediction,
    ProgressOut,
    Restore,
    ResumeAllOut,
    ResumeAllRequest,
    RunOut,
    RunRequest,
    RunWithResumes,
)
from app.components.checkpoint_simulator.service import OwnedRun
from app.components.checkpoint_simulator.strings import RESTORE_LABELS
from app.deps import Jobs, Lang, Session
from app.jobs.protocol import JobBackend, LimitReached, NotAllowed, Run
from app.responses import held_file_response

router = APIRouter(prefix="/api/checkpoint-simulator", tags=["checkpoint simulator"])
# What a route whose run is not this browser's own answers (service.owned_run).
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such run (or not this browser's)"}}
REFUSED: dict[int | str, dict[str, Any]] = {
    409: {"description": "this checkpoint cannot be resumed (missing, torn, or the run is active)"}
}


class ResumeBody(BaseModel):
    file: str
    restore: Restore = "everything"
    prediction: Prediction | None = None


def _run_out(jobs: JobBackend, run: Run) -> RunOut:
    seg = service.segment(jobs, run)
    return RunOut(
        id=run.id,
        kind=run.kind,
        status=run.status,
        root_id=run.root_id,
        parent_id=run.parent_id,
        config=run.config,
        options=run.options.to_dict(),
        error=run.error,
        final_hash=run.final_hash,
        queue_position=seg.queue_position,
        live=ProgressOut(**seg.live) if seg.live else None,
        epochs=[
            EpochOut(
                epoch=e.epoch,
                loss=e.loss,
                acc=e.acc,
                val_loss=e.val_loss,
                lr=e.lr,
                seconds=e.seconds,
                step=e.step,
                step_losses=e.step_losses,
                order_head=e.order_head,
            )
            for e in seg.epochs
        ],
        checkpoints=[
            CheckpointOut(
                epoch=c.epoch, batch=c.batch, file=c.file, bytes=c.bytes, loss=c.loss, latest=c.latest
            )
            for c in seg.checkpoints
        ],
        epoch_order=seg.epoch_order,
        naive_file_bytes=seg.naive_bytes,
        temp_files=[name for name, _ in seg.temp_files],
        crash=seg.crash,
        survivors=seg.survivors,
        comparison=seg.comparison,
    )


def _limit(exc: Exception) -> HTTPException:
    return HTTPException(429, str(exc))


@router.post(
    "/runs",
    status_code=201,
    response_model=RunOut,
    summary="Start a training run (queued if all workers are busy)",
)
async def create_run(request: Request, jobs: Jobs, sid: Session, body: RunRequest) -> RunOut:
    def submit() -> RunOut:
        try:
            run = jobs.submit(sid, "train", body.train_config(), body.options())
        except LimitReached as exc:
            raise _limit(exc) from None
        return _run_out(jobs, run)

    # A class starting its runs at once: a few threads at a time (see service.SLOTS).
    return await service.in_slot(request, submit)


@router.get(
    "/runs", response_model=list[RunWithResumes], summary="This browser's runs, each with its resumes"
)
async def list_runs(request: Request, jobs: Jobs, sid: Session) -> list[RunWithResumes]:
    def runs() -> list[RunWithResumes]:
        return [
            RunWithResumes(
                **dict(_run_out(jobs, root)),
                resumes=[_run_out(jobs, r) for r in jobs.lineage_runs(root.id) if r.id != root.id],
            )
            for root in service.learner_roots(jobs, sid)
        ]

    return await service.in_slot(request, runs)


@router.get(
    "/runs/{run_id}",
    response_model=RunOut,
    responses=NOT_FOUND,
    summary="One run: progress, epochs, checkpoints, crash, comparison",
)
async def get_run(request: Request, jobs: Jobs, run: OwnedRun) -> RunOut:
    return await service.in_slot(request, partial(_run_out, jobs, run))


@router.get(
    "/runs/{run_id}/reference",
    response_model=RunOut,
    responses=NOT_FOUND,
    summary="The uninterrupted reference run for this run's settings",
)
async def get_reference(request: Request, jobs: Jobs, run: OwnedRun) -> RunOut:
    def reference() -> RunOut:
        lineage = service.lineage(jobs, run)
        if lineage.reference is None:
            raise HTTPException(404, "no reference yet: it is started by the first resume")
        return _run_out(jobs, lineage.reference.run)

    return await service.in_slot(request, reference)


def _or_409(action, *args) -> None:
    """The job system's refusal (a run not training, a lineage still active) is a 409 with its reason."""
    try:
        action(*args)
    except NotAllowed as exc:
        raise HTTPException(409, str(exc)) from None


@router.post(
    "/runs/{run_id}/crash",
    response_model=CrashOut,
    summary="SIGKILL the run's worker process (a waiting run is cancelled)",
    responses={**NOT_FOUND, 409: {"description": "the run is neither training nor waiting"}},
)
async def crash_run(request: Request, jobs: Jobs, run: OwnedRun) -> CrashOut:
    await service.in_slot(request, partial(_or_409, jobs.crash, run.id))
    return CrashOut(id=run.id, crashed=True)


def _refused(exc: service.Refused) -> HTTPException:
    return HTTPException(409, f"{exc}: {exc.detail}" if exc.detail else str(exc))


@router.post(
    "/runs/{run_id}/resume",
    status_code=201,
    response_model=RunOut,
    responses={**NOT_FOUND, **REFUSED},
    summary="Resume from one of the run's checkpoints",
)
async def resume_run(request: Request, jobs: Jobs, source: OwnedRun, body: ResumeBody) -> RunOut:
    def submit() -> RunOut:
        try:
            run = service.resume(
                jobs, source, body.file, body.restore, body.prediction.stored() if body.prediction else None
            )
        except LimitReached as exc:
            raise _limit(exc) from None
        except service.Refused as exc:
            raise _refused(exc) from None
        return _run_out(jobs, run)

    return await service.in_slot(request, submit)


@router.post(
    "/runs/{run_id}/resume-all",
    status_code=201,
    response_model=ResumeAllOut,
    responses={**NOT_FOUND, **REFUSED},
    summary="Resume once per restore mode from one checkpoint: fills the state ledger",
    description="As many resumes as the per-learner limit allows are queued at once; the others are "
    "'planned' and queued as the learner's runs end. Optional predictions are judged in the ledger.",
)
async def resume_all(request: Request, jobs: Jobs, source: OwnedRun, body: ResumeAllRequest) -> ResumeAllOut:
    predictions: dict[str, dict] = {m: stored for m, p in body.predictions.items() if (stored := p.stored())}

    def submit() -> ResumeAllOut:
        try:
            runs = service.resume_all(jobs, source, body.file, predictions)
        except LimitReached as exc:
            raise _limit(exc) from None
        except service.Refused as exc:
            raise _refused(exc) from None
        return ResumeAllOut(
            runs=[
                PlannedResume.model_validate({"id": r.id, "restore": r.options.restore, "status": r.status})
                for r in runs
            ]
        )

    return await service.in_slot(request, submit)


def _lineage_of(jobs: JobBackend, run: Run):
    """The learner's own run's first run, and the lineage it heads as the page shows it."""
    root = jobs.run(run.root_id) or run
    return root, service.current_lineage(jobs, root)[0]


@router.get(
    "/runs/{run_id}/ledger",
    response_model=LedgerOut,
    responses=NOT_FOUND,
    summary="The state ledger of the run's lineage: what each way of resuming cost, measured",
)
async def get_ledger(request: Request, jobs: Jobs, lang: Lang, run: OwnedRun) -> LedgerOut:
    def ledger_out() -> LedgerOut:
        root, lineage = _lineage_of(jobs, run)
        ledger = service.build_ledger(lineage)
        rows = [
            LedgerRow(
                label=RESTORE_LABELS[lang][r.mode][0],
                cost=words.cost(r, lang, ledger.margin),
                **{k: v for k, v in vars(r).items() if k in LedgerRow.model_fields},
            )
            for r in ledger.rows
        ]
        return LedgerOut(
            run_id=root.id,
            margin=ledger.margin,
            spike_threshold=ledger.spike,
            reference_done=ledger.reference_done,
            complete=ledger.complete,
            conclusion=words.conclusion(ledger, lang),
            rows=rows,
        )

    return await service.in_slot(request, ledger_out)


@router.get(
    "/runs/{run_id}/data-order",
    response_model=DataOrderOut,
    responses=NOT_FOUND,
    summary="The epoch a crash interrupted: how often each way of resuming mid-epoch trained its samples",
    description="From the resumed workers' records: torch recomputed the interrupted epoch's order from the "
    "checkpoint's sampler state and took each resumed run's own order. Empty rows until a resume "
    "from a mid-epoch checkpoint has trained that epoch.",
)
async def get_data_order(request: Request, jobs: Jobs, lang: Lang, run: OwnedRun) -> DataOrderOut:
    def order_out() -> DataOrderOut:
        root, lineage = _lineage_of(jobs, run)
        view = data_order.build(lineage)
        if view is None:
            return DataOrderOut(run_id=root.id)
        labels = RESTORE_LABELS[lang]
        rows = [
            OrderRowOut(label=labels[r.mode][0], sentence=data_order.sentence(r, view, lang), **vars(r))
            for r in view.rows
        ]
        return DataOrderOut(
            run_id=root.id,
            epoch=view.epoch,
            samples=view.samples,
            batch_size=view.batch_size,
            batches=view.batches,
            before=view.before,
            reference_same_order=view.reference_same_order,
            summary=data_order.summary(view, lang),
            rows=rows,
        )

    return await service.in_slot(request, order_out)


@router.get(
    "/runs/{run_id}/checkpoints",
    response_model=list[CheckpointOut],
    responses=NOT_FOUND,
    summary="Checkpoint files of the run on disk",
)
async def list_checkpoints(request: Request, jobs: Jobs, run: OwnedRun) -> list[CheckpointOut]:
    return (await service.in_slot(request, partial(_run_out, jobs, run))).checkpoints


@router.get(
    "/runs/{run_id}/checkpoints/{file:path}",
    summary="Download a checkpoint file",
    response_class=FileResponse,
    responses={
        **NOT_FOUND,
        200: {
            "description": "the file's bytes",
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        },
    },
)
async def download_checkpoint(request: Request, jobs: Jobs, run: OwnedRun, file: str):
    def open_file():
        path = service.checkpoint_path(jobs, run, file)
        # Opened now: keep-last-N may delete the file before the body is sent (app/responses.py).
        return held_file_response(
            path, f"{run.id[:8]}-{path.name}", missing="that checkpoint is no longer on disk"
        )

    return await service.in_slot(request, open_file)


@router.delete(
    "/runs/{run_id}",
    status_code=204,
    summary="Delete a run, its resumes and their files",
    responses={**NOT_FOUND, 409: {"description": "a run of the lineage is training: crash it first"}},
)
async def delete_run(request: Request, jobs: Jobs, run: OwnedRun) -> None:
    await service.in_slot(request, partial(_or_409, jobs.delete, run.root_id))

"""Teacher mode in the JSON API: /api/teach/* (teacher's cookie or `Authorization: Bearer <key>`),
and /api/class/name for a learner's optional display name."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, HTTPException, Query, Request

from app import i18n
from app.components.checkpoint_simulator.strings import RESTORE_LABELS
from app.components.teacher_dashboard import service
from app.components.teacher_dashboard.auth import auth_of
from app.components.teacher_dashboard.classroom import label
from app.components.teacher_dashboard.schemas import (
    ArchiveOut,
    ClassOut,
    CountsOut,
    EpochOut,
    ExerciseExportOut,
    ExerciseExportRow,
    ExerciseRowOut,
    ExerciseTryOut,
    ExportRow,
    LearnerDetailOut,
    LearnerOut,
    ModeOut,
    NameIn,
    NameOut,
    QueueOut,
    ResetIn,
    RestoreIn,
    ScenarioOut,
    SegmentOut,
)
from app.components.teacher_dashboard.strings import HELP
from app.i18n import request_lang
from app.sessions import has_session, session_id

router = APIRouter(prefix="/api/teach", tags=["teacher mode"])
learner_router = APIRouter(prefix="/api/class", tags=["teacher mode"])


def require_teacher(request: Request) -> None:
    status = auth_of(request).is_teacher(request)
    if status == "limited":
        raise HTTPException(429, "too many wrong teacher keys; try again in a minute")
    if status != "ok":
        raise HTTPException(
            403,
            "teacher only: send the teacher cookie (from /teach?key=…) or "
            "'Authorization: Bearer <teacher key>'",
        )


def _learner_out(lr, lang: str) -> LearnerOut:
    return LearnerOut(
        label=label(lang, lr.number),
        needs_help=lr.help,
        needs_help_text=[HELP[lang][s] for s in lr.help],
        solved=lr.solved,
        checks=lr.checks,
        failed_checks=lr.failed_checks,
        exercises=[
            ExerciseTryOut(
                exercise=ex,
                solved=e.solved,
                checks=e.checks,
                failed_checks=e.failed,
                last_diagnosis=e.last_diagnosis,
                diagnoses=e.diagnoses,
            )
            for ex, e in lr.exercises.items()
        ],
        **{
            k: v
            for k, v in vars(lr).items()
            if k in LearnerOut.model_fields
            and k not in ("label", "exercises", "solved", "checks", "failed_checks")
        },
    )


def _exercise_rows(board, lang: str) -> list[ExerciseRowOut]:
    return [
        ExerciseRowOut(
            exercise=e.exercise,
            title=service.exercise_title(lang, e.exercise),
            tried=e.tried,
            solved=e.solved,
            checks=e.checks,
            failed_checks=e.failed,
            top_diagnosis=e.top_diagnosis,
            top_diagnosis_text=service.diagnosis_name(lang, e.top_diagnosis) if e.top_diagnosis else None,
            top_diagnosis_count=e.top_diagnosis_count,
        )
        for e in board.exercises
    ]


@router.get(
    "/class", response_model=ClassOut, summary="The class now: counts, queue, the class ledger, learners"
)
def get_class(request: Request) -> ClassOut:
    require_teacher(request)
    lang = request_lang(request)
    board = service.classroom(request).board()
    return ClassOut(
        counts=CountsOut(**board.counts),
        queue=QueueOut(**board.queue),
        ledger=[ModeOut(label=RESTORE_LABELS[lang][m.mode][0], **vars(m)) for m in board.modes],
        exercises=_exercise_rows(board, lang),
        learners=[_learner_out(lr, lang) for lr in board.learners],
    )


@router.get(
    "/export", response_model=list[ExportRow], summary="One row per run of the current class, anonymised"
)
def export(request: Request) -> list[ExportRow]:
    require_teacher(request)
    rows = service.export_rows(service.classroom(request).fresh_board().rows, request_lang(request))
    return [ExportRow(**r) for r in rows]


@router.get(
    "/exercises",
    response_model=ExerciseExportOut,
    summary="Checked exercises of the current class: per exercise, and one row per learner and exercise",
)
def export_exercises(request: Request) -> ExerciseExportOut:
    require_teacher(request)
    lang = request_lang(request)
    board = service.classroom(request).fresh_board()
    return ExerciseExportOut(
        exercises=_exercise_rows(board, lang),
        rows=[ExerciseExportRow(**r) for r in service.exercise_rows(board, lang)],
    )


@router.post(
    "/reset",
    response_model=ArchiveOut,
    status_code=201,
    summary="Archive the current class's runs (kept on disk) and start a fresh class",
)
async def reset(request: Request, body: ResetIn) -> ArchiveOut:
    require_teacher(request)
    if not body.confirm:
        raise HTTPException(400, i18n.t(request_lang(request), "tm.reset_need_confirm"))
    entry = await anyio.to_thread.run_sync(service.classroom(request).reset)
    return ArchiveOut(**entry)


@router.get("/archives", response_model=list[ArchiveOut], summary="Archived classes, newest first")
def archives(request: Request) -> list[ArchiveOut]:
    require_teacher(request)
    return [ArchiveOut(**a) for a in reversed(service.classroom(request).state.archives)]


@router.get("/archives/{archive_id}", response_model=list[ExportRow], summary="An archived class's rows")
def archive_rows(request: Request, archive_id: str) -> list[ExportRow]:
    require_teacher(request)
    rows = service.classroom(request).state.archived_rows(archive_id[:40])
    if rows is None:
        raise HTTPException(404, "no such archive")
    return [ExportRow(**r) for r in service.export_rows(rows, request_lang(request))]


@router.post(
    "/archives/{archive_id}/restore",
    response_model=ArchiveOut,
    summary="Put an archive's runs back into the current class (the archive stays listed, marked restored)",
    responses={400: {"description": "confirm was not true"}, 409: {"description": "restored already"}},
)
async def restore(request: Request, archive_id: str, body: RestoreIn) -> ArchiveOut:
    require_teacher(request)
    room = service.classroom(request)
    entry = room.state.archive_entry(archive_id[:40])
    if entry is None:
        raise HTTPException(404, "no such archive")
    if entry.get("restored"):
        raise HTTPException(409, "this archive has been restored already")
    if not body.confirm:
        raise HTTPException(400, i18n.t(request_lang(request), "tm.restore_need_confirm"))
    restored = await anyio.to_thread.run_sync(room.restore, archive_id[:40])
    return ArchiveOut(**(restored or entry))


@router.get(
    "/scenario",
    response_model=ScenarioOut,
    summary="A scenario link from sim.<field>=… and lock=sim.<field>,… (the simulator's names)",
    description="sim.<field> in a link is <field> in POST /api/checkpoint-simulator/runs and #cs-<field> "
    "in the page's form. Values are checked by the simulator's own rules; errors come in its words.",
)
def get_scenario(request: Request, lock: Annotated[list[str] | None, Query()] = None) -> ScenarioOut:
    require_teacher(request)
    locks = [name for item in lock or [] for name in item.split(",") if name]
    return ScenarioOut(**service.scenario(request, dict(request.query_params), locks, request_lang(request)))


def _segment(seg) -> SegmentOut:
    return SegmentOut(
        kind=seg.run.kind,
        status=seg.run.status,
        restore=seg.restore if seg.run.kind == "resume" else None,
        from_epoch=seg.first_epoch if seg.run.kind == "resume" else None,
        crash_epoch=(seg.crash or {}).get("epoch"),
        epochs=[
            EpochOut(epoch=e.epoch, loss=e.loss, val_loss=e.val_loss, acc=e.acc, lr=e.lr) for e in seg.epochs
        ],
    )


@router.get(
    "/learners/{number}",
    response_model=LearnerDetailOut,
    summary="One learner, anonymised, with the latest lineage's epochs (the presenter's chart)",
)
def get_learner(request: Request, number: int) -> LearnerDetailOut:
    require_teacher(request)
    lang = request_lang(request)
    board = service.classroom(request).board()
    lr = board.learner(number)
    if lr is None:
        raise HTTPException(404, "no such learner")
    out = _learner_out(lr, lang)
    lin = service.learner_lineage(request, board, number)
    if lin is None:
        return LearnerDetailOut(learner=out, epochs_total=None, segments=[])
    segments = [_segment(seg) for seg in lin.segments] + ([_segment(lin.reference)] if lin.reference else [])
    return LearnerDetailOut(learner=out, epochs_total=lin.epochs_total, segments=segments)


@learner_router.get(
    "/name", response_model=NameOut, summary="This learner's display name for the teacher, if any"
)
def get_name(request: Request) -> NameOut:
    if not has_session(request):
        return NameOut(name=None)
    return NameOut(name=service.classroom(request).state.name(session_id(request)))


@learner_router.put(
    "/name",
    response_model=NameOut,
    summary="Set (or clear) the name the teacher sees instead of 'learner N'; nothing else is kept",
)
def put_name(request: Request, body: NameIn) -> NameOut:
    if request.method == "PUT" and not has_session(request):
        raise HTTPException(403, "no session yet: open a page of the lesson (or GET /api/session) first")
    name = service.classroom(request).state.set_name(session_id(request), body.name)
    return NameOut(name=name or None)

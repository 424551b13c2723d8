"""Teacher mode in the JSON API: /api/teach/* (teacher's cookie or `Authorization: Bearer <key>`),
and /api/class/name for a learner's optional display name."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from app import i18n
from app.components.checkpoint_simulator.strings import RESTORE_LABELS
from app.components.teacher_dashboard import service
from app.components.teacher_dashboard.auth import auth_of
from app.components.teacher_dashboard.classroom import label
from app.components.teacher_dashboard.strings import STUCK
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


class CountsOut(BaseModel):
    learners: int
    present: int = Field(description="learners with a run active, or written within TEACHER_IDLE_MINUTES")
    runs: int = Field(description="first runs started (not resumes)")
    crashed: int
    resumes: int
    failed: int
    active: int = Field(description="runs waiting or training")
    stuck: int


class QueueOut(BaseModel):
    waiting: int
    training: int
    workers: int = Field(description="runs at full speed at once (MAX_WORKERS)")
    paced: int = Field(
        description="runs at a watching pace at once beside those (PACED_WORKERS; 0 on worker nodes)"
    )


class ModeOut(BaseModel):
    mode: str
    label: str
    resumes: int
    finished: int
    compared: int = Field(description="resumes whose final weights were compared with the reference")
    identical: int = Field(description="of those, bit-identical")
    spikes: int = Field(
        description="resumes whose first epoch's loss was a spike by the simulator's ledger "
        "(at least its SPIKE threshold above the reference's)"
    )
    median_loss_change: float | None = Field(None, description="first resumed epoch: loss ÷ reference's − 1")
    median_recovery_epochs: float | None = None


class ExerciseTryOut(BaseModel):
    exercise: str
    solved: bool
    checks: int = Field(description="checks run in this class")
    failed_checks: int
    last_diagnosis: str | None = Field(
        None, description="the last failed check's diagnosis (the exercise verdict's code)"
    )
    diagnoses: dict[str, int] = Field(description="diagnosis of failed checks -> how many")


class ExerciseRowOut(BaseModel):
    exercise: str
    title: str
    tried: int = Field(description="learners who ran at least one check")
    solved: int = Field(description="learners who solved it")
    checks: int
    failed_checks: int
    top_diagnosis: str | None = Field(
        None, description="the most common diagnosis of the class's failed checks"
    )
    top_diagnosis_text: str | None = None
    top_diagnosis_count: int = 0


class LearnerOut(BaseModel):
    number: int
    label: str = Field(description="anonymous: 'learner N'")
    name: str | None = Field(None, description="the display name the learner typed, if any")
    runs: int
    resumes: int
    crashed: int
    failed: int
    active: int
    present: bool
    stuck: list[str] = Field(description="failed | limit | idle | exercise")
    stuck_text: list[str]
    status: str | None = Field(None, description="status of the learner's latest run")
    last_activity: float
    solved: list[str] = Field([], description="checked exercises solved in this class")
    checks: int = Field(0, description="exercise checks run in this class")
    failed_checks: int = 0
    stuck_exercises: list[str] = Field([], description=">= 3 failed checks and not solved")
    exercises: list[ExerciseTryOut] = []


class ClassOut(BaseModel):
    counts: CountsOut
    queue: QueueOut
    ledger: list[ModeOut]
    exercises: list[ExerciseRowOut] = Field(description="per checked exercise, across the class")
    learners: list[LearnerOut]


class ExerciseExportRow(BaseModel):
    label: str
    learner: int
    exercise: str
    solved: bool
    checks: int
    failed_checks: int
    last_diagnosis: str | None = None
    diagnoses: str = Field(description="diagnosis:count;… of the failed checks")


class ExerciseExportOut(BaseModel):
    exercises: list[ExerciseRowOut]
    rows: list[ExerciseExportRow] = Field(
        description="one per learner and exercise tried (the CSV's second table)"
    )


class ExportRow(BaseModel):
    label: str
    learner: int
    run: str
    lineage: str
    kind: str
    status: str
    created: str
    epochs: int | None = None
    lr: float | None = None
    optimizer: str | None = None
    scheduler: bool | None = None
    checkpoint_every: int | None = None
    keep_last: int | None = None
    seed: int | None = None
    crash_plan: str
    crash_epoch: int | None = None
    crashed: bool
    restore: str | None = None
    from_epoch: int | None = None
    loss_change: float | None = None
    spike: bool | None = None
    lr_ok: bool | None = None
    order_same: bool | None = None
    recovery_epochs: int | None = None
    final: str | None = None
    final_val_loss: float | None = None
    identical: bool | None = None
    max_abs_diff: float | None = None


class ArchiveOut(BaseModel):
    id: str
    created: float
    runs: int
    learners: int


class ResetIn(BaseModel):
    confirm: bool = Field(
        False, description="must be true: the current class is archived and a fresh one starts"
    )


class ScenarioOut(BaseModel):
    link: str = Field(description="the chapter page with the settings in its query")
    query: dict[str, str]
    locks: list[str]
    simulator_body: dict | None = Field(
        None, description="the same settings as a POST /api/checkpoint-simulator/runs body"
    )
    errors: dict[str, str] = Field(description="field -> the simulator form's own message")
    origin: str = Field(
        "",
        description="where learners reach this server, when it differs from the asking page's "
        "(a teacher on 127.0.0.1 of a HOST=0.0.0.0 server): prefix the link with it",
    )


def _lang(request: Request) -> str:
    return service.teach_lang(request)


def _learner_out(lr, lang: str) -> LearnerOut:
    return LearnerOut(
        label=label(lang, lr.number),
        stuck_text=[STUCK[lang][s] for s in lr.stuck],
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
    lang = _lang(request)
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
    rows = service.export_rows(service.classroom(request).fresh_board().rows, _lang(request))
    return [ExportRow(**r) for r in rows]


@router.get(
    "/exercises",
    response_model=ExerciseExportOut,
    summary="Checked exercises of the current class: per exercise, and one row per learner and exercise",
)
def export_exercises(request: Request) -> ExerciseExportOut:
    require_teacher(request)
    lang = _lang(request)
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
        raise HTTPException(400, i18n.t(_lang(request), "tm.reset_need_confirm"))
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
    return [ExportRow(**r) for r in service.export_rows(rows, _lang(request))]


@router.post(
    "/archives/{archive_id}/restore",
    response_model=ArchiveOut,
    summary="Put an archive's runs back into the current class",
)
async def restore(request: Request, archive_id: str) -> ArchiveOut:
    require_teacher(request)
    entry = await anyio.to_thread.run_sync(service.classroom(request).restore, archive_id[:40])
    if entry is None:
        raise HTTPException(404, "no such archive")
    return ArchiveOut(**entry)


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
    return ScenarioOut(**service.scenario(request, dict(request.query_params), locks, _lang(request)))


class EpochOut(BaseModel):
    epoch: int
    loss: float
    val_loss: float | None = None
    acc: float | None = None
    lr: float


class SegmentOut(BaseModel):
    kind: str = Field(description="train (the first run) | resume | reference (uninterrupted, shared)")
    status: str
    restore: str | None = None
    from_epoch: int | None = None
    crash_epoch: int | None = None
    epochs: list[EpochOut]


class LearnerDetailOut(BaseModel):
    learner: LearnerOut
    epochs_total: int | None = Field(None, description="planned epochs of the latest lineage")
    segments: list[SegmentOut] = Field(
        description="the learner's latest lineage: what the presenter's chart draws"
    )


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
    lang = _lang(request)
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


class NameIn(BaseModel):
    name: str = Field("", max_length=200, description="empty: anonymous again")


class NameOut(BaseModel):
    name: str | None


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

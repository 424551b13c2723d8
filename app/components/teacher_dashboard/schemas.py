"""The teacher mode's JSON shapes (/api/teach/*, /api/class/name): response and request models."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.components.teacher_dashboard.board import Measured


class CountsOut(BaseModel):
    learners: int
    present: int = Field(description="learners with a run active, or written within TEACHER_IDLE_MINUTES")
    runs: int = Field(description="first runs started (not resumes)")
    crashed: int
    resumes: int
    failed: int
    active: int = Field(description="runs waiting or training")
    needs_help: int = Field(description="learners with a reason to step in (LearnerOut.needs_help)")
    idle: int = Field(description="learners with nothing active or written within TEACHER_IDLE_MINUTES")


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
    needs_help: list[str] = Field(
        description="failed (their latest run failed) | stalled (a running run made no progress for "
        "a minute) | exercise (3+ failed checks of one, unsolved) | limit (a run limit reached)"
    )
    needs_help_text: list[str]
    idle: bool = Field(description="nothing active or written within TEACHER_IDLE_MINUTES (not an alarm)")
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


class ExportRow(Measured):
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


class ArchiveOut(BaseModel):
    id: str
    created: float
    runs: int = Field(description="first runs, as the board's counts.runs (older archives: runs and resumes)")
    resumes: int | None = Field(None, description="as the board's counts.resumes (None: an older archive)")
    learners: int
    restored: float | None = Field(None, description="when it was put back into the class (it stays listed)")


class RestoreIn(BaseModel):
    confirm: bool = Field(False, description="must be true: the archive's runs rejoin the current class")


class ResetIn(BaseModel):
    confirm: bool = Field(
        False, description="must be true: the current class is archived and a fresh one starts"
    )


class ScenarioOut(BaseModel):
    link: str | None = Field(
        description="the chapter page with the settings in its query; None while `errors` has any"
    )
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


class NameIn(BaseModel):
    name: str = Field("", max_length=200, description="empty: anonymous again")


class NameOut(BaseModel):
    name: str | None

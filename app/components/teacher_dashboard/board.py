"""The teacher's board as data: the class's learners, the ledger of restore modes, the exercises,
and the rows of the export. Built by the classroom (classroom.py); shown by views.py and api.py."""

from __future__ import annotations

import functools
import hashlib
import json
import time
from dataclasses import asdict, dataclass, field

from pydantic import BaseModel

from app.components.checkpoint_exercise.progress import ExerciseTry
from app.jobs.protocol import Run, RunStatus

SETTING_KEYS = ("epochs", "lr", "optimizer", "scheduler", "checkpoint_every", "keep_last", "seed")


class Measured(BaseModel):
    """One resume measured against its uninterrupted reference (the simulator's ledger rules): the
    board's numbers, and the export's columns of them (schemas.ExportRow)."""

    loss_change: float | None = None
    spike: bool | None = None
    lr_ok: bool | None = None
    order_same: bool | None = None
    recovery_epochs: int | None = None
    final: str | None = None
    final_val_loss: float | None = None
    identical: bool | None = None
    max_abs_diff: float | None = None


class Measure(Measured):
    complete: bool = False  # nothing in it can change any more: kept as it is


@dataclass
class ModeRow:
    mode: str
    resumes: int = 0
    finished: int = 0
    compared: int = 0
    identical: int = 0
    spikes: int = 0
    median_loss_change: float | None = None
    median_recovery_epochs: float | None = None


@dataclass
class ExerciseRow:
    """One exercise across the class."""

    exercise: str
    tried: int = 0
    solved: int = 0
    checks: int = 0
    failed: int = 0
    top_diagnosis: str | None = None  # the most common diagnosis of the class's failed checks
    top_diagnosis_count: int = 0


@dataclass
class Learner:
    number: int
    label: str
    name: str | None
    runs: int = 0
    resumes: int = 0
    crashed: int = 0
    failed: int = 0
    active: int = 0
    last_activity: float = 0.0
    present: bool = False
    # Why the teacher may want to step in (failed | stalled | exercise | limit); idle alone is not one.
    help: list[str] = field(default_factory=list)
    idle: bool = False  # nothing run or checked for a while: said neutrally, not an alarm
    latest_root: str | None = None
    status: str | None = None
    exercises: dict[str, ExerciseTry] = field(default_factory=dict)  # exercise id -> checks run in this class
    stuck_exercises: list[str] = field(default_factory=list)  # >= STUCK_FAILED failed checks and no solve

    @property
    def solved(self) -> list[str]:
        return [ex for ex, e in self.exercises.items() if e.solved]

    @property
    def checks(self) -> int:
        return sum(e.checks for e in self.exercises.values())

    @property
    def failed_checks(self) -> int:
        return sum(e.failed for e in self.exercises.values())


@dataclass
class Board:
    version: tuple
    built: float
    learners: list[Learner]
    modes: list[ModeRow]
    counts: dict[str, int]
    queue: dict[str, int]
    row_inputs: list[tuple]  # (run, root, learner number, measure) per run, for `rows`
    roots: list[str]  # the current class's lineages
    exercises: list[ExerciseRow] = field(default_factory=list)
    sig: str = ""

    @functools.cached_property
    def rows(self) -> list[dict]:
        """One per run, for the export and the archive: only those read them, so a rebuild while
        the class trains does not build them."""
        return [export_row(*args) for args in self.row_inputs]

    def signature(self) -> str:
        """Equal signatures: an equal dashboard (the age of 'last seen' aside)."""
        data = [
            self.counts,
            self.queue,
            [asdict(m) for m in self.modes],
            [
                (
                    lr.number,
                    lr.name,
                    lr.runs,
                    lr.resumes,
                    lr.crashed,
                    lr.failed,
                    lr.active,
                    lr.present,
                    lr.help,
                    lr.idle,
                    lr.status,
                    {k: asdict(v) for k, v in lr.exercises.items()},
                    lr.stuck_exercises,
                )
                for lr in self.learners
            ],
            [asdict(e) for e in self.exercises],
        ]
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def learner(self, number: int) -> Learner | None:
        return next((lr for lr in self.learners if lr.number == number), None)


def label(lang: str, number: int) -> str:
    return f"学员 {number}" if lang == "zh" else f"learner {number}"


def export_row(run: Run, root: Run | None, number: int, m: Measure) -> dict:
    """One run as a row of the export and of an archive."""
    plan = root.options.crash if root else None
    config = run.config
    return {
        "learner": number,
        "run": run.id[:8],
        "lineage": run.root_id[:8],
        "kind": run.kind,
        "status": run.status.value,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(run.created)),
        **{k: config.get(k) for k in SETTING_KEYS},
        "crash_plan": plan.how if plan else "none",
        "crash_epoch": plan.epoch if plan else None,
        "crashed": run.status is RunStatus.CRASHED,
        "restore": run.options.restore if run.kind == "resume" else None,
        "from_epoch": run.options.from_epoch if run.kind == "resume" else None,
        **m.model_dump(exclude={"complete"}),
    }

"""Response and request models of the CheckpointExercise JSON API (shown in /docs)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.components.checkpoint_exercise.service import AttemptStatus


class ExerciseInfo(BaseModel):
    id: str
    title: str
    task: str
    functions: list[str] = Field(description="the functions the learner writes")
    scaffold: str = Field(description="the editor's starting code; the learner's part is marked TODO")
    bank: list[str] = Field(
        description="assemble mode: the lines to pick and order (solution lines and distractors)"
    )


class ExerciseList(BaseModel):
    mode: Literal["sandbox", "assemble", "off"]
    mode_reason: str = Field(description="why free code cannot run here, when mode is assemble")
    code_max_kb: int
    exercises: list[ExerciseInfo]


class Progress(BaseModel):
    solved: bool
    failures: int = Field(description="failed checks so far; a hint and the solution are offered after 2")


class Submission(BaseModel):
    code: str | None = Field(default=None, description="the learner's code (sandbox mode)")
    lines: list[int | None] | None = Field(
        default=None,
        description="assemble mode: for each bank line its position (1-based), or null if unused",
    )


class CheckRow(BaseModel):
    seed: int
    crash_after: int
    hidden: bool
    identical: bool
    max_abs_diff: float | None = None
    start_epoch: int | None = None
    restored: dict[str, bool] | None = None
    classes: int | None = Field(default=None, description="transfer: the target's number of classes")
    variant: str | None = Field(default=None, description="transfer: the target's architecture variant")
    missing: list[str] | None = Field(
        default=None, description="transfer: the missing_keys load_state_dict reported"
    )


class Verdict(BaseModel):
    status: Literal["solved", "wrong", "error", "limit"]
    diagnosis: str = Field(
        description="solved, optimizer, scheduler, rng, weights, bound, epoch, mismatch, by_name, "
        "not_loaded, nothing_loaded, changed, error, memory, cpu, timeout, output, killed, sandbox, no_source"
    )
    headline: str
    lines: list[str]
    error: dict | None = Field(
        default=None, description="type, message (torch's own words) and the learner's line"
    )
    details: dict
    checks: list[CheckRow]
    output: str = Field(description="what the learner's code printed (capped)")
    timing: dict


class Attempt(BaseModel):
    id: str
    exercise: str
    status: AttemptStatus = Field(description="cancelled: the teacher cleared the queue before it ran")
    place: int = Field(description="checks waiting ahead of this one")
    verdict: Verdict | None = None
    hint: str | None = Field(
        default=None, description="after two failed checks: a hint tied to what differed"
    )
    solution_available: bool = Field(
        description="the reference solution is offered (after two failed checks, or once solved); before "
        "that it is given only on an explicit request (GET .../solution?explicit=true)"
    )
    progress: Progress | None = None


class Solution(BaseModel):
    exercise: str
    code: str


class QueuedCheck(BaseModel):
    id: str
    exercise: str
    status: Literal[AttemptStatus.WAITING, AttemptStatus.RUNNING]
    learner: str = Field(description="the class's hash of the learner (as on the dashboard), never a session")
    waited_s: float = Field(description="seconds since the check was submitted")


class ExerciseQueue(BaseModel):
    waiting: int
    running: int
    waiting_max: int = Field(description="EXERCISE_WAITING_MAX: checks that may wait at once")
    per_address_max: int = Field(description="checks one client address may have waiting or running")
    largest_address_share: int = Field(description="checks of the address that has the most now")
    checks: list[QueuedCheck]


class Cleared(BaseModel):
    cleared: int = Field(description="waiting checks cancelled (running ones finish)")

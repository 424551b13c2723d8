"""The typed seam of the job system. Imports no torch.

Towards a run's process: a `Job` (what it is told to do; a plain dict on the wire, `Job.to_wire`);
its events come back as the types of app/jobs/events.py.

Towards the web layer: `JobBackend` is all a component may ask of the job system, with the
records it hands out (`Run`, `RunStatus`, `RunOptions`, `EpochRow`), its live numbers (`Progress`)
and its refusals (`LimitReached`, `NotAllowed`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

# The run records the interface hands out; components import them from here.
from app.jobs.records import (  # noqa: F401 - re-exported for the components
    FINISHED,
    CrashPlan,
    EpochRow,
    Run,
    RunOptions,
    RunStatus,
    reference_id,
    reference_key,
)

if TYPE_CHECKING:
    from app.settings import Settings


@dataclass(frozen=True)
class Resume:
    checkpoint: str  # absolute path, on the filesystem every node shares
    restore: str


@dataclass(frozen=True)
class Job:
    """One run's process: what to train, where to write, and how the process behaves."""

    task: str
    run_id: str
    run_dir: str
    config: dict
    pace_ms: int = 0
    crash_at_epoch: int | None = None
    crash_while_saving_at: int | None = None
    threads: int = 1
    nice: int = 0
    pretrained_dir: str = ""
    resume: Resume | None = None
    places: int = 1  # its processes at once (a sharded experiment's ranks): a node keeps room for them

    def to_wire(self) -> dict:
        wire = asdict(self)
        if self.resume is None:
            del wire["resume"]
        return wire

    @classmethod
    def from_wire(cls, wire: dict) -> Job:
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in wire.items() if k in known}
        if data.get("resume") is not None:
            data["resume"] = Resume(**data["resume"])
        return cls(**data)


# --- the interface the web layer may rely on ---
class LimitReached(Exception):
    """A per-session or global limit refuses new work; the message says which. `code` and
    `params` let a page say the same in its own language."""

    def __init__(self, message: str, code: str = "limit", **params: Any) -> None:
        super().__init__(message)
        self.code, self.params = code, params


class NotAllowed(Exception):
    """The action does not fit the run's state (crash a finished run, resume a queued one…)."""


@dataclass
class Progress:
    """A training run's live numbers, between the epochs the store records (only while active)."""

    epoch: int = 0
    step: int = 0
    loss: float | None = None
    lr: float | None = None
    acc: float | None = None  # validation accuracy after the last whole epoch
    val_loss: float | None = None  # and validation loss
    pid: int | None = None
    node: str | None = None  # the worker node that trains it (JOB_BACKEND=celery)
    updated: float = field(default_factory=time.time)


@dataclass(frozen=True)
class RunState:
    """A run's status with what is known of it now (`JobBackend.status`)."""

    run_id: str
    status: RunStatus
    queue_position: int | None = None
    epoch: int | None = None
    step: int | None = None
    node: str | None = None
    pid: int | None = None


@dataclass(frozen=True)
class QueueCounts:
    waiting: int  # runs queued for a place
    training: int  # runs holding a place


@runtime_checkable
class JobBackend(Protocol):
    """What the web layer needs from a job system, whichever runs the processes. Components
    use only this (tests/test_architecture.py checks): never the store or the live numbers."""

    settings: Settings

    # --- work: submit, crash, cancel, delete ---
    def submit(
        self,
        session: str | None,
        kind: str,
        config: dict,
        options: RunOptions | dict | None = None,
        *,
        run_id: str | None = None,
        first: bool = False,
    ) -> Run: ...  # raises LimitReached

    def submit_resume(
        self,
        session: str,
        source: Run,
        checkpoint: Path,
        epoch: int,
        restore: str,
        prediction: dict | None = None,
    ) -> Run: ...

    def submit_resume_all(
        self,
        session: str,
        source: Run,
        checkpoint: Path,
        epoch: int,
        modes: list[str],
        predictions: dict[str, dict] | None = None,
    ) -> list[Run]: ...

    def crash(self, run_id: str) -> None: ...  # SIGKILL of exactly that run's process

    def cancel(self, run_id: str) -> bool: ...  # a waiting run leaves the queue

    def delete(self, root_id: str) -> None: ...  # a lineage, its records and files (NotAllowed if active)

    def note_address(self, session: str, address: str) -> None: ...  # for the per-address queue cap

    # --- reading: records (what survives a restart) ---
    def run(self, run_id: str) -> Run | None: ...

    def session_runs(self, session: str) -> list[Run]: ...  # oldest first

    def lineage_runs(self, root_id: str) -> list[Run]: ...  # a first run and its resumes, oldest first

    def reference_run(self, config: dict) -> Run | None: ...  # the uninterrupted run of these settings

    def epochs(self, run_id: str) -> list[EpochRow]: ...

    def events(self, run_id: str, kind: str | None = None) -> list[dict]: ...

    def run_dir(self, run_id: str) -> Path: ...  # the run's files, on the filesystem all nodes share

    # Counters that change whenever a lineage's (or a session's) records are written: pages
    # cache what they draw under them, event streams watch them.
    def version(self, root_id: str) -> int: ...

    def session_version(self, session: str) -> int: ...

    # Only when a run of the session is added, changes (status…) or goes: not for its epochs.
    def session_runs_version(self, session: str) -> int: ...

    # --- reading: the class (the teacher's board) ---
    def class_runs(self) -> list[Run]: ...  # every learner's first runs and resumes, oldest first

    def class_version(self) -> int: ...  # changes whenever anything of any run is written

    def queue_counts(self) -> QueueCounts: ...

    # --- reading: now (in memory, gone when the run ends) ---
    def status(self, run_id: str) -> RunState | None: ...

    def progress(self, run_id: str) -> Progress | None: ...  # a copy: it does not change under you

    def queue_position(self, run_id: str) -> int | None: ...  # 1 = next to start in its line (paced or not)

    def is_running(self, run_id: str) -> bool: ...

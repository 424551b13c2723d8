"""The typed seam between the job manager and whatever runs the jobs. Imports no torch.

What crosses it: a `Job` (what a run's process is told to do) one way, events the other way.
On the wire (a multiprocessing pipe, or a Redis stream between machines) both stay plain dicts:
the worker body is shared with the other engineer's code and sends dicts, and a dict pickles and
JSON-encodes alike. These types say what those dicts hold; `Job.to_wire` and `parse_event`
convert, and an unknown event kind is kept as `Other` rather than dropped.

The other way round, `JobBackend` is all the web layer may ask of the job system, with the
records it hands out (`Run`, `EpochRow`), its live numbers (`Progress`) and its refusals
(`LimitReached`, `NotAllowed`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, Union, runtime_checkable

# The run records the interface hands out; components import them from here.
from app.jobs.records import EpochRow, Run, reference_id, reference_key  # noqa: F401

if TYPE_CHECKING:
    from app.settings import Settings

TaskKind = Literal["train", "resume", "reference", "pretrain", "finetune"]


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


# --- events: worker -> manager ---
@dataclass(frozen=True)
class Step:
    epoch: int
    step: int
    loss: float
    lr: float
    type: str = "step"


@dataclass(frozen=True)
class Epoch:
    epoch: int
    step: int
    loss: float
    acc: float
    lr: float
    seconds: float
    val_loss: float | None = None
    step_losses: list = field(default_factory=list)
    order_head: list = field(default_factory=list)
    type: str = "epoch"


@dataclass(frozen=True)
class Checkpoint:
    data: dict  # what the worker said about the file (epoch, file, atomic, …), stored as it is
    type: str = "checkpoint"


@dataclass(frozen=True)
class Resumed:
    epoch: int
    step: int
    restore: str
    type: str = "resumed"


@dataclass(frozen=True)
class Crash:
    how: str
    epoch: int
    step: int
    type: str = "crash"


@dataclass(frozen=True)
class Done:
    weights_hash: str
    type: str = "done"


@dataclass(frozen=True)
class Failed:
    error: str
    type: str = "error"


@dataclass(frozen=True)
class Recorded:
    """Progress of other kinds of jobs (pretraining, fine-tuning) that the pages read back."""

    kind: Literal["series", "result", "pretrain_epoch"]
    data: dict
    type: str = "recorded"


@dataclass(frozen=True)
class Started:
    """A remote node took the run: which node, and the pid of the run's own process there."""

    node: str
    pid: int
    type: str = "started"


@dataclass(frozen=True)
class Exited:
    """The run's process ended with this exit code (negative: killed by that signal)."""

    code: int | None
    type: str = "exit"


@dataclass(frozen=True)
class Other:
    data: dict
    type: str = "other"


Event = Union[Step, Epoch, Checkpoint, Resumed, Crash, Done, Failed, Recorded, Started, Exited, Other]
RECORDED_KINDS = ("series", "result", "pretrain_epoch")
_PLAIN = {
    "step": Step,
    "epoch": Epoch,
    "resumed": Resumed,
    "crash": Crash,
    "done": Done,
    "error": Failed,
    "started": Started,
    "exit": Exited,
}


def parse_event(wire: dict) -> Event:
    """A worker's dict as its typed event; a malformed one raises (KeyError/TypeError)."""
    kind = wire.get("type")
    body = {k: v for k, v in wire.items() if k != "type"}
    if kind == "checkpoint":
        return Checkpoint(body)
    if kind in RECORDED_KINDS:
        return Recorded(kind, body)
    cls = _PLAIN.get(kind)
    if cls is None:
        return Other(dict(wire))
    known = {f.name for f in fields(cls)} - {"type"}
    return cls(**{k: v for k, v in body.items() if k in known})


def unbatch(message: dict | list) -> list[dict]:
    """The events in one message from a run's process: one event, or a list of several (a fast
    run's epochs travel together, app/jobs/worker.py `Outbox`), in the order they happened."""
    return message if isinstance(message, list) else [message]


# --- the interface the web layer may rely on ---
class LimitReached(Exception):
    """A per-session or global limit refuses new work; the message says which. `code` and
    `params` let a page say the same in its own language."""

    def __init__(self, message: str, code: str = "limit", **params):
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
class RunStatus:
    run_id: str
    status: str  # planned, queued, running, done, crashed, failed, interrupted
    queue_position: int | None = None
    epoch: int | None = None
    step: int | None = None
    node: str | None = None
    pid: int | None = None


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
        options: dict | None = None,
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

    # --- reading: now (in memory, gone when the run ends) ---
    def status(self, run_id: str) -> RunStatus | None: ...

    def progress(self, run_id: str) -> Progress | None: ...  # a copy: it does not change under you

    def queue_position(self, run_id: str) -> int | None: ...  # 1 = next to start in its line (paced or not)

    def is_running(self, run_id: str) -> bool: ...

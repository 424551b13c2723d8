"""The typed seam between the job manager and whatever runs the jobs. Imports no torch.

What crosses it: a `Job` (what a run's process is told to do) one way, events the other way.
On the wire (a multiprocessing pipe, or a Redis stream between machines) both stay plain dicts:
the worker body is shared with the other engineer's code and sends dicts, and a dict pickles and
JSON-encodes alike. These types say what those dicts hold; `Job.to_wire` and `parse_event`
convert, and an unknown event kind is kept as `Other` rather than dropped.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Iterable, Literal, Protocol, Union, runtime_checkable

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
    def from_wire(cls, wire: dict) -> "Job":
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
_PLAIN = {"step": Step, "epoch": Epoch, "resumed": Resumed, "crash": Crash, "done": Done, "error": Failed,
          "started": Started, "exit": Exited}


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
    """What the web layer needs from a job system, whichever runs the processes."""

    def submit(self, session: str | None, kind: str, config: dict, options: dict | None = None) -> Any: ...

    def crash(self, run_id: str) -> None: ...  # SIGKILL of exactly that run's process

    def cancel(self, run_id: str) -> bool: ...  # a waiting run leaves the queue

    def status(self, run_id: str) -> RunStatus | None: ...

    def events(self, run_id: str, kind: str | None = None) -> Iterable[dict]: ...

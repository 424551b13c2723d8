"""The events a run's process (and a remote executor) sends, as types. Imports no torch.

On the wire (a multiprocessing pipe, or a Redis stream between machines) they stay plain dicts: a
dict pickles and JSON-encodes alike. The supervisor parses each one here as it reads it, and the
run service handles them by type; an unknown kind is kept as `Other` rather than dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Literal


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
    how: str  # button | at_epoch | while_saving
    epoch: int
    step: int
    type: str = "crash"

    def to_dict(self) -> dict:
        return {"how": self.how, "epoch": self.epoch, "step": self.step}


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
class Lost:
    """A remote executor gave up on the run: its node stopped answering, or none took it."""

    reason: str = "the worker node was lost"
    type: str = "lost"


@dataclass(frozen=True)
class Other:
    data: dict
    type: str = "other"


Event = (
    Step | Epoch | Checkpoint | Resumed | Crash | Done | Failed | Recorded | Started | Exited | Lost | Other
)
RECORDED_KINDS = ("series", "result", "pretrain_epoch")
_PLAIN: dict[str, type] = {
    "step": Step,
    "epoch": Epoch,
    "resumed": Resumed,
    "crash": Crash,
    "done": Done,
    "error": Failed,
    "started": Started,
    "exit": Exited,
    "lost": Lost,
}


def parse_event(wire: dict) -> Event:
    """A worker's dict as its typed event; a malformed one raises (KeyError/TypeError)."""
    kind = wire.get("type")
    body = {k: v for k, v in wire.items() if k != "type"}
    if kind == "checkpoint":
        return Checkpoint(body)
    if kind in RECORDED_KINDS:
        return Recorded(kind, body)
    cls = _PLAIN.get(kind) if isinstance(kind, str) else None
    if cls is None:
        return Other(dict(wire))
    known = {f.name for f in fields(cls)} - {"type"}
    event: Event = cls(**{k: v for k, v in body.items() if k in known})
    return event


def unbatch(message: dict | list) -> list[dict]:
    """The events in one message from a run's process: one event, or a list of several (a fast
    run's epochs travel together, app/jobs/worker.py `Outbox`), in the order they happened."""
    return message if isinstance(message, list) else [message]

"""What the job system keeps of a run, as the web layer reads it: the run's record, its status, its
options and per-epoch rows. Plain dataclasses, no torch and no SQLite: the store (app/jobs/store.py)
reads and writes them, the seam (app/jobs/protocol.py) names them, the components show them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal


class RunStatus(StrEnum):
    """Where a run is in its life. A StrEnum: stored, sent as JSON and shown as its plain value."""

    # A resume of a set ("resume all") that waits for room under the learner's limit; it holds no
    # place in the queue until then.
    PLANNED = "planned"
    QUEUED = "queued"  # waits in line for a place
    RUNNING = "running"  # its process trains
    DONE = "done"
    CRASHED = "crashed"  # the crash the learner asked for (button or plan)
    FAILED = "failed"  # the process raised or died on its own
    INTERRUPTED = "interrupted"  # cancelled while waiting, or its server or node went away

    @property
    def active(self) -> bool:
        return self in ACTIVE


ACTIVE = frozenset({RunStatus.PLANNED, RunStatus.QUEUED, RunStatus.RUNNING})
FINISHED = frozenset(set(RunStatus) - ACTIVE)

CrashHow = Literal["none", "at_epoch", "while_saving"]


@dataclass(frozen=True)
class CrashPlan:
    """The crash a learner planned for a first run: none, half-way through epoch `epoch`, or in the
    middle of writing the checkpoint of epoch `epoch`."""

    how: CrashHow = "none"
    epoch: int | None = None


@dataclass(frozen=True)
class RunOptions:
    """How a run trains, apart from its config: its pace, its crash plan and, for a resume, where it
    resumes from. Parsed once (`parse`) from what the store or a caller gives; read as attributes."""

    pace_ms: int = 0
    crash: CrashPlan = CrashPlan()
    checkpoint: str | None = None  # a resume's checkpoint file, relative to the runs folder
    from_run: str | None = None
    from_epoch: int = 0
    restore: str | None = None  # a resume's restore mode
    prediction: dict | None = None  # what the learner expected of the resume

    @classmethod
    def parse(cls, raw: RunOptions | Mapping[str, Any] | None) -> RunOptions:
        """The one reader of the stored form (the keys the database has always held)."""
        raw = raw or {}
        if isinstance(raw, RunOptions):
            return raw
        crash = CrashPlan()
        if raw.get("crash_at_epoch") is not None:
            crash = CrashPlan("at_epoch", int(raw["crash_at_epoch"]))
        elif raw.get("crash_while_saving_at") is not None:
            crash = CrashPlan("while_saving", int(raw["crash_while_saving_at"]))
        return cls(
            pace_ms=int(raw.get("pace_ms") or 0),
            crash=crash,
            checkpoint=raw.get("checkpoint"),
            from_run=raw.get("from_run"),
            from_epoch=int(raw.get("from_epoch") or 0),
            restore=raw.get("restore"),
            prediction=raw.get("prediction") or None,
        )

    def to_dict(self) -> dict[str, Any]:
        """The stored form: only what is set, under the keys parse reads."""
        out: dict[str, Any] = {"pace_ms": self.pace_ms}
        if self.crash.how == "at_epoch":
            out["crash_at_epoch"] = self.crash.epoch
        elif self.crash.how == "while_saving":
            out["crash_while_saving_at"] = self.crash.epoch
        if self.checkpoint is not None:
            out |= {"checkpoint": self.checkpoint, "from_run": self.from_run, "from_epoch": self.from_epoch}
            out["restore"] = self.restore
        if self.prediction:
            out["prediction"] = self.prediction
        return out


@dataclass
class Run:
    id: str
    session: str | None
    kind: str
    config: dict
    options: RunOptions
    status: RunStatus
    parent_id: str | None
    root_id: str
    reference_key: str | None
    error: str | None
    final_hash: str | None
    created: float
    started: float | None
    finished: float | None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def last_write(self) -> float:
        """When the run was last created, started or ended."""
        return max(t for t in (self.created, self.started, self.finished) if t is not None)


@dataclass
class EpochRow:
    epoch: int
    loss: float
    acc: float
    lr: float
    seconds: float
    step: int
    step_losses: list[float] = field(default_factory=list)
    order_head: list[int] = field(default_factory=list)
    val_loss: float | None = None


def reference_key(config: dict) -> str:
    """Names the uninterrupted reference run of a training config (one per config, shared)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:20]


def reference_id(config: dict) -> str:
    """The reference run's id (and root): known before the run exists, so pages can watch it."""
    return "ref-" + reference_key(config)

"""What the job system keeps of a run, as the web layer reads it: the run's record and its
per-epoch rows. Plain dataclasses, no torch and no SQLite: the store (app/jobs/store.py) reads
and writes them, the seam (app/jobs/protocol.py) names them, the components show them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

# "planned": a resume of a set (resume all) that waits for room under the learner's limit; it
# holds no place in the worker queue until then.
ACTIVE = ("planned", "queued", "running")


@dataclass
class Run:
    id: str
    session: str | None
    kind: str
    config: dict
    options: dict
    status: str
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

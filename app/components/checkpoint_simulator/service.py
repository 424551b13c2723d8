"""Read side of the simulator: a learner's runs, their lineages and what is on disk, as plain
data shared by the HTML views and the JSON API. Nothing here imports torch."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Annotated, TypeVar

import anyio
from fastapi import Depends, HTTPException, Request

from app.components.checkpoint_simulator import ledger
from app.deps import Jobs, Session
from app.jobs.protocol import EpochRow, JobBackend, Run, RunStatus
from app.ml import layout

T = TypeVar("T")


# The simulator's own work in the web process (live views, starting runs) runs a few at a time:
# when a class starts its runs at once, sixty renders in sixty threads would fight over the GIL
# and stall every other request (the chapter page waited ~0.2 s); two threads keep both cores'
# worth of rendering and leave the event loop its turn.
SLOTS = 2


def on_startup(app) -> None:
    app.state.simulator_slots = anyio.CapacityLimiter(SLOTS)


def in_slot(request: Request, fn: Callable[[], T]) -> Awaitable[T]:
    """fn() in a worker thread, among at most SLOTS at once.

    The simulator's one rule for blocking work: every route (HTML and JSON) is `async def`, and
    whatever touches SQLite, the run folders or renders a template runs through here, never on
    the event loop and never in Starlette's default thread pool (where sixty learners' clicks
    would become sixty threads). Only the request's own parsing (form, body) and in-memory
    looks stay on the loop."""
    return anyio.to_thread.run_sync(fn, limiter=request.app.state.simulator_slots)


async def ended(request: Request, jobs: JobBackend, run_id: str, timeout: float = 2.0) -> None:
    """Until the run's end is recorded (or `timeout` s): a SIGKILL takes a moment to be seen and
    written, locally a few ms, through a worker node a relay tick or two. Waits on the event
    loop; each look takes a simulator slot only for a primary-key read."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = await in_slot(request, partial(jobs.run, run_id))
        if run is None or not run.active:
            return
        await asyncio.sleep(0.02)


def owned_run(jobs: JobBackend, session: str, run_id: str) -> Run:
    """A run of this browser's session; any other id is 'not found', never 'forbidden'."""
    run = jobs.run(run_id) if len(run_id) <= 64 else None
    if run is None or run.session != session:
        raise HTTPException(404, "no such run")
    return run


async def _owned_run(request: Request, jobs: Jobs, session: Session, run_id: str) -> Run:
    return await in_slot(request, partial(owned_run, jobs, session, run_id))


# A route with {run_id} in its path and a parameter `run: OwnedRun` gets that run of the
# learner's own, looked up in a slot (404 for anyone else's).
OwnedRun = Annotated[Run, Depends(_owned_run)]


@dataclass
class CheckpointFile:
    run_id: str
    epoch: int
    file: str
    bytes: int
    loss: float | None
    latest: bool
    batch: int = 0  # batches of epoch+1 done: a mid-epoch checkpoint when > 0

    @property
    def key(self) -> str:
        """Unique among a run's checkpoints (page element ids): "5", or "11-19" mid-epoch."""
        return f"{self.epoch}-{self.batch}" if self.batch else str(self.epoch)


@dataclass
class Segment:
    run: Run
    epochs: list[EpochRow]
    checkpoints: list[CheckpointFile]
    live: dict | None
    queue_position: int | None
    crash: dict | None = None
    survivors: dict | None = None
    comparison: dict | None = None
    naive_bytes: int | None = None
    temp_files: list[tuple[str, int]] = field(default_factory=list)
    epoch_order: dict | None = None  # a mid-epoch resume: what the interrupted epoch trained

    @property
    def first_epoch(self) -> int:
        return self.run.options.from_epoch

    @property
    def from_batch(self) -> int:
        """Batches of epoch first_epoch + 1 already done in the checkpoint resumed from."""
        pos = layout.checkpoint_position(Path(self.run.options.checkpoint or "").name)
        return pos[1] if pos else 0

    @property
    def restore(self) -> str | None:
        return self.run.options.restore


@dataclass
class Lineage:
    root: Run
    segments: list[Segment]
    reference: Segment | None
    steps_per_epoch: int | None

    @property
    def active(self) -> bool:
        return any(s.run.active for s in self.segments) or bool(self.reference and self.reference.run.active)

    @property
    def epochs_total(self) -> int:
        return int(self.root.config["epochs"])


def segment(jobs: JobBackend, run: Run) -> Segment:
    run_dir = jobs.run_dir(run.id)
    epochs = jobs.epochs(run.id)
    loss_at = {e.epoch: e.loss for e in epochs}
    pointer = layout.latest_pointer(run_dir)
    checkpoints = [
        CheckpointFile(
            run.id,
            epoch,
            name,
            size,
            loss_at.get(epoch),
            name == pointer,
            (layout.checkpoint_position(name) or (epoch, 0))[1],
        )
        for epoch, name, size in layout.list_checkpoints(run_dir)
    ]
    live = jobs.progress(run.id) if run.active else None
    crash = next(iter(jobs.events(run.id, "crash")), None)
    survivors = next(iter(jobs.events(run.id, "survivors")), None)
    comparison = next(iter(jobs.events(run.id, "comparison")), None)
    naive = run_dir / layout.NAIVE_FILE
    return Segment(
        run=run,
        epochs=epochs,
        checkpoints=checkpoints,
        live=vars(live) if live else None,
        queue_position=jobs.queue_position(run.id),
        crash=crash,
        survivors=survivors,
        comparison=comparison,
        # Measured in one tolerant pass each: the worker renames and deletes files meanwhile.
        naive_bytes=layout.file_size(naive),
        temp_files=layout.temp_file_sizes(run_dir),
        epoch_order=_read_json(run_dir / layout.ORDER_FILE) if run.kind == "resume" else None,
    )


def _read_json(path: Path) -> dict | None:
    # Written atomically by the worker once the interrupted epoch is over; absent before that.
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def showing_reference(runs: list[Run]) -> set[str]:
    """The lineages (root ids) among `runs` that show their shared reference. It is shared by
    everyone with the same settings and may already exist: a lineage shows it only once it has a
    resume to compare with it, never as a stranger's run. Until then its progress is no change
    to the lineage's page (stream.look_at)."""
    return {r.root_id for r in runs if r.kind == "resume"}


def lineage(jobs: JobBackend, root: Run) -> Lineage:
    runs = jobs.lineage_runs(root.root_id)
    segments = [segment(jobs, r) for r in runs]
    ref_run = jobs.reference_run(root.config) if root.root_id in showing_reference(runs) else None
    reference = segment(jobs, ref_run) if ref_run else None
    steps = None
    for seg in [*segments, *([reference] if reference else [])]:
        if seg.epochs:
            first = seg.epochs[0]
            steps = len(first.step_losses) or None
            if steps:
                break
    return Lineage(
        root=jobs.run(root.root_id) or root, segments=segments, reference=reference, steps_per_epoch=steps
    )


def current_lineage(jobs: JobBackend, root: Run) -> tuple[Lineage, tuple]:
    """The lineage as it stands now, with the version it was read at (root id, version)."""
    key = (root.root_id, jobs.version(root.root_id))
    return lineage(jobs, root), key


def build_ledger(lin: Lineage) -> ledger.Ledger:
    """One row per restore mode from the lineage's latest resume of that mode."""
    ref = lin.reference
    ref_done = bool(ref and ref.run.status == RunStatus.DONE)
    rows = []
    for mode in ledger.MODES:
        row = ledger.Row(mode, dict(zip(ledger.PIECES, ledger.RESTORED[mode], strict=True)))
        seg = next(
            (
                s
                for s in reversed(lin.segments)
                if s.run.kind == "resume" and s.restore == mode and not trains_nothing(s.run)
            ),
            None,
        )
        if seg is not None:
            row.run_id, row.status, row.from_epoch = seg.run.id, seg.run.status, seg.first_epoch
            row.error = seg.run.error if seg.run.status == RunStatus.FAILED else None
            row.prediction = seg.run.options.prediction
            if ref is not None:
                ledger.measure(row, seg.epochs, ref.epochs, ref_done, seg.run.status == RunStatus.DONE)
            if seg.epoch_order:
                o = seg.epoch_order
                row.samples_twice, row.samples_never, row.order_epoch = o["twice"], o["never"], o["epoch"]
            c = seg.comparison
            if c and not c.get("error"):
                row.identical, row.max_abs_diff = bool(c.get("identical")), c.get("max_abs_diff")
            elif ref is not None and seg.run.final_hash and ref_done and ref.run.final_hash:
                # Each worker reports the hash of its final weights: equal hashes are the verdict
                # already; the comparison process adds max |Δw| a moment later.
                row.identical = seg.run.final_hash == ref.run.final_hash
            ledger.judge_prediction(row)
        rows.append(row)
    return ledger.Ledger(rows, ref_done)


def learner_roots(jobs: JobBackend, session: str) -> list[Run]:
    return [r for r in jobs.session_runs(session) if r.kind == "train"]


def step_points(seg: Segment) -> list[tuple[float, float]]:
    """Per-step training loss against fractional epochs, so a spike inside an epoch shows."""
    points = []
    for row in seg.epochs:
        n = len(row.step_losses)
        for i, loss in enumerate(row.step_losses):
            points.append((row.epoch - 1 + (i + 1) / n, loss))
        if not n:
            points.append((float(row.epoch), row.loss))
    return points


def first_resumed_epoch_gap(seg: Segment, reference: Segment | None) -> dict | None:
    """How the first epoch after a resume compares with the same epoch of the uninterrupted run."""
    if reference is None or not seg.epochs:
        return None
    ref = {e.epoch: e for e in reference.epochs}
    first = seg.epochs[0]
    other = ref.get(first.epoch)
    if other is None:
        return None
    peak = max(first.step_losses) if first.step_losses else first.loss
    ref_peak = max(other.step_losses) if other.step_losses else other.loss
    return {
        "epoch": first.epoch,
        "loss": first.loss,
        "reference_loss": other.loss,
        "peak": peak,
        "reference_peak": ref_peak,
        "lr": first.lr,
        "reference_lr": other.lr,
        "loss_ratio": first.loss / other.loss if other.loss else math.inf,
        "order": first.order_head[:6],
        "reference_order": other.order_head[:6],
        "same_losses": all(e.loss == ref[e.epoch].loss for e in seg.epochs if e.epoch in ref),
    }


class Refused(Exception):
    """A resume that cannot start; `code` names the reason for the page's own words."""

    def __init__(self, code: str, message: str, detail: str | None = None, file: str = ""):
        super().__init__(message)
        self.code, self.detail, self.file = code, detail, file


def _resumable(jobs: JobBackend, source: Run, file: str) -> tuple[Path, int]:
    if source.active:
        raise Refused("active", "the run is still active; crash it or wait for it to finish")
    path = checkpoint_path(jobs, source, file)
    survivors = next(iter(jobs.events(source.id, "survivors")), None)
    verdict = next(
        (
            f
            for f in (survivors or {}).get("files", [])
            if f.get("file") in (file, f"{layout.CHECKPOINT_DIR}/{file}")
        ),
        None,
    )
    if verdict is not None and not verdict.get("ok"):
        # torch.load already refused this file after the crash: a resume would only fail the same way.
        raise Refused("rejected", "torch.load rejected this file after the crash", verdict.get("error"), file)
    match = layout.CKPT_RE.match(file)
    # The naive file names no epoch; it is overwritten at every save, so it claims the last one.
    epoch = (
        int(match.group(1))
        if match
        else max((e["epoch"] for e in jobs.events(source.id, "checkpoint")), default=0)
    )
    if source.status == RunStatus.DONE and epoch >= int(source.config["epochs"]):
        # Resumed from its last epoch, a finished run trains nothing, and every way of resuming
        # would look bit-identical: the opposite of the lesson.
        raise Refused(
            "finished",
            "the run finished: its final checkpoint has nothing left to train; "
            "start a run with a planned crash (crash=at_epoch) to compare resumes",
        )
    return path, epoch


def trains_nothing(run: Run) -> bool:
    """A resume from a finished run's final checkpoint (refused now, kept by older data): it has
    no epoch to train, so it says nothing about what a resume costs; ledgers leave it out."""
    return run.kind == "resume" and run.options.from_epoch >= int(run.config["epochs"])


def resume(jobs: JobBackend, source: Run, file: str, restore: str, prediction: dict | None = None) -> Run:
    """Queue a resume of `source` from one of its files; raises Refused, LimitReached or HTTP 404."""
    path, epoch = _resumable(jobs, source, file)
    return jobs.submit_resume(source.session or "", source, path, epoch, restore, prediction)


def resume_all(
    jobs: JobBackend, source: Run, file: str, predictions: dict[str, dict] | None = None
) -> list[Run]:
    """One resume per restore mode from one checkpoint (queued within the learner's limit)."""
    path, epoch = _resumable(jobs, source, file)
    return jobs.submit_resume_all(source.session or "", source, path, epoch, list(ledger.MODES), predictions)


def checkpoint_path(jobs: JobBackend, run: Run, file: str) -> Path:
    """Resolve a learner-named checkpoint file strictly inside that run's folder."""
    run_dir = jobs.run_dir(run.id)
    if file == layout.NAIVE_FILE:
        path = run_dir / layout.NAIVE_FILE
    elif layout.CKPT_RE.match(file):
        path = run_dir / layout.CHECKPOINT_DIR / file
    else:
        raise HTTPException(404, "no such checkpoint")
    if not path.is_file():
        raise HTTPException(404, "that checkpoint is not on disk (kept only the last ones, or never written)")
    return path

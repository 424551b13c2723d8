"""The typed seam between the job manager and what runs the jobs (app/jobs/protocol.py, events.py)."""

from __future__ import annotations

import subprocess
import sys

from app.jobs.events import Checkpoint, Crash, Epoch, Exited, Failed, Lost, Other, Recorded, Step, parse_event
from app.jobs.manager import JobManager
from app.jobs.protocol import Job, JobBackend, Resume, RunStatus
from app.settings import Settings
from tests.conftest import REPO
from tests.simulator_helpers import train_config


def test_a_job_crosses_the_wire_and_back_unchanged():
    job = Job(
        task="resume",
        run_id="r1",
        run_dir="/data/runs/r1",
        config={"epochs": 3},
        pace_ms=10,
        threads=1,
        nice=10,
        pretrained_dir="/p",
        resume=Resume("/data/runs/r0/c.pt", "everything"),
    )
    wire = job.to_wire()
    assert wire["resume"] == {"checkpoint": "/data/runs/r0/c.pt", "restore": "everything"}
    assert Job.from_wire(wire) == job
    assert "resume" not in Job(task="train", run_id="r2", run_dir="/x", config={}).to_wire()


def test_worker_events_parse_to_their_types():
    assert parse_event({"type": "step", "epoch": 1, "step": 5, "loss": 0.5, "lr": 0.1}) == Step(
        1, 5, 0.5, 0.1
    )
    epoch = parse_event(
        {
            "type": "epoch",
            "epoch": 2,
            "step": 76,
            "loss": 0.4,
            "acc": 0.8,
            "lr": 0.1,
            "seconds": 0.02,
            "val_loss": 0.3,
            "order_head": [3, 1],
        }
    )
    assert isinstance(epoch, Epoch) and epoch.order_head == [3, 1] and epoch.val_loss == 0.3
    assert parse_event({"type": "crash", "how": "button", "epoch": 3, "step": 9}) == Crash("button", 3, 9)
    assert parse_event({"type": "checkpoint", "epoch": 2, "file": "f.pt"}) == Checkpoint(
        {"epoch": 2, "file": "f.pt"}
    )
    assert parse_event({"type": "series", "seed": 0}) == Recorded("series", {"seed": 0})
    assert parse_event({"type": "error", "error": "boom"}) == Failed("boom")
    assert parse_event({"type": "exit", "code": -9}) == Exited(-9)
    assert parse_event({"type": "lost", "reason": "gone"}) == Lost("gone")
    assert isinstance(parse_event({"type": "something new"}), Other)


def test_the_job_manager_is_a_job_backend(tmp_path):
    manager = JobManager(Settings(data_dir=tmp_path / "data"))
    assert isinstance(manager, JobBackend)
    run = manager.submit(
        "s1",
        "train",
        train_config(epochs=2, checkpoint_every=1),
    )
    status = manager.status(run.id)
    assert status.status is RunStatus.QUEUED and status.queue_position == 1
    assert manager.cancel(run.id) and manager.status(run.id).status is RunStatus.INTERRUPTED
    job = manager.job_for(manager.store.get(run.id)).to_wire()
    assert set(job) == {
        "task",
        "run_id",
        "run_dir",
        "config",
        "pace_ms",
        "crash_at_epoch",
        "crash_while_saving_at",
        "threads",
        "nice",
        "pretrained_dir",
        "places",
    }
    assert job["places"] == 1  # a training run: one process


def test_the_seam_imports_no_torch():
    code = (
        "import sys, app.jobs.protocol, app.jobs.executors, app.jobs.celery_app, app.jobs.celery_executor, "
        "app.jobs.manager, app.jobs.scheduler, app.jobs.supervisor; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

"""app/jobs/manager.py: the reference run a resume is judged against starts right after a crash
when a worker would otherwise sit idle, and never takes a place from a learner's run."""

from __future__ import annotations

import time

from app.jobs.manager import JobManager, reference_key
from app.settings import Settings
from tests.simulator_helpers import train_config

CONFIG = train_config(epochs=6, checkpoint_every=1, keep_last=2, seed=3)


def _wait(predicate, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def _manager(tmp_path, workers: int) -> JobManager:
    jobs = JobManager(Settings(data_dir=tmp_path / "data", max_workers=workers))
    jobs.start()
    return jobs


def test_a_crash_on_an_idle_pool_starts_the_reference_before_any_resume(tmp_path):
    jobs = _manager(tmp_path, workers=2)
    try:
        run = jobs.submit_train("learner-a", CONFIG, {"pace_ms": 0, "crash_at_epoch": 3})
        _wait(lambda: jobs.store.get(run.id).status == "crashed")
        # The monitor records the crash, then starts the reference: a moment apart.
        _wait(lambda: jobs.store.reference(reference_key(CONFIG)) is not None)
        ref = jobs.store.reference(reference_key(CONFIG))
        assert ref.kind == "reference" and ref.session is None
        _wait(lambda: jobs.store.get(ref.id).status == "done")
        # The learner's resume later finds it done: it is judged at once, against that same run.
        assert jobs.ensure_reference(CONFIG).id == ref.id
    finally:
        jobs.stop()


def test_a_busy_pool_starts_no_reference_on_a_crash(tmp_path):
    jobs = _manager(tmp_path, workers=1)
    try:
        crashing = jobs.submit_train("learner-a", CONFIG, {"pace_ms": 0, "crash_at_epoch": 3})
        waiting = jobs.submit_train("learner-b", {**CONFIG, "seed": 4}, {"pace_ms": 0})
        _wait(lambda: jobs.store.get(crashing.id).status == "crashed")
        # Learner b's run was waiting for the only worker: no speculative work went ahead of it.
        assert jobs.store.reference(reference_key(CONFIG)) is None
        _wait(lambda: jobs.store.get(waiting.id).status == "done")
        assert jobs.store.reference(reference_key(CONFIG)) is None
    finally:
        jobs.stop()

"""The job runner: real worker processes, the queue and its limits, and surviving a killed server."""

from __future__ import annotations

import os
import time

import httpx
import pytest
import torch

from app.jobs.manager import JobManager, LimitReached, NotAllowed
from app.settings import Settings
from tests.simulator_helpers import API, train_config, wait_finished, wait_for

CONFIG = train_config()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0): look at its state too.
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(")")[-1].split()[0] != "Z"


def wait_until(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


@pytest.fixture
def manager(tmp_path):
    # No paced places: these tests watch one line of runs (paced ones included) wait for one core.
    settings = Settings(
        data_dir=tmp_path / "data", max_workers=1, paced_workers=0, max_active_runs_per_session=2, queue_max=3
    )
    jobs = JobManager(settings)
    jobs.start()
    yield jobs
    jobs.stop()


def test_crash_sends_sigkill_and_the_worker_is_gone(manager):
    run = manager.submit_train("s1", CONFIG, {"pace_ms": 50})
    wait_until(lambda: manager.live.get(run.id) and manager.live[run.id].epoch >= 1)
    pid = manager.live[run.id].pid
    assert pid_alive(pid)
    manager.crash(run.id)
    wait_until(lambda: manager.store.get(run.id).status == "crashed")
    wait_until(lambda: not pid_alive(pid), timeout=5)
    with pytest.raises(NotAllowed):
        manager.crash(run.id)


def test_queue_positions_and_limits(manager):
    first = manager.submit_train("a", CONFIG, {"pace_ms": 200})
    second = manager.submit_train("a", CONFIG, {"pace_ms": 200})
    wait_until(lambda: manager.is_running(first.id))
    assert manager.queue_position(second.id) == 1
    assert manager.store.get(second.id).status == "queued"
    with pytest.raises(LimitReached, match="limit reached"):
        manager.submit_train("a", CONFIG, {})  # per-session limit of 2 active runs
    b = manager.submit_train("b", CONFIG, {})
    c = manager.submit_train("c", CONFIG, {})
    assert [manager.queue_position(r.id) for r in (second, b, c)] == [1, 2, 3]
    with pytest.raises(LimitReached, match="queue full"):
        manager.submit_train("d", CONFIG, {})
    # When the running one crashes, the head of the queue starts.
    manager.crash(first.id)
    wait_until(lambda: manager.is_running(second.id))
    assert [manager.queue_position(r.id) for r in (b, c)] == [1, 2]
    for r in (second,):
        manager.crash(r.id)


def test_paced_runs_have_places_of_their_own(tmp_path):
    """A run at a watching pace sleeps most of its time: it waits for one of PACED_WORKERS'
    places, never for a core, and a full-speed run never waits for a paced one."""
    jobs = JobManager(Settings(data_dir=tmp_path / "data", max_workers=1, paced_workers=2))
    jobs.start()
    try:
        full = jobs.submit_train("f", CONFIG, {"pace_ms": 50})  # under PACED_MIN_MS: takes the core
        paced = [jobs.submit_train(s, CONFIG, {"pace_ms": 200}) for s in ("a", "b", "c")]
        wait_until(lambda: all(jobs.is_running(r.id) for r in (full, *paced[:2])))
        assert not jobs.is_running(paced[2].id)
        second_full = jobs.submit_train("g", CONFIG, {"pace_ms": 0})
        # Each waits first in its own line.
        assert [jobs.queue_position(r.id) for r in (paced[2], second_full)] == [1, 1]
        jobs.crash(paced[0].id)
        wait_until(lambda: jobs.is_running(paced[2].id))
        assert jobs.queue_position(second_full.id) == 1 and not jobs.is_running(second_full.id)
        jobs.crash(full.id)
        wait_until(lambda: jobs.is_running(second_full.id) or jobs.store.get(second_full.id).status == "done")
    finally:
        for r in jobs.store.for_session("a") + jobs.store.for_session("b") + jobs.store.for_session("c"):
            if jobs.is_running(r.id):
                jobs.crash(r.id)
        jobs.stop()


def test_max_epochs_setting_is_a_limit(tmp_path):
    jobs = JobManager(Settings(data_dir=tmp_path / "data", max_epochs=5))
    with pytest.raises(LimitReached, match="at most 5 epochs"):
        jobs.submit_train("s", {**CONFIG, "epochs": 10}, {})
    assert jobs.store.for_session("s") == []


def test_stored_runs_limit_and_delete(tmp_path):
    jobs = JobManager(Settings(data_dir=tmp_path / "data", max_stored_runs_per_session=2))
    jobs.start()
    try:
        small = {**CONFIG, "epochs": 2, "checkpoint_every": 1}
        runs = [jobs.submit_train("s", small, {}) for _ in range(2)]
        with pytest.raises(LimitReached):
            jobs.submit_train("s", small, {})
        wait_until(lambda: all(jobs.store.get(r.id).status == "done" for r in runs))
        assert jobs.run_dir(runs[0].id).exists()
        jobs.delete(runs[0].id)
        assert jobs.store.get(runs[0].id) is None and not jobs.run_dir(runs[0].id).exists()
        jobs.submit_train("s", small, {})
    finally:
        jobs.stop()


def test_disk_cap_removes_oldest_finished_runs(tmp_path):
    jobs = JobManager(Settings(data_dir=tmp_path / "data", disk_cap_mb=10))
    jobs.settings.disk_cap_mb = 0  # below one run's files: every finished run but the newest goes
    jobs.start()
    try:
        small = {**CONFIG, "epochs": 2, "checkpoint_every": 1}
        old = jobs.submit_train("s", small, {})
        wait_until(lambda: jobs.store.get(old.id).status == "done")
        new = jobs.submit_train("s", small, {})
        wait_until(lambda: jobs.store.get(new.id) is None or jobs.store.get(new.id).status == "done")
        wait_until(lambda: jobs.store.get(old.id) is None and not jobs.run_dir(old.id).exists())
        assert jobs.store.get(new.id).status == "done" and jobs.run_dir(new.id).exists()
        # The usage it keeps (instead of walking every file at each run's end) is the real one.
        real = sum(p.stat().st_size for p in jobs.runs_dir.rglob("*") if p.is_file())
        assert jobs.upkeep.disk_used == real > 0
    finally:
        jobs.stop()


@pytest.mark.slow
def test_server_killed_mid_training_comes_back_with_its_runs(server_factory, tmp_path):
    data = tmp_path / "data"
    server = server_factory(data)
    http = httpx.Client(base_url=server.url, timeout=30)
    http.get("/api/session")  # runs need an established session, as a browser has from the page
    run = http.post(f"{API}/runs", json={"epochs": 200, "checkpoint_every": 2, "pace_ms": 30}).json()
    running = wait_for(http, run["id"], lambda r: len(r["checkpoints"]) >= 2 and r["live"])
    worker_pid = running["live"]["pid"]

    server.kill()  # SIGKILL of the server process alone, mid-training
    # The worker must not outlive its server (it would keep writing behind the new one's back).
    wait_until(lambda: not pid_alive(worker_pid), timeout=10)

    server2 = server_factory(data)
    http2 = httpx.Client(base_url=server2.url, timeout=30, cookies=http.cookies)
    after = http2.get(f"{API}/runs/{run['id']}").json()
    assert after["status"] == "interrupted"
    assert len(after["checkpoints"]) >= 2
    for cp in after["checkpoints"]:
        ckpt = torch.load(data / "runs" / run["id"] / "checkpoints" / cp["file"], weights_only=True)
        assert ckpt["epoch"] == cp["epoch"]
    latest = next(c for c in after["checkpoints"] if c["latest"])
    r = http2.post(f"{API}/runs/{run['id']}/resume", json={"file": latest["file"], "restore": "everything"})
    assert r.status_code == 201, r.text
    resumed = wait_for(http2, r.json()["id"], lambda x: len(x["epochs"]) >= 2)
    assert resumed["epochs"][0]["epoch"] == latest["epoch"] + 1
    http2.post(f"{API}/runs/{resumed['id']}/crash")
    # The simulator in the chapter page (its htmx fragment) still lists the run for that learner.
    live = http2.get("/components/checkpoint-simulator/live?lang=en").text
    assert run["id"] in live and "interrupted" in live


@pytest.mark.slow
def test_the_web_process_never_loads_torch(server_factory, tmp_path):
    """Training, resuming, inspecting and transfer views all run torch in other processes."""
    server = server_factory(tmp_path / "data")
    http = httpx.Client(base_url=server.url, timeout=30)
    http.get("/api/session")  # runs need an established session, as a browser has from the page
    run = http.post(f"{API}/runs", json={"epochs": 4, "checkpoint_every": 2, "pace_ms": 0}).json()
    run = wait_finished(http, run["id"])
    http.post(f"{API}/runs/{run['id']}/resume", json={"file": "ckpt-epoch-0002.pt"})
    assert http.get("/en/06-model-io-checkpoint").status_code == 200
    assert http.get("/api/transfer/inspect").status_code == 200
    assert (
        http.get(
            f"/components/checkpoint-simulator/runs/{run['id']}/inside?file=ckpt-epoch-0004.pt"
        ).status_code
        == 200
    )
    with open(f"/proc/{server.proc.pid}/maps") as f:
        libraries = f.read()
    assert "libtorch" not in libraries


def test_a_fast_runs_epochs_all_reach_the_database_in_order(manager):
    """Without a pace an epoch takes ~15 ms and its events travel in lists (the worker's Outbox,
    tests/test_worker_outbox.py): every epoch still reaches the database, in order."""
    run = manager.submit_train("fast", {**CONFIG, "epochs": 60}, {"pace_ms": 0})
    wait_until(lambda: manager.store.get(run.id).status == "done", timeout=120)
    assert [e.epoch for e in manager.store.epochs(run.id)] == list(range(1, 61))
    assert len(manager.events(run.id, "checkpoint")) == 12

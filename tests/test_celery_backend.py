"""JOB_BACKEND=celery end to end: a real server, a real Redis and two real Celery worker nodes
(tests/conftest.py starts them), driven through the app's JSON API."""

from __future__ import annotations

import os
import time

import httpx
import pytest

from tests.simulator_helpers import API, get, start, train_config, wait_event, wait_finished, wait_for

pytestmark = pytest.mark.slow


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead too
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s: {what}")


def test_a_runs_process_on_a_node_does_not_import_the_node():
    """multiprocessing runs a node's main module (`-m app.worker`) again in every run's process
    from the forkserver, as it prepares the child: that must not import Celery before training."""
    import subprocess
    import sys

    code = (
        "import sys\nfrom multiprocessing import spawn\n"
        "spawn.prepare({'init_main_from_name': 'app.worker'})\n"
        "assert sys.modules['__mp_main__'].__name__ == '__mp_main__'\n"
        "print(sorted(m for m in ('celery', 'kombu', 'redis', 'app.jobs.node') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.fixture
def cluster(celery_cluster):
    celery_cluster.revive()
    yield celery_cluster
    celery_cluster.revive()  # a test that killed a node or Redis leaves the whole cluster behind


@pytest.fixture
def http(server_factory, pretrained_dir, cluster):
    server = server_factory(
        env={"PRETRAINED_DIR": str(pretrained_dir), "TRANSFER_PREWARM": "false", **cluster.env}
    )
    with httpx.Client(base_url=server.url, timeout=30) as client:
        client.get("/api/session")  # runs need an established session, as a browser has from the page
        yield client


def training(http, run_id: str, epochs: int = 2) -> dict:
    """Wait until the run trains on a node (its node and pid are known) with `epochs` done and
    a checkpoint on disk (a checkpoint is written just after its epoch is reported)."""
    return wait_for(
        http,
        run_id,
        lambda r: r["live"] and r["live"].get("node") and len(r["epochs"]) >= epochs and r["checkpoints"],
    )


def resume_latest(http, run: dict) -> dict:
    latest = next(c for c in run["checkpoints"] if c["latest"])
    r = http.post(f"{API}/runs/{run['id']}/resume", json={"file": latest["file"], "restore": "everything"})
    assert r.status_code == 201, r.text
    return r.json()


def assert_matches_reference(http, source: dict, resumed_id: str) -> dict:
    resumed = wait_finished(http, resumed_id, timeout=120)
    assert resumed["status"] == "done", resumed["error"]
    comparison = wait_event(http, resumed_id, "comparison")["comparison"]
    assert comparison["identical"] is True and comparison["max_abs_diff"] == 0.0, comparison
    reference = http.get(f"{API}/runs/{source['id']}/reference").json()
    ref_losses = {e["epoch"]: e["loss"] for e in reference["epochs"]}
    assert all(e["loss"] == ref_losses[e["epoch"]] for e in resumed["epochs"])
    return resumed


def test_crash_kills_only_that_runs_process_and_the_resume_matches_the_reference(http, cluster):
    one = start(http, epochs=30, checkpoint_every=2, pace_ms=150)
    other = start(http, epochs=30, checkpoint_every=2, pace_ms=150, seed=1)
    one, other = training(http, one["id"]), training(http, other["id"])
    # One slot per node: the two runs train on the two nodes.
    assert {one["live"]["node"], other["live"]["node"]} == {n.name for n in cluster.nodes}
    pid, other_pid = one["live"]["pid"], other["live"]["pid"]
    assert pid_alive(pid) and pid_alive(other_pid)

    assert http.post(f"{API}/runs/{one['id']}/crash").status_code == 200
    crashed = wait_finished(http, one["id"], timeout=20)
    assert crashed["status"] == "crashed" and crashed["crash"]["how"] == "button"
    wait_until(lambda: not pid_alive(pid), 10, "the crashed run's process to be gone")
    # The other node's run goes on training, in the same process.
    epochs_then = len(get(http, other["id"])["epochs"])
    other = wait_for(http, other["id"], lambda r: len(r["epochs"]) >= epochs_then + 2, timeout=30)
    assert other["status"] == "running" and other["live"]["pid"] == other_pid and pid_alive(other_pid)
    assert all(node.alive() for node in cluster.nodes)
    survivors = wait_event(http, one["id"], "survivors")["survivors"]
    # SIGKILL may land in the middle of a write: a temp file may be torn, a checkpoint never.
    checkpoints = [f for f in survivors["files"] if f["file"].startswith("checkpoints/ckpt-")]
    checkpoints = [f for f in checkpoints if not f["file"].endswith(".tmp")]
    assert checkpoints and all(f["ok"] for f in checkpoints), survivors
    http.post(f"{API}/runs/{other['id']}/crash")

    resumed = resume_latest(http, crashed)
    assert_matches_reference(http, crashed, resumed["id"])


def test_a_lost_worker_node_interrupts_its_run_which_resumes_on_the_other_node(http, cluster):
    run = start(http, epochs=30, checkpoint_every=2, pace_ms=150)
    run = wait_for(
        http, run["id"], lambda r: r["live"] and r["live"].get("node") and len(r["checkpoints"]) >= 2
    )
    lost = next(n for n in cluster.nodes if n.name == run["live"]["node"])
    survivor = next(n for n in cluster.nodes if n is not lost)
    lost.kill()  # the whole node: its Celery worker, its forkserver, the run's process
    killed_at = time.monotonic()
    wait_until(lambda: not pid_alive(run["live"]["pid"]), 10, "the run's process to die with its node")
    # The stated bound (README, HEARTBEAT_TTL_S): interrupted at most 2 x TTL + 1 s after the
    # node's last heartbeat; 2 s more for this test's polling on a busy machine.
    bound = 2 * cluster.HEARTBEAT_TTL_S + 1 + 2
    wait_until(lambda: get(http, run["id"])["status"] != "running", bound, "the lost node's run to end")
    assert time.monotonic() - killed_at <= bound
    run = get(http, run["id"])
    assert run["status"] == "interrupted" and "heartbeat" in (run["error"] or ""), run["error"]

    resumed = resume_latest(http, run)
    on = wait_for(
        http,
        resumed["id"],
        lambda r: (
            (r["status"] != "queued" and (r["live"] or {}).get("node"))
            or r["status"] in ("done", "failed", "crashed", "interrupted")
        ),
        timeout=60,
    )
    if on["live"]:
        assert on["live"]["node"] == survivor.name
    assert_matches_reference(http, run, resumed["id"])


def test_redis_restarted_mid_run_loses_and_doubles_nothing(http, cluster):
    run = start(http, epochs=24, checkpoint_every=3, pace_ms=150)
    run = training(http, run["id"], epochs=3)
    pid = run["live"]["pid"]
    cluster.redis.stop()  # everything in Redis is gone: streams, heartbeats, the Celery queue
    time.sleep(1.5)  # the run trains on, its node keeps its events
    cluster.redis.start()
    run = wait_finished(http, run["id"], timeout=90)
    assert run["status"] == "done", run["error"]
    wait_until(lambda: not pid_alive(pid), 10, "the finished run's process to be gone")
    assert [e["epoch"] for e in run["epochs"]] == list(range(1, 25))
    assert [c["epoch"] for c in run["checkpoints"]][-1] == 24
    # The same run again, with Redis undisturbed, trains to the same numbers: nothing was
    # replayed twice into the record, nothing is missing.
    again = wait_finished(http, start(http, epochs=24, checkpoint_every=3, pace_ms=0)["id"], timeout=90)
    assert again["status"] == "done"
    assert [(e["epoch"], e["loss"], e["step"]) for e in again["epochs"]] == [
        (e["epoch"], e["loss"], e["step"]) for e in run["epochs"]
    ]
    # The page catches up: the live view shows the finished run.
    assert run["id"] in http.get("/components/checkpoint-simulator/live?lang=en").text


def test_a_restarted_web_node_stops_the_runs_it_handed_out(server_factory, pretrained_dir, cluster, tmp_path):
    data = tmp_path / "data"
    env = {"PRETRAINED_DIR": str(pretrained_dir), "TRANSFER_PREWARM": "false", **cluster.env}
    server = server_factory(data, env=env)
    client = httpx.Client(base_url=server.url, timeout=30)
    client.get("/api/session")
    run = training(client, start(client, epochs=40, checkpoint_every=2, pace_ms=150)["id"])
    server.kill()  # the web node alone; the run trains on, on its worker node
    assert pid_alive(run["live"]["pid"])
    again = server_factory(data, env=env)
    client = httpx.Client(base_url=again.url, timeout=30, cookies=client.cookies)
    assert get(client, run["id"])["status"] == "interrupted"
    # As on a laptop, where the worker dies with its server: nothing writes behind the new one's back.
    wait_until(lambda: not pid_alive(run["live"]["pid"]), 10, "the old web node's run to be stopped")


def test_with_no_worker_node_runs_wait_in_the_web_nodes_own_line(tmp_path, cluster):
    import redis

    from app.jobs.manager import JobManager
    from app.settings import Settings

    # A queue no node serves: no slots are announced for it.
    settings = Settings(
        data_dir=tmp_path / "data", **{**cluster.settings_update, "celery_queue": "nobody-serves"}
    )
    manager = JobManager(settings)
    manager.start()
    try:
        config = train_config(epochs=2, checkpoint_every=1)
        # On worker nodes a run at a watching pace takes a node's slot like any other: no paced
        # places, one line.
        runs = [
            manager.submit("s1", "train", config),
            manager.submit("s2", "train", config),
            manager.submit("s3", "train", config, {"pace_ms": 150}),
        ]
        time.sleep(3)  # several rounds of the monitor and of the slot count
        assert [manager.status(r.id).status for r in runs] == ["queued", "queued", "queued"]
        assert [manager.status(r.id).queue_position for r in runs] == [1, 2, 3]
        # Nothing was handed to Celery: its queue is empty, and the line keeps its fair order.
        assert redis.Redis.from_url(cluster.redis.url).llen("nobody-serves") == 0
    finally:
        manager.stop()


def test_a_node_cut_off_and_back_kills_the_run_that_was_declared_lost(http, cluster):
    import signal

    # Long enough that, left alone, it would still train well past the test's waits.
    run = start(http, epochs=150, checkpoint_every=2, pace_ms=150)
    run = training(http, run["id"])
    node = next(n for n in cluster.nodes if n.name == run["live"]["node"])
    pid = run["live"]["pid"]
    os.killpg(node.proc.pid, signal.SIGSTOP)  # the node stops answering: no heartbeat, no events
    try:
        bound = 2 * cluster.HEARTBEAT_TTL_S + 1 + 2  # as in the lost-node test
        wait_until(
            lambda: get(http, run["id"])["status"] == "interrupted",
            bound,
            "the silent node's run to be interrupted",
        )
    finally:
        os.killpg(node.proc.pid, signal.SIGCONT)  # back: its relay finds the kill request
    wait_until(lambda: not pid_alive(pid), 10, "the interrupted run's process to be killed on its node")
    assert node.alive()
    assert get(http, run["id"])["status"] == "interrupted"

"""distributed: JOB_BACKEND=celery on this machine (a Redis, worker nodes) against the local pool.

a) epoch time of a run on a Celery worker node / a bare torch loop (alternated, as `training`);
   target <= 1.10, as local.
b) crash -> first resumed epoch on Celery / the same on the local backend, for information.
c) aggregate throughput: the same batch of runs started at once on two worker nodes (one slot
   each) / on the local backend with MAX_WORKERS=2 (epochs per second of wall time, POST of the
   first run to the end of the last); target >= 0.9."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

import httpx

from bench.common import API, REPO, Report, Server, Target, free_port, median, ms, table
from bench.training import bare_epochs, wait_run

REDIS_SERVER = "/usr/bin/redis-server"


def add_args(p) -> None:
    p.add_argument("--dist-rounds", type=int, default=3, help="distributed: bare/celery run pairs (default 3)")
    p.add_argument("--dist-epochs", type=int, default=60, help="distributed: epochs per run (default 60)")
    p.add_argument("--dist-batch", type=int, default=8, help="distributed: runs in the throughput batch (default 8)")


class Cluster:
    """A Redis without persistence and `nodes` worker nodes with one slot each, all killed on exit."""

    def __init__(self, nodes: int):
        self.tmp = tempfile.TemporaryDirectory(prefix="bench-celery-")
        self.url = f"redis://127.0.0.1:{free_port()}/0"
        self.nodes, self.procs = nodes, []

    def __enter__(self) -> "Cluster":
        port = self.url.rsplit(":", 1)[1].split("/")[0]
        self._spawn([REDIS_SERVER, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], "redis")
        for i in range(self.nodes):
            env = {**os.environ, "JOB_BACKEND": "celery", "REDIS_URL": self.url, "WORKER_CONCURRENCY": "1",
                   "WORKER_NAME": f"n{i}@bench", "LOG_LEVEL": "info"}
            self._spawn([sys.executable, "-m", "app.worker"], f"n{i}", env)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if all(f"n{i}@bench ready.".encode() in (Path(self.tmp.name) / f"n{i}.log").read_bytes()
                   for i in range(self.nodes)):
                return self
            time.sleep(0.2)
        raise RuntimeError("worker nodes did not start")

    def _spawn(self, cmd: list[str], name: str, env: dict | None = None) -> None:
        log = open(Path(self.tmp.name) / f"{name}.log", "ab")
        self.procs.append(subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                           start_new_session=True))

    def __exit__(self, *exc) -> None:
        for proc in self.procs:
            try:
                os.killpg(proc.pid, 9)
            except ProcessLookupError:
                pass
            proc.wait(10)
        self.tmp.cleanup()

    def server_env(self, slots: int) -> dict:
        return {"JOB_BACKEND": "celery", "REDIS_URL": self.url, "MAX_WORKERS": slots}


def learner(srv: Server) -> httpx.Client:
    """One learner: a client with the session a browser gets from the page (runs need one)."""
    c = httpx.Client(base_url=srv.url, timeout=30)
    c.get("/api/session")
    return c


def epoch_seconds(srv: Server, epochs: int) -> list[float]:
    """The epochs' own 'seconds' of one run trained with pace 0 (epoch 1 left out)."""
    with closing(learner(srv)) as c:
        r = c.post(f"{API}/runs", json={"epochs": epochs, "checkpoint_every": 5, "pace_ms": 0})
        r.raise_for_status()
        run, _ = wait_run(c, r.json()["id"], interval=0.25)
    assert run["status"] == "done", run
    return [e["seconds"] for e in run["epochs"]][1:]


def crash_to_first_epoch(srv: Server, epochs: int) -> float:
    """Crash a run after ten epochs; seconds from the crash to the first epoch of its resume."""
    with closing(learner(srv)) as c:
        run_id = c.post(f"{API}/runs", json={"epochs": epochs, "checkpoint_every": 5, "pace_ms": 20}).json()["id"]
        while len(c.get(f"{API}/runs/{run_id}").json()["epochs"]) < 10:
            time.sleep(0.01)
        t0 = time.perf_counter()
        assert c.post(f"{API}/runs/{run_id}/crash").status_code == 200
        while (run := c.get(f"{API}/runs/{run_id}").json())["status"] in ("queued", "running"):
            time.sleep(0.01)
        latest = next(cp for cp in run["checkpoints"] if cp["latest"])
        r = c.post(f"{API}/runs/{run_id}/resume", json={"file": latest["file"], "restore": "everything"})
        r.raise_for_status()
        resumed = r.json()["id"]
        while not c.get(f"{API}/runs/{resumed}").json()["epochs"]:
            time.sleep(0.01)
        seconds = time.perf_counter() - t0
        # Nothing of this lineage may train on into the next measurement.
        c.post(f"{API}/runs/{resumed}/crash")
        wait_run(c, resumed, interval=0.1)
        while c.get(f"{API}/runs/{run_id}/reference").json().get("status") in ("queued", "running"):
            time.sleep(0.1)
        return seconds


def batch_throughput(srv: Server, runs: int, epochs: int) -> float:
    """Epochs per second of wall time for `runs` runs started at once (each its own learner)."""
    clients = [learner(srv) for _ in range(runs)]
    try:
        t0 = time.perf_counter()
        ids = []
        for c in clients:
            r = c.post(f"{API}/runs", json={"epochs": epochs, "checkpoint_every": 5, "pace_ms": 0})
            r.raise_for_status()
            ids.append(r.json()["id"])
        done = [wait_run(c, run_id, interval=0.25) for c, run_id in zip(clients, ids)]
        assert all(run["status"] == "done" for run, _ in done), [run["status"] for run, _ in done]
        return runs * epochs / (max(t for _, t in done) - t0)
    finally:
        for c in clients:
            c.close()


def run(args) -> Report:
    rep = Report("distributed")
    nice = int(os.environ.get("WORKER_NICE", 10))
    rows, ratios = [], []
    with Cluster(nodes=2) as cluster:
        with Server(env=cluster.server_env(2)) as srv:
            srv.start()
            srv.wait_settled()
            for i in range(args.dist_rounds):
                steps = ["bare", "celery"] if i % 2 == 0 else ["celery", "bare"]
                got = {}
                for step in steps:
                    if step == "bare":
                        got["bare"] = median(bare_epochs(args.dist_epochs, nice)[1:])
                    else:
                        got["celery"] = median(epoch_seconds(srv, args.dist_epochs))
                ratios.append(got["celery"] / got["bare"])
                rows.append([str(i + 1), ms(got["bare"]), ms(got["celery"]), f"{ratios[-1]:.2f}"])
            print(table(rows, ["round", "bare epoch", "celery epoch", "ratio"]))
            crash_celery = [crash_to_first_epoch(srv, 60) for _ in range(2)]
            celery_tp = batch_throughput(srv, args.dist_batch, args.dist_epochs)
    with Server(env={"MAX_WORKERS": 2}) as srv:
        srv.start()
        srv.wait_settled()
        crash_local = [crash_to_first_epoch(srv, 60) for _ in range(2)]
        local_tp = batch_throughput(srv, args.dist_batch, args.dist_epochs)
    rep.row("celery epoch / bare epoch, per round", " ".join(f"{x:.2f}" for x in ratios))
    rep.target(Target("celery epoch / bare loop", median(ratios), "<=", 1.10, "median of per-round ratios"))
    rep.row("crash -> first resumed epoch, celery / local", f"{ms(median(crash_celery))} / {ms(median(crash_local))}")
    rep.target(Target("crash->resumed epoch, celery / local", median(crash_celery) / median(crash_local), "info"))
    rep.row("throughput, epochs/s: two nodes / local MAX_WORKERS=2", f"{celery_tp:.1f} / {local_tp:.1f}")
    rep.target(Target("throughput two nodes / local pool", celery_tp / local_tp, ">=", 0.9,
                      f"{args.dist_batch} runs x {args.dist_epochs} epochs at once"))
    return rep

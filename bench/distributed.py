"""distributed: JOB_BACKEND=celery on this machine (a Redis, worker nodes) against the local pool.

a) epoch time of a run on a Celery worker node / a bare torch loop (alternated, as `training`);
   target <= 1.10, as local.
b) crash -> first resumed epoch on Celery / the same on the local backend, for information.
c) aggregate throughput: the same batch of runs started at once on two worker nodes (one slot
   each) / on the local backend with MAX_WORKERS=2 (epochs per second of wall time, POST of the
   first run to the end of the last as the web node recorded it); target >= 0.9. With the CPU
   each part used meanwhile (/proc: web node, node main processes, Redis, training processes).
d) event latency worker -> page: the wall clock at which a checkpoint event leaves the run's
   process (its `sent_at`, stored with the event) to the moment a page that holds the simulator's
   event stream and fetches the run's JSON on every view it pushes first shows that checkpoint (same
   machine, one clock). Learners at the form's pace, both backends side by side; p50 and p95, and
   the part up to the web node's SQLite (the event's `at`). Target: Celery p95 <= local p95 + 0.1 s
   (the page's own cadence, a view at most every 0.3 s, is the same on both; the hop
   through a node's relay and Redis may add its 50 ms tick and one read, and a page that hears
   of a checkpoint within ~0.5 s still shows it as it happens)."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import aiohttp
import httpx

from bench.cluster import CeleryNode, RedisServer
from bench.common import (
    API,
    EVENTS,
    Report,
    Server,
    Target,
    _times,
    descendants,
    machine_busy,
    median,
    ms,
    percentile,
    self_cpu,
    shared_pretrained_dir,
    table,
)
from bench.load import sse_events
from bench.training import bare_epochs, wait_run


def add_args(p) -> None:
    p.add_argument(
        "--dist-rounds", type=int, default=3, help="distributed: bare/celery run pairs (default 3)"
    )
    p.add_argument("--dist-epochs", type=int, default=60, help="distributed: epochs per run (default 60)")
    p.add_argument(
        "--dist-batch", type=int, default=8, help="distributed: runs in the throughput batch (default 8)"
    )
    p.add_argument(
        "--dist-pair-rounds",
        type=int,
        default=3,
        help="distributed: rounds of the side-by-side measurements (crash, batch, event latency), "
        "each backend once per round in alternating order (default 3)",
    )
    p.add_argument(
        "--dist-latency-epochs",
        type=int,
        default=40,
        help="distributed: epochs of each run whose checkpoints a page follows (default 40)",
    )


class Cluster:
    """A Redis without persistence and `nodes` worker nodes with one slot each, all killed on exit."""

    def __init__(self, nodes: int) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="bench-celery-")
        folder = Path(self.tmp.name)
        self.redis = RedisServer(folder)
        self.url = self.redis.url
        # A node runs only jobs whose folders lie under its own DATA_DIR: the web node's is inside it.
        self.data_dir = folder / "web-data"
        node_env = {"DATA_DIR": str(folder), "PRETRAINED_DIR": str(shared_pretrained_dir())}
        self.nodes = [CeleryNode(f"n{i}@bench", self.url, folder, node_env) for i in range(nodes)]

    def __enter__(self) -> Cluster:
        self.redis.start()
        with ThreadPoolExecutor(len(self.nodes)) as pool:  # the nodes start (import torch) together
            list(pool.map(CeleryNode.start, self.nodes))
        return self

    def __exit__(self, *exc: object) -> None:
        for node in self.nodes:
            node.kill()
        self.redis.stop()
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
        run_id = c.post(f"{API}/runs", json={"epochs": epochs, "checkpoint_every": 5, "pace_ms": 20}).json()[
            "id"
        ]
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


def cpu_of(groups: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds so far of each group of processes (their own time, plus their reaped children's
    for the forkservers, whose children are the runs' processes)."""
    hz = os.sysconf("SC_CLK_TCK")
    out = {}
    for name, pids in groups.items():
        own, reaped = zip(*(_times(p) for p in pids), strict=True) if pids else ((0,), (0,))
        out[name] = sum(own) / hz
        if name == "training":
            out[name] += sum(reaped) / hz
    return out


def process_groups(srv: Server, cluster: Cluster | None) -> dict[str, list[int]]:
    """The web node; for Celery each node's main process and Redis; the forkservers (whose reaped
    children are the runs' processes) and any run's process alive now, as "training"."""
    web_kids = descendants(srv.proc.pid)[1:]
    groups = {"web node": [srv.proc.pid]}
    if cluster is None:
        groups["training"] = web_kids
        return groups
    groups["web node"] += web_kids  # its forkserver (comparisons, sandboxes): not training here
    assert cluster.redis.proc is not None
    groups["node mains"], groups["redis"], groups["training"] = [], [cluster.redis.proc.pid], []
    for node in cluster.nodes:
        assert node.proc is not None
        groups["node mains"].append(node.proc.pid)
        groups["training"] += descendants(node.proc.pid)[1:]
    return groups


def batch_throughput(
    srv: Server, runs: int, epochs: int, cluster: Cluster | None = None
) -> tuple[float, dict]:
    """Epochs per second of wall time for `runs` runs started at once (each its own learner), and
    the CPU seconds each group of processes used meanwhile, and "other work": the machine's busy
    CPU beyond them and this client. On a shared machine other work decides the ratio: the kernel
    shares the cores between sessions (autogroup) before nice counts, and the two worker nodes are
    two sessions where the local pool is one, so a round with much other work says little. The end
    is the last run's `finished` as the web node recorded it (the clients poll, which would round
    it up by up to their interval)."""
    clients = [learner(srv) for _ in range(runs)]
    try:
        before = process_groups(srv, cluster)
        cpu0, busy0, own0 = cpu_of(before), machine_busy(), self_cpu()
        t0 = time.time()
        ids = []
        for c in clients:
            r = c.post(f"{API}/runs", json={"epochs": epochs, "checkpoint_every": 5, "pace_ms": 0})
            r.raise_for_status()
            ids.append(r.json()["id"])
        done = [wait_run(c, run_id, interval=0.25) for c, run_id in zip(clients, ids, strict=True)]
        assert all(run["status"] == "done" for run, _ in done), [run["status"] for run, _ in done]
        # Runs' processes that started and ended meanwhile are in their forkserver's reaped time.
        cpu1 = cpu_of(before)
        cpu = {k: cpu1[k] - cpu0[k] for k in cpu0}
        cpu["other work"] = max(0.0, machine_busy() - busy0 - (self_cpu() - own0) - sum(cpu.values()))
        end = max(
            row["finished"]
            for row in srv.query(f"SELECT finished FROM runs WHERE id IN ({','.join('?' * len(ids))})", *ids)
        )
        return runs * epochs / (end - t0), cpu
    finally:
        for c in clients:
            c.close()


async def _follow_one(base: str, epochs: int, pace_ms: int, every: int) -> tuple[str, dict[int, float]]:
    """One learner's page: hold the event stream, start a run, and on every event about its runs
    (runs, status, epoch, checkpoint, ledger) fetch the run (one fetch at a time; an event during a
    fetch makes one more).
    Returns the run and, per checkpoint epoch, the wall clock of the first fetch that showed it."""
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(
        base_url=base, cookie_jar=jar, timeout=aiohttp.ClientTimeout(total=30)
    ) as c:
        async with c.get("/api/session") as r:
            r.raise_for_status()
        changed = asyncio.Event()

        async def stream() -> None:
            async with c.get(EVENTS, timeout=aiohttp.ClientTimeout(total=None, sock_connect=30)) as r:
                async for event, _ in sse_events(r):
                    if event not in ("queue", "busy"):  # a change to the page's runs
                        changed.set()

        listening = asyncio.create_task(stream())
        try:
            await asyncio.wait_for(changed.wait(), 30)  # the page's first load
            changed.clear()
            body = {"epochs": epochs, "checkpoint_every": every, "keep_last": 20, "pace_ms": pace_ms}
            async with c.post(f"{API}/runs", json=body) as r:
                r.raise_for_status()
                run_id = (await r.json())["id"]
            seen: dict[int, float] = {}
            while True:
                await asyncio.wait_for(changed.wait(), 60)
                changed.clear()
                async with c.get(f"{API}/runs/{run_id}") as r:
                    run = await r.json()
                now = time.time()
                for cp in run["checkpoints"]:
                    seen.setdefault(cp["epoch"], now)
                if run["status"] not in ("queued", "running"):
                    return run_id, seen
        finally:
            listening.cancel()
            await asyncio.gather(listening, return_exceptions=True)


def event_latency(
    srv: Server, learners: int = 2, epochs: int = 40, pace_ms: int = 150, every: int = 2
) -> tuple[list[float], list[float]]:
    """`learners` pages at once, each following its own run (one per slot) at the form's pace:
    (worker -> page, worker -> the web node's SQLite) in seconds, one sample per checkpoint."""

    async def all_pages():
        return await asyncio.gather(*(_follow_one(srv.url, epochs, pace_ms, every) for _ in range(learners)))

    page, web = [], []
    for run_id, seen in asyncio.run(all_pages()):
        for row in srv.query("SELECT at, data FROM events WHERE run_id=? AND kind='checkpoint'", run_id):
            data = json.loads(row["data"])
            if data.get("batch") or data["epoch"] not in seen:  # mid-epoch, or not seen by this page
                continue
            page.append(seen[data["epoch"]] - data["sent_at"])
            web.append(row["at"] - data["sent_at"])
    assert len(page) >= learners * (epochs // every) * 0.9, f"only {len(page)} checkpoints seen"
    return page, web


def cpu_line(cpu: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.2f}" for k, v in cpu.items())


def run(args) -> Report:
    """Both web nodes (Celery with its two worker nodes, and the local pool) are up at once, and
    every comparison alternates between them round by round, each round giving its own ratio.
    Other work on a shared machine still falls on each unevenly (see batch_throughput): read the
    "other work" CPU of each round, and trust the rounds where it is near zero."""
    rep = Report("distributed")
    nice = int(os.environ.get("WORKER_NICE", 10))
    rows, ratios = [], []
    crash = {"celery": [], "local": []}
    tp_rows, tp_ratios, cpu = [], [], {}
    latency = {"celery": ([], []), "local": ([], [])}
    with (
        Cluster(nodes=2) as cluster,
        Server(env=cluster.server_env(2), data_dir=cluster.data_dir) as celery_srv,
        Server(env={"MAX_WORKERS": 2}) as local_srv,
    ):
        for srv in (celery_srv, local_srv):
            srv.start()
        for srv in (celery_srv, local_srv):
            srv.wait_settled()
        servers = {"celery": (celery_srv, cluster), "local": (local_srv, None)}
        for i in range(args.dist_rounds):
            steps = ["bare", "celery"] if i % 2 == 0 else ["celery", "bare"]
            got = {}
            for step in steps:
                if step == "bare":
                    got["bare"] = median(bare_epochs(args.dist_epochs, nice)[1:])
                else:
                    got["celery"] = median(epoch_seconds(celery_srv, args.dist_epochs))
            ratios.append(got["celery"] / got["bare"])
            rows.append([str(i + 1), ms(got["bare"]), ms(got["celery"]), f"{ratios[-1]:.2f}"])
        print(table(rows, ["round", "bare epoch", "celery epoch", "ratio"]))
        for i in range(args.dist_pair_rounds):
            order = ["celery", "local"] if i % 2 == 0 else ["local", "celery"]
            tp = {}
            for backend in order:
                srv, cl = servers[backend]
                crash[backend].append(crash_to_first_epoch(srv, max(args.dist_epochs, 12)))
                tp[backend], cpu[backend] = batch_throughput(srv, args.dist_batch, args.dist_epochs, cl)
                page, web = event_latency(srv, epochs=args.dist_latency_epochs)
                latency[backend][0].extend(page)
                latency[backend][1].extend(web)
            tp_ratios.append(tp["celery"] / tp["local"])
            tp_rows.append(
                [
                    str(i + 1),
                    f"{tp['celery']:.1f}",
                    f"{tp['local']:.1f}",
                    f"{tp_ratios[-1]:.2f}",
                    ms(crash["celery"][-1]),
                    ms(crash["local"][-1]),
                ]
            )
            print(
                f"  CPU s in round {i + 1}'s batch: celery {cpu_line(cpu['celery'])};"
                f" local {cpu_line(cpu['local'])}",
                flush=True,
            )
        print(table(tp_rows, ["round", "celery ep/s", "local ep/s", "ratio", "crash->epoch celery", "local"]))
    rep.row("celery epoch / bare epoch, per round", " ".join(f"{x:.2f}" for x in ratios))
    rep.target(Target("celery epoch / bare loop", median(ratios), "<=", 1.10, "median of per-round ratios"))
    rep.row(
        "crash -> first resumed epoch, celery / local",
        f"{ms(median(crash['celery']))} / {ms(median(crash['local']))}",
    )
    rep.target(
        Target(
            "crash->resumed epoch, celery / local", median(crash["celery"]) / median(crash["local"]), "info"
        )
    )
    rep.row("throughput two nodes / local MAX_WORKERS=2, per round", " ".join(f"{x:.2f}" for x in tp_ratios))
    rep.row("CPU s in the last batch, celery", cpu_line(cpu["celery"]))
    rep.row("CPU s in the last batch, local", cpu_line(cpu["local"]))
    rep.target(
        Target(
            "throughput two nodes / local pool",
            median(tp_ratios),
            ">=",
            0.9,
            f"median of per-round ratios, {args.dist_batch} runs x {args.dist_epochs} epochs at once",
        )
    )
    for backend in ("celery", "local"):
        page, web = latency[backend]
        rep.row(
            f"event latency worker -> page, {backend}: p50 / p95",
            f"{ms(percentile(page, 50))} / {ms(percentile(page, 95))} ({len(page)} checkpoints)",
        )
        rep.row(
            "  of which worker -> web node's SQLite: p50 / p95",
            f"{ms(percentile(web, 50))} / {ms(percentile(web, 95))}",
        )
    p95 = {b: percentile(latency[b][0], 95) for b in latency}
    rep.target(
        Target(
            "event latency p95, celery - local (s)",
            p95["celery"] - p95["local"],
            "<=",
            0.1,
            f"celery p95 {ms(p95['celery'])}, local p95 {ms(p95['local'])}",
        )
    )
    return rep

"""classroom: --clients learners each start a run at once, then keep polling while they train.

Measured in one server, in this order: idle page latency under the same polling load; one run
alone (epochs/s); then the class. Targets: chapter p99 under training load / idle p99 <= 3;
aggregate epochs/s / (cores x one run's epochs/s) >= 0.85. Also: runs done, wall time, peak
memory of the server process tree, server memory per queued run."""
from __future__ import annotations

import asyncio
import time

import httpx

from bench.common import (API, CHAPTER, LIVE, Report, Server, Target, cores, descendants, median, mib, ms,
                          machine_busy, percentile, pss, rss, self_cpu, table, tree_cpu)
from bench.load import Samples, close_clients, make_clients, run_load, warm_up

LATENCY_TARGET = 3.0
THROUGHPUT_TARGET = 0.85
MIX = [("live", LIVE, 1.0), ("chapter", CHAPTER, 1.0)]


def add_args(p) -> None:
    p.add_argument("--run-epochs", type=int, default=20, help="classroom: epochs of each learner's run (default 20)")
    p.add_argument("--idle-seconds", type=float, default=15, help="classroom: idle latency phase in s (default 15)")
    p.add_argument("--lone-runs", type=int, default=3, help="classroom: lone runs for the 1-run rate (default 3)")
    p.add_argument("--max-workers", default="",
                   help="classroom: MAX_WORKERS to try, comma-separated, e.g. 2,4 (default: the app's default)")
    p.add_argument("--quiet-class", action="store_true",
                   help="classroom: then run the class again with nobody polling (worker pool scaling alone)")
    p.add_argument("--timeout", type=float, default=300, help="classroom: give up on the class after s (default 300)")


def run_body(epochs: int) -> dict:
    return {"epochs": epochs, "checkpoint_every": 5, "pace_ms": 0}


def lone_rate(srv: Server, epochs: int) -> float:
    """Epochs per second of one run alone: epochs / (finished - started) as the app records it."""
    with httpx.Client(base_url=srv.url, timeout=30) as c:
        run_id = c.post(f"{API}/runs", json=run_body(epochs)).raise_for_status().json()["id"]
        while c.get(f"{API}/runs/{run_id}").json()["status"] in ("queued", "running"):
            time.sleep(0.25)
    row = srv.query("SELECT status, started, finished FROM runs WHERE id=?", run_id)[0]
    assert row["status"] == "done", dict(row)
    return epochs / (row["finished"] - row["started"])


def quiet_class(srv: Server, args) -> float:
    """The same class of runs with nobody polling: how the worker pool alone scales (epochs/s)."""
    ids = []
    for _ in range(args.clients):
        with httpx.Client(base_url=srv.url, timeout=30) as c:  # a fresh session each
            r = c.post(f"{API}/runs", json=run_body(args.run_epochs))
            if r.status_code == 201:
                ids.append(r.json()["id"])
    deadline = time.monotonic() + args.timeout
    marks = ",".join("?" * len(ids))
    while time.monotonic() < deadline:
        rows = srv.query(f"SELECT status, started, finished FROM runs WHERE id IN ({marks})", *ids)
        if all(r["status"] not in ("queued", "running") for r in rows):
            break
        time.sleep(0.5)
    done = [r for r in rows if r["status"] == "done"]
    if not done:
        return float("nan")
    return len(done) * args.run_epochs / (max(r["finished"] for r in done) - min(r["started"] for r in rows))


class Sampler:
    """Every 0.5 s: RSS (and PSS) of the server's process tree, server RSS, queued runs."""

    def __init__(self, srv: Server, run_ids: set[str]):
        self.srv, self.run_ids = srv, run_ids
        self.peak_tree = self.peak_pss = self.peak_procs = 0
        self.peak_queue, self.server_rss_at_peak_queue = 0, 0
        self.unfinished = None
        self.died = False

    def sample(self) -> None:
        pids = descendants(self.srv.proc.pid)
        self.peak_tree = max(self.peak_tree, sum(map(rss, pids)))
        self.peak_pss = max(self.peak_pss, sum(map(pss, pids)))
        self.peak_procs = max(self.peak_procs, len(pids))
        rows = self.srv.query("SELECT id, status FROM runs")
        queued = sum(r["status"] == "queued" for r in rows)
        if queued > self.peak_queue:
            self.peak_queue, self.server_rss_at_peak_queue = queued, rss(self.srv.proc.pid)
        self.unfinished = sum(r["status"] in ("queued", "running") for r in rows if r["id"] in self.run_ids)

    async def run(self, stop: asyncio.Event, all_submitted: asyncio.Event, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self.srv.proc.poll() is not None:
                self.died = True  # killed from outside, or crashed: stop the load now
                break
            self.sample()
            if all_submitted.is_set() and self.unfinished == 0:
                break
            await asyncio.sleep(0.5)
        stop.set()


async def classroom(srv: Server, args) -> dict:
    out: dict = {}
    clients = make_clients(srv.url, args.clients)
    try:
        await warm_up(clients, CHAPTER)  # sessions, templates
        idle = await run_load(clients, MIX, args.think, args.idle_seconds, seed=2)
        out["idle"] = idle
        out["lone"] = [await asyncio.to_thread(lone_rate, srv, args.run_epochs) for _ in range(args.lone_runs)]
        out["server_rss_before"] = rss(srv.proc.pid)
        out["tree_rss_before"] = sum(map(rss, descendants(srv.proc.pid)))
        run_ids: set[str] = set()
        sampler = Sampler(srv, run_ids)
        stop, submitted = asyncio.Event(), asyncio.Event()
        loaded = Samples()
        sampler_task = asyncio.create_task(sampler.run(stop, submitted, time.monotonic() + args.timeout))

        async def learner_starts(c: httpx.AsyncClient) -> int:
            r = await c.post(f"{API}/runs", json=run_body(args.run_epochs))
            if r.status_code == 201:
                run_ids.add(r.json()["id"])
            return r.status_code

        cpu0 = (*tree_cpu(srv.proc.pid), self_cpu(), machine_busy())
        t0 = time.time()
        load_task = asyncio.create_task(run_load(clients, MIX, args.think, args.timeout, seed=3, stop=stop,
                                                 samples=loaded))
        codes = await asyncio.gather(*(learner_starts(c) for c in clients))
        submitted.set()
        await sampler_task
        await load_task
        if sampler.died:
            raise RuntimeError(f"the server died during the class (exit code {srv.proc.returncode})")
        cpu1 = (*tree_cpu(srv.proc.pid), self_cpu(), machine_busy())
        out["cpu"] = [b - a for a, b in zip(cpu0, cpu1)]
        # Again after the class: the machine is shared, and a denominator from one moment only
        # would carry whatever else ran then. The ratio uses the median of before and after.
        out["lone_after"] = [await asyncio.to_thread(lone_rate, srv, args.run_epochs) for _ in range(args.lone_runs)]
        if args.quiet_class:
            out["quiet"] = await asyncio.to_thread(quiet_class, srv, args)
        out.update(t0=time.time() - t0, codes=codes, loaded=loaded, sampler=sampler, run_ids=run_ids)
        out["t_end"] = time.time()
        out["t_start"] = t0
    finally:
        await close_clients(clients)
    return out


def one(args, max_workers: str | None, rep: Report) -> dict:
    env = {"MAX_WORKERS": max_workers} if max_workers else {}
    with Server(env) as srv:
        srv.start()
        srv.wait_forkserver()
        out = asyncio.run(classroom(srv, args))
        ids = out["run_ids"]
        rows = [r for r in srv.query("SELECT id, status, started, finished FROM runs") if r["id"] in ids]
    done = [r for r in rows if r["status"] == "done"]
    label = f"MAX_WORKERS={max_workers or 'default'}"
    res = {"label": label, "done": len(done), "asked": len(out["codes"]),
           "accepted": sum(c == 201 for c in out["codes"])}
    if done:
        first, last = min(r["started"] for r in rows), max(r["finished"] for r in done)
        res["wall"] = last - out["t_start"]
        res["agg_rate"] = len(done) * args.run_epochs / (last - first)
    res["lone_rate"] = median(out["lone"] + out["lone_after"])
    res["lone_before"], res["lone_after"] = median(out["lone"]), median(out["lone_after"])
    res["throughput"] = res.get("agg_rate", 0) / (cores() * res["lone_rate"])
    res["quiet_throughput"] = out.get("quiet", float("nan")) / (cores() * res["lone_rate"])
    res["cpu"] = out["cpu"]
    idle, loaded = out["idle"], out["loaded"]
    res["lat"] = {(phase, label_): (percentile(s.times.get(label_, []), 50), percentile(s.times.get(label_, []), 99),
                                   len(s.times.get(label_, [])), s.errors.get(label_, 0))
                  for phase, s in (("idle", idle), ("training", loaded)) for label_ in ("chapter", "live")}
    res["latency_ratio"] = res["lat"][("training", "chapter")][1] / res["lat"][("idle", "chapter")][1]
    sm = out["sampler"]
    res.update(peak_tree=sm.peak_tree, peak_pss=sm.peak_pss, peak_procs=sm.peak_procs, peak_queue=sm.peak_queue,
               per_queued=(sm.server_rss_at_peak_queue - out["server_rss_before"]) / sm.peak_queue
               if sm.peak_queue else float("nan"),
               server_before=out["server_rss_before"], tree_before=out["tree_rss_before"])
    print(f"  -- {label}")
    print(table([[ph, lb, str(n), str(err), ms(p50), ms(p99)] for (ph, lb), (p50, p99, n, err) in res["lat"].items()],
                ["phase", "path", "requests", "errors", "p50", "p99"]))
    rep.row(f"[{label}] runs done / accepted / asked", f"{res['done']} / {res['accepted']} / {res['asked']}")
    if "wall" in res:
        rep.row(f"[{label}] wall: first POST -> last run finished", f"{res['wall']:.1f} s")
        rep.row(f"[{label}] aggregate epochs/s vs one run alone", f"{res['agg_rate']:.1f} vs {res['lone_rate']:.1f}"
                f"  (x {cores()} cores; alone before/after: {res['lone_before']:.1f}/{res['lone_after']:.1f})")
    if "wall" in res:
        srv_cpu, below_cpu, gen_cpu, busy = res["cpu"]
        other = max(0.0, busy - srv_cpu - below_cpu - gen_cpu)
        rep.row(f"[{label}] CPU s in class: server/workers/load gen/others",
                f"{srv_cpu:.0f} / {below_cpu:.0f} / {gen_cpu:.0f} / {other:.0f} of {cores() * res['wall']:.0f} core-s")
        rep.row(f"[{label}] class epochs per worker CPU-s vs alone per wall-s",
                f"{res['done'] * args.run_epochs / below_cpu:.1f} vs {res['lone_rate']:.1f}")
    if "quiet" in out:
        rep.row(f"[{label}] same class, nobody polling: epochs/s", f"{out['quiet']:.1f}"
                f"  (ratio {res['quiet_throughput']:.2f})")
    rep.row(f"[{label}] peak tree RSS (sum) / PSS, processes",
            f"{mib(res['peak_tree'])} / {mib(res['peak_pss'])}, {res['peak_procs']}"
            f"  (before: {mib(res['tree_before'])})")
    rep.row(f"[{label}] server RSS per queued run (peak queue {res['peak_queue']})",
            f"{res['per_queued'] / 1024:.1f} KiB")
    return res


def run(args) -> Report:
    rep = Report("classroom")
    choices = [w.strip() for w in args.max_workers.split(",") if w.strip()] or [None]
    results = [one(args, mw, rep) for mw in choices]
    for res in results:
        suffix = "" if len(results) == 1 else f" [{res['label']}]"
        rep.target(Target("classroom p99 ratio loaded/idle" + suffix, res["latency_ratio"], "<=", LATENCY_TARGET,
                          "chapter page"))
        rep.target(Target("classroom throughput ratio" + suffix, res["throughput"], ">=", THROUGHPUT_TARGET,
                          f"{res['done']}/{res['asked']} runs done, pages polled"))
        if res["quiet_throughput"] == res["quiet_throughput"]:
            rep.target(Target("classroom throughput, nobody polling" + suffix, res["quiet_throughput"], "info",
                              note="worker pool alone"))
    return rep

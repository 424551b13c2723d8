"""classroom: --clients learners each start a run at once and watch it train, as the page does.

Each learner holds the simulator's event stream open, which pushes the live view whenever the
learner's runs change (what the page's script shows), and loads the chapter page every 2 x --think s on
average (the latency probe: 30 pages/s for 60 learners). Measured in one server, in this order:
idle page latency under the same load; --lone-runs runs alone; the class; the lone runs again. Targets:
chapter p99 under training load / idle p99 <= 5; aggregate epochs/s / (cores x the lone runs' epochs
over their seconds) >= 0.85. Also: runs done, wall time, peak memory of the server process tree,
server memory per queued run.

With the teacher's dashboard open (default; --no-dashboard to leave it closed): a teacher holds
/teach/events and fetches the board on every "changed", as the page does, while --crash-probes
learners' running runs are crashed (the Crash button, SIGKILL) a couple of seconds apart. Target:
the dashboard's stream announces each crash within 1 s (p95) of the server recording it; the
chapter's p99 target above is then measured with the dashboard open.

--no-probe leaves the chapter-page probe out (no latency target then): the class's CPU from
watching alone, beside the same class with the probe in another run."""

from __future__ import annotations

import asyncio
import json
import math
import time
from statistics import mean

import aiohttp
import httpx

from app.jobs.processes import WORKER_NICE
from app.settings import Settings
from bench.common import (
    API,
    CHAPTER,
    EVENTS,
    Report,
    Server,
    Target,
    cores,
    descendants,
    machine_busy,
    median,
    mib,
    ms,
    percentile,
    pss,
    rss,
    self_cpu,
    table,
    tree_cpu,
)
from bench.load import (
    Samples,
    close_clients,
    follow_all,
    make_clients,
    run_load,
    sse_events,
    timed_get,
    warm_up,
)
from bench.training import host_pace

LATENCY_TARGET = 5.0  # the chapter page's p99 during the class ÷ idle
CRASH_DELIVERY_TARGET = 1.0
TEACHER_KEY = "bench-teacher-key"
TEACH_EVENTS, TEACH_BOARD = "/teach/events?lang=en", "/teach/board?lang=en"
THROUGHPUT_TARGET = 0.85
SERVER_CPU_TARGET = 0.10  # the web process's share of the cores while the class trains and watches
MIX = [("chapter", CHAPTER, 1.0)]


def add_args(p) -> None:
    p.add_argument(
        "--run-epochs", type=int, default=20, help="classroom: epochs of each learner's run (default 20)"
    )
    p.add_argument(
        "--idle-seconds", type=float, default=15, help="classroom: idle latency phase in s (default 15)"
    )
    # Eight before and eight after: one 20-epoch run alone lasts under a second here and single runs
    # read 19-34 epochs/s back to back, so the median of three before and three after moved the
    # ratio by a tenth from one class to the next on its own.
    p.add_argument(
        "--lone-runs",
        type=int,
        default=8,
        help="classroom: lone runs before and after the class for the 1-run rate (default 8)",
    )
    p.add_argument(
        "--max-workers",
        default="",
        help="classroom: MAX_WORKERS to try, comma-separated, e.g. 2,4 (default: the app's default)",
    )
    p.add_argument(
        "--quiet-class",
        action="store_true",
        help="classroom: then run the class again with nobody polling (worker pool scaling alone)",
    )
    p.add_argument(
        "--timeout", type=float, default=300, help="classroom: give up on the class after s (default 300)"
    )
    p.add_argument(
        "--no-dashboard", action="store_true", help="classroom: no teacher dashboard open during the class"
    )
    p.add_argument(
        "--no-probe",
        action="store_true",
        help="classroom: no chapter-page latency probe, only the watching class (its CPU alone)",
    )
    p.add_argument(
        "--host-pace-epochs",
        type=int,
        default=150,
        help="classroom: epochs of the bare loops that read the host's own two-at-once pace before"
        " and after the class (default 150; 0 leaves them out)",
    )
    p.add_argument(
        "--crash-probes",
        type=int,
        default=10,
        help="classroom: learners' running runs crashed while the dashboard watches (default 10)",
    )


def run_body(epochs: int) -> dict:
    return {"epochs": epochs, "checkpoint_every": 5, "pace_ms": 0}


def lone_seconds(srv: Server, epochs: int) -> float:
    """Seconds of one run alone, finished - started as the app records them."""
    with httpx.Client(base_url=srv.url, timeout=30) as c:
        c.get("/api/session")  # a run needs a session, as from a page
        run_id = c.post(f"{API}/runs", json=run_body(epochs)).raise_for_status().json()["id"]
        while c.get(f"{API}/runs/{run_id}").json()["status"] in ("queued", "running"):
            time.sleep(0.25)
    row = srv.query("SELECT status, started, finished FROM runs WHERE id=?", run_id)[0]
    assert row["status"] == "done", dict(row)
    return row["finished"] - row["started"]


def occupancy(rows, workers: int) -> tuple[float, float]:
    """(share of the worker slots' time spent inside a run, mean seconds of one finished run):
    what is lost between runs (slot hand-over) versus inside them (contention)."""
    rows = [r for r in rows if r["started"] and r["finished"]]
    done = [r["finished"] - r["started"] for r in rows if r["status"] == "done"]
    if not rows or not done:
        return float("nan"), float("nan")
    span = max(r["finished"] for r in rows) - min(r["started"] for r in rows)
    busy = sum(r["finished"] - r["started"] for r in rows)
    return busy / (workers * span), mean(done)


def quiet_class(srv: Server, args) -> tuple[float, list, float, float]:
    """The same class of runs with nobody polling: how the worker pool alone scales (epochs/s),
    and what the web process spends on the runs themselves (starting them, their events)."""
    ids = []
    cpu0, t0 = tree_cpu(srv.proc.pid)[0], time.monotonic()
    for _ in range(args.clients):
        with httpx.Client(base_url=srv.url, timeout=30) as c:  # a fresh session each
            c.get("/api/session")
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
    server = (tree_cpu(srv.proc.pid)[0] - cpu0, time.monotonic() - t0)
    done = [r for r in rows if r["status"] == "done"]
    if not done:
        return float("nan"), rows, *server
    span = max(r["finished"] for r in done) - min(r["started"] for r in rows)
    return len(done) * args.run_epochs / span, rows, *server


class Sampler:
    """Every 0.5 s: RSS of the server's process tree, server RSS, queued runs; every 2 s: PSS.
    (Reading PSS costs ~15 ms of the shared cores each time: the instrument must not eat the
    CPU whose share it measures.)"""

    PSS_EVERY = 4

    def __init__(self, srv: Server, run_ids: set[str]):
        self.srv, self.run_ids = srv, run_ids
        self.peak_tree = self.peak_pss = self.peak_procs = 0
        self.peak_queue, self.server_rss_at_peak_queue = 0, 0
        self.unfinished = None
        self.died = False
        self.samples = 0

    def sample(self) -> None:
        pids = descendants(self.srv.proc.pid)
        self.peak_tree = max(self.peak_tree, sum(map(rss, pids)))
        if self.samples % self.PSS_EVERY == 0:
            self.peak_pss = max(self.peak_pss, sum(map(pss, pids)))
        self.samples += 1
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
            # In a thread: reading every process's PSS takes 25-75 ms in a class, and on the load
            # generator's event loop it held back the pages in flight, whose latency it measures
            # (the "stalls" of 30-45 ms every 2 s in the chapter's p99 were this).
            await asyncio.to_thread(self.sample)
            if all_submitted.is_set() and self.unfinished == 0:
                break
            await asyncio.sleep(0.5)
        stop.set()


async def teacher_dashboard(url: str, stop: asyncio.Event, seen: list, samples: Samples) -> None:
    """The teacher's page: its event stream, and the board fetched on each "changed". Records
    (arrival time, crashes the board counts) for every event."""
    headers = {"authorization": f"Bearer {TEACHER_KEY}"}
    endless = aiohttp.ClientTimeout(total=None, sock_connect=30)
    async with aiohttp.ClientSession(base_url=url, headers=headers) as c:
        while not stop.is_set():
            try:
                async with c.get(TEACH_EVENTS, timeout=endless) as r:
                    async for event, data in sse_events(r):
                        if stop.is_set():
                            return
                        if event == "changed":
                            seen.append((time.time(), json.loads(data)["crashed"]))
                            await timed_get(c, TEACH_BOARD, "board", samples)
            except (TimeoutError, aiohttp.ClientError):
                samples.fail("board-stream")
            await asyncio.sleep(0.5)


async def crash_probes(srv: Server, owners: dict, n: int, stop: asyncio.Event, crashed: list) -> None:
    """Crash n of the learners' runs while they train, one every ~2 s, as a learner's Crash button does."""
    await asyncio.sleep(3)
    while len(crashed) < n and not stop.is_set():
        rows = await asyncio.to_thread(srv.query, "SELECT id FROM runs WHERE status='running'")
        running = [r["id"] for r in rows if r["id"] in owners and r["id"] not in crashed]
        if running:
            run_id = running[0]
            async with owners[run_id].post(f"{API}/runs/{run_id}/crash", json={}) as r:
                if r.status == 200:
                    crashed.append(run_id)
                else:
                    print(f"  crash probe refused: {r.status} {await r.text()}")
        await asyncio.sleep(2)


def crashes_recorded(srv: Server, crashed: list) -> list[float]:
    """When each probed run's crash was recorded, in order. Only runs recorded as crashed count:
    a probed run that ended otherwise is owed no event."""
    if not crashed:
        return []
    marks = ",".join("?" * len(crashed))
    return sorted(
        r["finished"]
        for r in srv.query(f"SELECT finished FROM runs WHERE status='crashed' AND id IN ({marks})", *crashed)
    )


def crash_delivery(srv: Server, crashed: list, seen: list) -> list[float]:
    """Seconds from each crash being recorded (the run's `finished`) to the dashboard event whose
    count first includes it (infinite if none did). The k-th crash recorded is the k-th the
    board counts."""
    ends = crashes_recorded(srv, crashed)
    out = []
    for k, ended in enumerate(ends, start=1):
        arrival = next((t for t, count in seen if count >= k), None)
        out.append(float("inf") if arrival is None else arrival - ended)  # never announced: a miss
    return out


def learner_delivery(srv: Server, crashed: list, shown: dict[str, float]) -> list[float]:
    """Seconds from each crash being recorded to the crashed run's own page showing it crashed
    (its status fragment, fetched on the stream's "status" event); infinite if it never did."""
    if not crashed:
        return []
    rows = srv.query(
        f"SELECT id, finished FROM runs WHERE status='crashed' AND id IN ({','.join('?' * len(crashed))})",
        *crashed,
    )
    return [shown[r["id"]] - r["finished"] if r["id"] in shown else float("inf") for r in rows]


async def host_pace_now(args) -> float:
    """The host's own two-at-once pace (bench.training.host_pace), niced as the workers are; nan if
    left out. Read with the server idle, just before and just after the class."""
    if args.host_pace_epochs < 2:
        return float("nan")
    return await asyncio.to_thread(host_pace, args.host_pace_epochs, WORKER_NICE)


async def classroom(srv: Server, args) -> dict:
    out: dict = {}
    clients = make_clients(srv.url, args.clients)
    try:
        await warm_up(clients, CHAPTER)  # sessions, templates
        idle, idle_stop = Samples(), asyncio.Event()
        watching = asyncio.create_task(follow_all(clients, EVENTS, idle, idle_stop))
        # Every page has loaded its live view once (a burst of 60 renders) before idle is measured.
        deadline = time.monotonic() + 60
        while len(idle.times.get("view", [])) < len(clients) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        if not args.no_probe:
            await run_load(clients, MIX, 2 * args.think, args.idle_seconds, seed=2, samples=idle)
        idle_stop.set()
        await watching
        out["idle"] = idle
        out["lone"] = [
            await asyncio.to_thread(lone_seconds, srv, args.run_epochs) for _ in range(args.lone_runs)
        ]
        out["host_pace"] = [await host_pace_now(args)]
        out["server_rss_before"] = rss(srv.proc.pid)
        out["tree_rss_before"] = sum(map(rss, descendants(srv.proc.pid)))
        run_ids: set[str] = set()
        sampler = Sampler(srv, run_ids)
        stop, submitted = asyncio.Event(), asyncio.Event()
        loaded = Samples()
        sampler_task = asyncio.create_task(sampler.run(stop, submitted, time.monotonic() + args.timeout))
        owners: dict[str, aiohttp.ClientSession] = {}
        seen: list = []
        crashed: list[str] = []
        side_tasks = []
        board_stop = asyncio.Event()
        if not args.no_dashboard:
            side_tasks.append(asyncio.create_task(teacher_dashboard(srv.url, board_stop, seen, loaded)))
            side_tasks.append(
                asyncio.create_task(crash_probes(srv, owners, args.crash_probes, stop, crashed))
            )

        async def learner_starts(c: aiohttp.ClientSession) -> int:
            async with c.post(f"{API}/runs", json=run_body(args.run_epochs)) as r:
                if r.status == 201:
                    run_id = (await r.json())["id"]
                    run_ids.add(run_id)
                    owners[run_id] = c
                return r.status

        cpu0 = (*tree_cpu(srv.proc.pid), self_cpu(), machine_busy())
        t0 = time.time()
        load_task = asyncio.create_task(
            stop.wait()
            if args.no_probe
            else run_load(clients, MIX, 2 * args.think, args.timeout, seed=3, stop=stop, samples=loaded)
        )
        shown: dict[str, float] = {}  # run id -> when its learner's page first showed it crashed
        watching = asyncio.create_task(follow_all(clients, EVENTS, loaded, stop, shown))
        codes = await asyncio.gather(*(learner_starts(c) for c in clients))
        submitted.set()
        await sampler_task
        await load_task
        await watching
        # A crash recorded just before the last run ended is still owed its event: the teacher's
        # page stays open for it up to the target, so that it counts as late or missing, not as
        # never asked for.
        owed_until = time.monotonic() + CRASH_DELIVERY_TARGET
        recorded = len(await asyncio.to_thread(crashes_recorded, srv, crashed))
        while (recorded > max((n for _, n in seen), default=0) or recorded > len(shown)) and (
            time.monotonic() < owed_until
        ):
            await asyncio.sleep(0.05)
        board_stop.set()
        for task in side_tasks:
            task.cancel()
        for result in await asyncio.gather(*side_tasks, return_exceptions=True):
            if isinstance(result, Exception) and not isinstance(result, asyncio.CancelledError):
                print(f"  dashboard task failed: {result!r}")
        out["crashed"], out["crash_delivery"] = (
            crashed,
            await asyncio.to_thread(crash_delivery, srv, crashed, seen),
        )
        out["board_events"] = len(seen)
        out["learner_delivery"] = await asyncio.to_thread(learner_delivery, srv, crashed, shown)
        if sampler.died:
            raise RuntimeError(f"the server died during the class (exit code {srv.proc.returncode})")
        cpu1 = (*tree_cpu(srv.proc.pid), self_cpu(), machine_busy())
        out["cpu"] = [b - a for a, b in zip(cpu0, cpu1, strict=True)]
        # Again after the class: the machine is shared, and a denominator from one moment only
        # would carry whatever else ran then. The ratio uses the runs before and after together.
        out["lone_after"] = [
            await asyncio.to_thread(lone_seconds, srv, args.run_epochs) for _ in range(args.lone_runs)
        ]
        out["host_pace"].append(await host_pace_now(args))
        if args.quiet_class:
            out["quiet"], out["quiet_rows"], *out["quiet_server"] = await asyncio.to_thread(
                quiet_class, srv, args
            )
        out.update(t0=time.time() - t0, codes=codes, loaded=loaded, sampler=sampler, run_ids=run_ids)
        out["t_end"] = time.time()
        out["t_start"] = t0
    finally:
        await close_clients(clients)
    return out


def one(args, max_workers: str | None, rep: Report) -> dict:
    env = {"MAX_WORKERS": max_workers} if max_workers else {}
    env["TEACHER_KEY"] = TEACHER_KEY
    with Server(env) as srv:
        srv.start()
        srv.wait_settled()
        out = asyncio.run(classroom(srv, args))
        ids = out["run_ids"]
        rows = [r for r in srv.query("SELECT id, status, started, finished FROM runs") if r["id"] in ids]
        # Epochs the crashed runs (the dashboard's probes) trained before the crash count as work done.
        crashed_epochs = (
            sum(
                r[0]
                for r in srv.query(
                    f"SELECT COUNT(*) FROM epochs WHERE run_id IN ({','.join('?' * len(out['crashed']))})",
                    *out["crashed"],
                )
            )
            if out["crashed"]
            else 0
        )
    done = [r for r in rows if r["status"] == "done"]
    label = f"MAX_WORKERS={max_workers or 'default'}"
    res = {
        "label": label,
        "done": len(done),
        "asked": len(out["codes"]),
        "accepted": sum(c == 201 for c in out["codes"]),
    }
    if done:
        first, last = min(r["started"] for r in rows), max(r["finished"] for r in done)
        res["wall"] = last - out["t_start"]
        res["epochs"] = len(done) * args.run_epochs + crashed_epochs
        res["agg_rate"] = res["epochs"] / (last - first)
    lone = out["lone"] + out["lone_after"]
    # A rate of work, like the class's aggregate: all the lone runs' epochs over all their seconds.
    # A median would drop the runs that fell in the host's slow spells, which the class's own
    # aggregate keeps, and so compare a fast moment alone with the whole class.
    res["lone_seconds"] = mean(lone)
    res["lone_rate"] = args.run_epochs / res["lone_seconds"]
    res["lone_median_rate"] = args.run_epochs / median(lone)
    res["lone_before"] = args.run_epochs / mean(out["lone"])
    res["lone_after"] = args.run_epochs / mean(out["lone_after"])
    # The spread of the lone runs: on a VM whose host is busy, one run alone reads 18-35 epochs/s
    # back to back, and a ratio on a few of them says more of the host than of the app.
    res["lone_range"] = (args.run_epochs / max(lone), args.run_epochs / min(lone))
    workers = int(max_workers) if max_workers else Settings().max_workers
    res["occupancy"], res["run_seconds"] = occupancy(rows, workers)
    if "quiet_rows" in out:
        res["quiet_occupancy"], res["quiet_run_seconds"] = occupancy(out["quiet_rows"], workers)
    res["throughput"] = res.get("agg_rate", 0) / (cores() * res["lone_rate"])
    res["quiet_throughput"] = out.get("quiet", float("nan")) / (cores() * res["lone_rate"])
    res["cpu"] = out["cpu"]
    res["host_pace"] = out["host_pace"]
    res["crash_delivery"] = out["crash_delivery"]
    res["learner_delivery"] = out.get("learner_delivery", [])
    idle, loaded = out["idle"], out["loaded"]
    res["lat"] = {
        (phase, label_): (
            percentile(s.times.get(label_, []), 50),
            percentile(s.times.get(label_, []), 99),
            len(s.times.get(label_, [])) + s.counts.get(label_, 0),
            s.errors.get(label_, 0),
        )
        for phase, s in (("idle", idle), ("training", loaded))
        for label_ in ("chapter", "view", "board")
        if phase == "training" or label_ != "board"
    }
    res["latency_ratio"] = res["lat"][("training", "chapter")][1] / res["lat"][("idle", "chapter")][1]
    sm = out["sampler"]
    res.update(
        peak_tree=sm.peak_tree,
        peak_pss=sm.peak_pss,
        peak_procs=sm.peak_procs,
        peak_queue=sm.peak_queue,
        per_queued=(sm.server_rss_at_peak_queue - out["server_rss_before"]) / sm.peak_queue
        if sm.peak_queue
        else float("nan"),
        server_before=out["server_rss_before"],
        tree_before=out["tree_rss_before"],
    )
    print(f"  -- {label}")
    print(
        table(
            [
                [ph, lb, str(n), str(err), ms(p50), ms(p99)]
                for (ph, lb), (p50, p99, n, err) in res["lat"].items()
            ],
            ["phase", "path", "requests", "errors", "p50", "p99"],
        )
    )
    print("  (view: live views the streams pushed; p50 / p99 from opening a stream to its first view)")
    events = sorted((k.removeprefix("event "), n) for k, n in loaded.counts.items() if k.startswith("event "))
    rep.row(
        f"[{label}] stream events in class, by name (each refetches the fragments listening for it)",
        ", ".join(f"{name} {n}" for name, n in events),
    )
    rep.row(
        f"[{label}] event streams dropped (idle / training)",
        f"{idle.errors.get('stream', 0)} / {loaded.errors.get('stream', 0)}",
    )
    rep.row(f"[{label}] runs done / accepted / asked", f"{res['done']} / {res['accepted']} / {res['asked']}")
    if not args.no_dashboard:
        delivery = res["crash_delivery"]
        rep.row(
            f"[{label}] dashboard: events, crashes probed / recorded / announced, delivery p50 / p95 / max",
            f"{out['board_events']}, {len(out['crashed'])} / {len(delivery)} / "
            f"{sum(map(math.isfinite, delivery))}, {ms(percentile(delivery, 50))} / "
            f"{ms(percentile(delivery, 95))} / {ms(max(delivery, default=0))}",
        )
    if "wall" in res:
        rep.row(f"[{label}] wall: first POST -> last run finished", f"{res['wall']:.1f} s")
        rep.row(
            f"[{label}] aggregate epochs/s vs one run alone",
            f"{res['agg_rate']:.1f} vs {res['lone_rate']:.1f}"
            f"  (x {cores()} cores; alone before/after: {res['lone_before']:.1f}/{res['lone_after']:.1f},"
            f" median run {res['lone_median_rate']:.1f},"
            f" slowest-fastest {res['lone_range'][0]:.1f}-{res['lone_range'][1]:.1f})",
        )
    if "wall" in res:
        srv_cpu, below_cpu, gen_cpu, busy = res["cpu"]
        other = max(0.0, busy - srv_cpu - below_cpu - gen_cpu)
        rep.row(
            f"[{label}] CPU s in class: server/workers/load gen/others",
            f"{srv_cpu:.2f} / {below_cpu:.1f} / {gen_cpu:.1f} / {other:.1f}"
            f" of {cores() * res['wall']:.1f} core-s",
        )
        # Beside the ratio, two figures the host's speed does not move: the cores' share the class
        # left to training, and what an epoch cost the workers. In a slow spell of the VM the
        # second falls and the ratio with it, while the first stays where the app puts it.
        share, per_cpu = below_cpu / (cores() * res["wall"]), res["epochs"] / below_cpu
        rep.row(f"[{label}] workers' share of the cores in class", f"{share:.0%}")
        rep.row(
            f"[{label}] class epochs per worker CPU-s vs alone per wall-s",
            f"{per_cpu:.1f} vs {res['lone_rate']:.1f}",
        )
        # The ratio is about the product of the two: what the class left to training, and how
        # well two runs at once train on this host against one alone. A miss says which fell.
        pace = per_cpu / res["lone_rate"]
        rep.row(
            f"[{label}] throughput ~ workers' share x (epochs per worker CPU-s / alone)",
            f"{share:.2f} x {pace:.2f} = {share * pace:.2f} (ratio {res['throughput']:.2f})",
        )
        # The host's pace sets the class's: two bare torch loops at once against one alone, read
        # just before and just after. The app's share of the cores times it is about the ratio the
        # app could reach then; a miss where that product is below the target is the host's.
        before, after = res["host_pace"]
        if before == before:
            rep.row(
                f"[{label}] host's pace: two bare loops at once vs one alone, before / after the class",
                f"{before:.2f} / {after:.2f}  (x share: {share * before:.2f} / {share * after:.2f})",
            )
    rep.row(
        f"[{label}] worker slots busy; one run's mean s in class vs alone",
        f"{res['occupancy']:.0%}; {res['run_seconds']:.2f} vs {res['lone_seconds']:.2f}",
    )
    if "quiet" in out:
        rep.row(
            f"[{label}] same class, nobody polling: epochs/s",
            f"{out['quiet']:.1f}"
            f"  (ratio {res['quiet_throughput']:.2f}; slots busy {res['quiet_occupancy']:.0%},"
            f" one run {res['quiet_run_seconds']:.2f} s)",
        )
        cpu, wall = out["quiet_server"]
        rep.row(
            f"[{label}] same class, nobody polling: web process CPU",
            f"{cpu:.2f} core-s over {wall:.1f} s ({cpu / (cores() * wall):.1%} of the cores)",
        )
    rep.row(
        f"[{label}] peak tree RSS (sum) / PSS, processes",
        f"{mib(res['peak_tree'])} / {mib(res['peak_pss'])}, {res['peak_procs']}"
        f"  (before: {mib(res['tree_before'])})",
    )
    rep.row(
        f"[{label}] server RSS per queued run (peak queue {res['peak_queue']})",
        f"{res['per_queued'] / 1024:.1f} KiB",
    )
    return res


def run(args) -> Report:
    rep = Report("classroom")
    choices = [w.strip() for w in args.max_workers.split(",") if w.strip()] or [None]
    results = [one(args, mw, rep) for mw in choices]
    for res in results:
        suffix = "" if len(results) == 1 else f" [{res['label']}]"
        if not args.no_probe:
            rep.target(
                Target(
                    "classroom p99 ratio loaded/idle" + suffix,
                    res["latency_ratio"],
                    "<=",
                    LATENCY_TARGET,
                    "chapter page",
                )
            )
        if not args.no_dashboard:
            shown = res["learner_delivery"]
            rep.target(
                Target(
                    "learner's crash shows in the page p95 (s)" + suffix,
                    percentile(shown, 95) if shown else float("inf"),
                    "<=",
                    CRASH_DELIVERY_TARGET,
                    f"{len(shown)} crashes, the learner's own stream and status fragment",
                )
            )
            delivered = res["crash_delivery"]
            rep.target(
                Target(
                    "dashboard crash delivery p95 (s)" + suffix,
                    percentile(delivered, 95) if delivered else float("inf"),
                    "<=",
                    CRASH_DELIVERY_TARGET,
                    f"{len(delivered)} crashes, teacher's event stream",
                )
            )
        rep.target(
            Target(
                "classroom throughput ratio" + suffix,
                res["throughput"],
                ">=",
                THROUGHPUT_TARGET,
                f"{res['done']}/{res['asked']} runs done, pages polled",
            )
        )
        if "cpu" in res and "wall" in res:
            rep.target(
                Target(
                    "classroom: web process CPU / the cores' time" + suffix,
                    res["cpu"][0] / (cores() * res["wall"]),
                    "<=",
                    SERVER_CPU_TARGET,
                    "60 learners watching, the dashboard open"
                    + ("" if args.no_probe else ", the chapter page polled"),
                )
            )
        if res["quiet_throughput"] == res["quiet_throughput"]:
            rep.target(
                Target(
                    "classroom throughput, nobody polling" + suffix,
                    res["quiet_throughput"],
                    "info",
                    note="worker pool alone",
                )
            )
    return rep

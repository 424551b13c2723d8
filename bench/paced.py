"""paced: a class starts runs at the form's watching pace at once; time until every run is done.

The form's default pace is 150 ms after each epoch, against ~10 ms of training: a paced run
sleeps most of its life. Measured on two servers side by side, in turns: the app's default
(paced runs take PACED_WORKERS places of their own) and PACED_WORKERS=0 (they wait for the
MAX_WORKERS cores, as full-speed runs do). Also the web process's and the workers' CPU, to show
that the extra places cost the cores little. No target: for information."""

from __future__ import annotations

import asyncio

import aiohttp

from bench.common import API, Report, Server, Target, median, tree_cpu
from bench.load import close_clients, make_clients


def add_args(p) -> None:
    p.add_argument(
        "--paced-learners", type=int, default=20, help="paced: learners starting a run at once (default 20)"
    )
    p.add_argument("--paced-epochs", type=int, default=10, help="paced: epochs of each run (default 10)")
    p.add_argument(
        "--paced-ms",
        type=int,
        default=150,
        help="paced: pause after each epoch in ms (default 150, the form's)",
    )
    p.add_argument("--paced-repeats", type=int, default=2, help="paced: turns on each server (default 2)")


async def _class(srv: Server, args) -> tuple[float, float, float]:
    """(seconds from the first run created to the last run finished, as the server recorded
    them; web process CPU s; workers' CPU s)."""
    clients = make_clients(srv.url, args.paced_learners)
    try:
        for c in clients:
            async with c.get("/api/session") as r:
                await r.read()
        body = {"epochs": args.paced_epochs, "checkpoint_every": 5, "pace_ms": args.paced_ms}
        cpu0 = tree_cpu(srv.proc.pid)

        async def learner(c: aiohttp.ClientSession) -> str:
            async with c.post(f"{API}/runs", json=body) as r:
                r.raise_for_status()
                run_id = (await r.json())["id"]
            # Every half second: this bench's own polling, counted in the web process's CPU
            # (a page follows its event stream instead).
            while True:
                async with c.get(f"{API}/runs/{run_id}") as r:
                    if (await r.json())["status"] not in ("queued", "running"):
                        return run_id
                await asyncio.sleep(0.5)

        ids = await asyncio.gather(*(learner(c) for c in clients))
        cpu1 = tree_cpu(srv.proc.pid)
        marks = ",".join("?" * len(ids))
        rows = srv.query(
            f"SELECT MIN(created) AS a, MAX(finished) AS b FROM runs WHERE id IN ({marks})", *ids
        )
        return rows[0]["b"] - rows[0]["a"], cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
    finally:
        await close_clients(clients)


def run(args) -> Report:
    rep = Report("paced")
    env = {"TRANSFER_PREWARM": "false", "MAX_ACTIVE_RUNS_PER_SESSION": 3}
    with Server(env=env) as places, Server(env={**env, "PACED_WORKERS": 0}) as cores_only:
        results: dict[str, list[tuple[float, float, float]]] = {"places": [], "cores": []}
        for srv in (places, cores_only):
            srv.start()
            srv.wait_forkserver()
        for _ in range(args.paced_repeats):
            for name, srv in (("places", places), ("cores", cores_only)):
                results[name].append(asyncio.run(_class(srv, args)))
        what = f"{args.paced_learners} learners, {args.paced_epochs} epochs at {args.paced_ms} ms"
        for name, label in (("places", "paced places (default)"), ("cores", "PACED_WORKERS=0")):
            rows = results[name]
            rep.row(
                f"{label}: first run created -> last run finished (s)",
                ", ".join(f"{w:.1f}" for w, _, _ in rows),
            )
            rep.row(
                f"{label}: CPU s web process (with the polling) / workers",
                ", ".join(f"{s:.2f} / {w:.1f}" for _, s, w in rows),
            )
        ratio = median([w for w, _, _ in results["cores"]]) / median([w for w, _, _ in results["places"]])
        rep.target(Target("paced class: time without paced places / with, median", ratio, "info", note=what))
    return rep

"""pages: --clients loopback learners GET /healthz and the chapter page, randomly interleaved.

p50 and p99 of each, side by side in the same load; target: chapter p99 / healthz p99 <= 2."""

from __future__ import annotations

import asyncio

from bench.common import CHAPTER, Report, Server, Target, ms, percentile, table
from bench.load import close_clients, make_clients, run_load, warm_up

TARGET = 2.0


def add_args(p) -> None:
    p.add_argument("--clients", type=int, default=60, help="pages/classroom: simulated learners (default 60)")
    p.add_argument("--seconds", type=float, default=20, help="pages: load duration in s (default 20)")
    p.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="pages/classroom: mean think time between a learner's requests, jittered +-50%% (default 1 s)",
    )


async def _measure(url: str, clients: int, think: float, seconds: float):
    cs = make_clients(url, clients)
    try:
        # Warm up: templates compiled, chapter rendered once, each client has its session cookie.
        await warm_up(cs, CHAPTER)
        mix = [("healthz", "/healthz", 1.0), ("chapter", CHAPTER, 1.0)]
        return await run_load(cs, mix, think, seconds, seed=1)
    finally:
        await close_clients(cs)


def run(args) -> Report:
    rep = Report("pages")
    with Server() as srv:
        srv.start()
        srv.wait_settled()  # start-up work (torch import, pretraining) would eat CPU measured here
        samples = asyncio.run(_measure(srv.url, args.clients, args.think, args.seconds))
    rows, stats = [], {}
    for label in ("healthz", "chapter"):
        xs = samples.times.get(label, [])
        stats[label] = (percentile(xs, 50), percentile(xs, 99))
        rows.append(
            [
                label,
                str(len(xs)),
                str(samples.errors.get(label, 0)),
                ms(stats[label][0]),
                ms(stats[label][1]),
                ms(max(xs) if xs else float("nan")),
            ]
        )
    print(table(rows, ["path", "requests", "errors", "p50", "p99", "max"]))
    rate = samples.count() / args.seconds
    rep.row("clients / offered rate", f"{args.clients} / {rate:.0f} req/s over {args.seconds:.0f} s")
    p50_ratio = stats["chapter"][0] / stats["healthz"][0]
    p99_ratio = stats["chapter"][1] / stats["healthz"][1]
    rep.row("p50 ratio chapter / healthz (info)", f"{p50_ratio:.2f}")
    rep.target(Target("pages p99 ratio", p99_ratio, "<=", TARGET))
    return rep

"""transfer: pretraining at first start, load views under 60 clients, and a fine-tune comparison.

Pretraining time is from server start until both source models are ready (a fresh PRETRAINED_DIR).
The inspect/load views are the transfer diagram, the JSON inspect and a tensor preview over random
questions (source, variant, class count, strategy), against /healthz in the same load, once the
app has answered every question in the background after pretraining."""

from __future__ import annotations

import asyncio
import random
import time

import httpx

from bench.common import Report, Server, Target, ms, percentile, table
from bench.load import Samples, close_clients, make_clients, timed_get, warm_up

TARGET = 2.0
SOURCES = ("resnet_mini", "convnet_mini")
VARIANTS = ("same_arch", "renamed_head", "dataparallel_prefix", "wider_block")
STRATEGIES = ("shape_filter", "strict", "non_strict", "strip_prefix")


def add_args(p) -> None:
    p.add_argument("--tl-clients", type=int, default=60, help="transfer: simulated learners (default 60)")
    p.add_argument(
        "--tl-seconds", type=float, default=20, help="transfer: seconds per load phase (default 20)"
    )
    p.add_argument(
        "--tl-shots", type=int, default=10, help="transfer: fine-tune shots per class (default 10)"
    )
    p.add_argument("--tl-epochs", type=int, default=15, help="transfer: fine-tune epochs (default 15)")


def _question(rng: random.Random) -> str:
    return (
        f"source={rng.choice(SOURCES)}&variant={rng.choice(VARIANTS)}&num_classes={rng.randint(2, 10)}"
        f"&strategy={rng.choice(STRATEGIES)}"
    )


async def _learner(client, until: float, samples: Samples, rng: random.Random) -> None:
    await asyncio.sleep(rng.uniform(0, 1))
    while time.monotonic() < until:
        q = _question(rng)
        path, label = rng.choice(
            [
                ("/healthz", "healthz"),
                (f"/components/transfer-visualizer/diagram?lang=en&{q}", "diagram"),
                (f"/api/transfer/inspect?{q}", "inspect"),
                (
                    f"/api/transfer/tensor?key=conv1.weight&{q}".replace("convnet_mini", "resnet_mini"),
                    "tensor",
                ),
            ]
        )
        await timed_get(client, path, label, samples)
        await asyncio.sleep(rng.uniform(0.5, 1.5))


async def _phase(url: str, clients: int, seconds: float, seed: int) -> Samples:
    cs = make_clients(url, clients)
    try:
        await warm_up(cs, "/healthz")
        samples = Samples()
        until = time.monotonic() + seconds
        await asyncio.gather(
            *(_learner(c, until, samples, random.Random(seed * 1000 + i)) for i, c in enumerate(cs))
        )
        return samples
    finally:
        await close_clients(cs)


def _report(rep: Report, name: str, samples: Samples) -> None:
    rows = []
    stats = {}
    for label in ("healthz", "diagram", "inspect", "tensor"):
        xs = samples.times.get(label, [])
        stats[label] = (percentile(xs, 50), percentile(xs, 99))
        rows.append(
            [label, str(len(xs)), str(samples.errors.get(label, 0)), ms(stats[label][0]), ms(stats[label][1])]
        )
    print(table(rows, ["path", "requests", "errors", "p50", "p99"]))
    views = [x for label in ("diagram", "inspect", "tensor") for x in samples.times.get(label, [])]
    ratio = percentile(views, 99) / stats["healthz"][1]
    if name == "warm":
        rep.target(Target("transfer views p99 ratio (warm)", ratio, "<=", TARGET))
    else:
        rep.row(f"views p99 / healthz p99 ({name} cache, info)", f"{ratio:.2f}")


def run(args) -> Report:
    rep = Report("transfer")
    with Server(fresh_pretrained=True) as srv:
        srv.start()
        with httpx.Client(base_url=srv.url, timeout=10) as c:
            while any(s["pretraining"] for s in c.get("/api/transfer/options").json()["sources"].values()):
                time.sleep(0.2)
        pretrain = time.perf_counter() - srv.started_at
        rep.row("pretraining both sources at first start", f"{pretrain:.1f} s from process start")
        with httpx.Client(base_url=srv.url, timeout=10) as c:
            while not (Server.quick or c.get("/api/transfer/options").json()["all_views_ready"]):
                time.sleep(0.2)
        rep.row(
            "then every load view answered in the background", f"{time.perf_counter() - srv.started_at:.1f} s"
        )
        for name, seed in (("warm", 2),):
            print(f"  -- {name} cache")
            _report(rep, name, asyncio.run(_phase(srv.url, args.tl_clients, args.tl_seconds, seed)))
        with httpx.Client(base_url=srv.url, timeout=10) as c:
            c.get("/api/session")  # as the page does: a fine-tune needs an established session
            t0 = time.perf_counter()
            body = {"num_classes": 10, "shots": args.tl_shots, "epochs": args.tl_epochs}
            run_id = c.post("/api/transfer/finetune", json=body).raise_for_status().json()["id"]
            while (state := c.get(f"/api/transfer/finetune/{run_id}").json())["status"] in (
                "queued",
                "running",
            ):
                time.sleep(0.1)
            seconds = time.perf_counter() - t0
        rep.row(
            f"fine-tune comparison (10 classes x {args.tl_shots} shots, {args.tl_epochs} epochs, 3 seeds)",
            f"{seconds:.1f} s, {state['status']},"
            f" mean margin {100 * (state['mean_margin'] or 0):+.1f} points",
        )
    return rep

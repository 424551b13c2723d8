"""startup: process start -> first 200 on /healthz, against `python -c "import torch"`.

Both are timed in turn (interleaved), median of --runs each; target: ratio <= 1.5."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx

from bench.common import API, REPO, Report, Server, Target, median, table

TARGET = 1.5


def add_args(p) -> None:
    p.add_argument("--runs", type=int, default=3, help="startup: timings of each kind (median taken)")


def import_torch() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], cwd=REPO, check=True)
    return time.perf_counter() - t0


def server_start(first_epoch: list[float] | None = None) -> float:
    srv = Server(fresh_pretrained=True)
    try:
        srv.spawn()
        healthy = srv.wait_healthy(interval=0.01)
        if first_epoch is not None:
            first_epoch.append(time_to_first_epoch(srv))
        return healthy
    finally:
        srv.stop()


def time_to_first_epoch(srv: Server, timeout: float = 120) -> float:
    """For information: a run submitted at the first 200 -> its first epoch (the forkserver
    imports torch in the background, so /healthz answers before training can start)."""
    with httpx.Client(base_url=srv.url, timeout=10) as c:
        c.get("/api/session")  # as the page does: runs need an established session
        r = c.post(f"{API}/runs", json={"epochs": 2, "checkpoint_every": 1, "pace_ms": 0})
        run = r.raise_for_status().json()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if c.get(f"{API}/runs/{run['id']}").json()["epochs"]:
                return time.perf_counter() - srv.started_at
            time.sleep(0.02)
    return float("nan")


def run(args) -> Report:
    rep = Report("startup")
    if not Server.quick:
        server_start()  # warm the page cache for both (torch's files are shared by the two)
    torch_t, app_t, epoch_t = [], [], []
    for i in range(args.runs):
        # Alternate which goes first, so that a slow phase of the machine hits both.
        order = [(import_torch, torch_t), (lambda: server_start(epoch_t), app_t)]
        if i % 2:
            order.reverse()
        for fn, out in order:
            out.append(fn())
    print(
        table(
            [
                [str(i + 1), f"{a:.2f} s", f"{t:.2f} s", f"{a / t:.2f}"]
                for i, (a, t) in enumerate(zip(app_t, torch_t, strict=True))
            ],
            ["run", "app -> /healthz 200", "import torch", "ratio"],
        )
    )
    ratio = median(app_t) / median(torch_t)
    rep.row("median app start -> first 200 on /healthz", f"{median(app_t):.2f} s")
    rep.row("median python -c 'import torch'", f"{median(torch_t):.2f} s")
    rep.row("median app start -> first epoch of a run (info)", f"{median(epoch_t):.2f} s")
    rep.target(Target("startup ratio", ratio, "<=", TARGET))
    return rep

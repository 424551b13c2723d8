"""sharded: a DCP save on 2 ranks ÷ the same weights saved by one process with torch.save (for information);
and a class opening the ShardedCheckpointLab at once while simulator runs train.

Both saves are timed inside the same run of the lab's save (app.ml.sharded_lab): rank 0 first
writes the gathered weights with torch.save, then every rank takes part in dcp.save (its slowest
rank counts). Tiny tensors: the figure is the price of coordinating ranks, not of bytes.
The class: learners start simulator runs, then as many learners click the lab's buttons at once
(every case, on every world size): each click queues an experiment in the job backend, which runs
its ranks as places free up. Targets: every simulator run still finishes, and every experiment
gets an answer (its result, or a clear refusal when the queue or the learner's limit is full).
Run alone with `python -m bench.sharded`."""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from bench.common import API, Report, Server, Target, median, table

LAB = "/api/sharded-checkpoint-lab/experiments"
CLICKS = (
    [{"case": "save", "world": n, "sharding": s} for n in (1, 2, 4) for s in ("sharded", "replicated")]
    + [{"case": "reshard", "world": 2, "sharding": "sharded", "load_world": m} for m in (1, 4)]
    + [{"case": "killed", "world": 2}, {"case": "ddp", "world": 2}]
)


def add_args(p: Any) -> None:
    p.add_argument("--sharded-runs", type=int, default=5, help="sharded: saves of each kind (median taken)")
    p.add_argument("--sharded-class", type=int, default=60, help="sharded: learners opening the lab at once")
    p.add_argument(
        "--sharded-sim-runs", type=int, default=4, help="sharded: simulator runs training meanwhile"
    )
    p.add_argument("--sharded-epochs", type=int, default=20, help="sharded: epochs of each simulator run")


def run(args: Any) -> Report:
    import torch

    from app.ml import sharded_lab

    torch.set_num_threads(1)
    rep = Report("sharded")
    dcp_s, plain_s = [], []
    for i in range(args.sharded_runs):
        with tempfile.TemporaryDirectory() as d:
            out = sharded_lab.save(Path(d), "ckpt", 2, "sharded", seed=i)
        assert out["complete"] and all(r["ok"] for r in out["ranks"]), out["ranks"]
        dcp_s.append(max(r["save_s"] for r in out["ranks"]))
        plain_s.append(out["ranks"][0]["torch_save_s"])
    rows = [
        [str(i + 1), f"{d * 1000:.1f} ms", f"{p * 1000:.1f} ms"]
        for i, (d, p) in enumerate(zip(dcp_s, plain_s, strict=True))
    ]
    print(table(rows, ["run", "dcp.save on 2 ranks", "torch.save by 1"]))
    rep.row("median dcp.save, 2 ranks (slowest rank)", f"{median(dcp_s) * 1000:.1f} ms")
    rep.row("median torch.save, 1 process", f"{median(plain_s) * 1000:.1f} ms")
    rep.target(Target("dcp.save on 2 ranks ÷ torch.save by one", median(dcp_s) / median(plain_s), "info"))
    finished, runs, seconds, answered = _class_opens_the_lab(args)
    rep.row(
        f"a class of {args.sharded_class} clicks the lab at once",
        f"{answered} experiments answered in {seconds:.0f} s",
    )
    rep.target(Target("simulator runs finished while the class used the lab", finished / runs, ">=", 1.0))
    rep.target(Target("experiments answered (result or refusal)", answered / args.sharded_class, ">=", 1.0))
    return rep


def _learner(srv: Server) -> httpx.Client:
    c = httpx.Client(base_url=srv.url, timeout=600, headers={"Origin": srv.url})
    c.get("/api/session")  # as the page does: runs need an established session
    return c


def _class_opens_the_lab(args: Any) -> tuple[int, int, float, int]:
    """Simulator runs train while the class clicks every case of the lab at once: how many runs
    finished, of how many, how long until every experiment was answered, and how many were (a
    result, or a refusal of the queue or the limit: nothing may hang or fail)."""
    with Server() as srv:
        srv.start()
        srv.wait_settled()
        runs = []
        for i in range(args.sharded_sim_runs):
            c = _learner(srv)
            body = {"epochs": args.sharded_epochs, "checkpoint_every": 5, "pace_ms": 0, "seed": i}
            runs.append((c, c.post(f"{API}/runs", json=body).raise_for_status().json()["id"]))
        t0 = time.monotonic()
        learners = [_learner(srv) for _ in range(args.sharded_class)]
        with ThreadPoolExecutor(max_workers=args.sharded_class) as pool:
            answers = list(
                pool.map(lambda i: _experiment(learners[i], CLICKS[i % len(CLICKS)]), range(len(learners)))
            )
        seconds = time.monotonic() - t0
        for c in learners:
            c.close()
        finished = 0
        deadline = time.monotonic() + 600
        for c, run_id in runs:
            while time.monotonic() < deadline:
                status = c.get(f"{API}/runs/{run_id}").json()["status"]
                if status not in ("queued", "planned", "running"):
                    finished += status == "done"
                    break
                time.sleep(0.5)
            c.close()
        return finished, len(runs), seconds, sum(answers)


def _experiment(c: httpx.Client, body: dict) -> bool:
    """Queue one experiment and follow it to its end: answered if done, or refused with 429."""
    r = c.post(LAB, json=body)
    if r.status_code == 429:
        return True
    r.raise_for_status()
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        out = c.get(f"{LAB}/{r.json()['id']}").json()
        if out["status"] not in ("queued", "running"):
            return bool(out["status"] == "done")
        time.sleep(0.5)
    return False


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.sharded", description=__doc__)
    add_args(parser)
    report = run(parser.parse_args())
    for t in report.targets:
        print(t.line())

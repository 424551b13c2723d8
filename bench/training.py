"""training: app epoch time vs a bare torch loop, checkpoint save time, crash -> resume latency.

a) the app's epoch "seconds" (pace_ms=0, via the API) / a bare loop in a subprocess with one
   torch thread, alternately, medians over epochs skipping epoch 1 of each run; target <= 1.10.
b) checkpoint save time (events table) / epoch time, for information.
c) crash -> first epoch of the resumed run / epoch time, for information."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from bench.common import API, REPO, Report, Server, Target, median, ms, percentile, table

TARGET = 1.10
# As the page polls (twice a second); a tighter poll would put the bench and the server on the
# CPU beside the worker, which the bare loop does not have.
POLL = 0.25


def add_args(p) -> None:
    p.add_argument(
        "--rounds", type=int, default=5, help="training: bare/app run pairs, alternated (default 5)"
    )
    p.add_argument("--epochs", type=int, default=60, help="training: epochs per run (default 60)")
    p.add_argument("--crash-runs", type=int, default=3, help="training: crash -> resume trials (default 3)")
    p.add_argument(
        "--bare-nice",
        type=int,
        default=None,
        help="training: nice of the bare loop (default: the app's WORKER_NICE, 10)",
    )


def bare_epochs(epochs: int, nice: int) -> list[float]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "bench.bare_loop", str(epochs), str(nice)],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def host_pace(epochs: int, nice: int) -> float:
    """Two bare loops at once, each one's epochs per second, over one loop alone (epoch 1 of each
    skipped): how well this host trains two at once right now, with no app code in the way. The
    classroom's pace (its workers' epochs per CPU-s over a lone run's per wall-s) follows it, give or
    take the host's drift between the readings."""
    alone = bare_epochs(epochs, nice)[1:]
    with ThreadPoolExecutor(2) as pool:
        pair = [xs[1:] for xs in pool.map(lambda _: bare_epochs(epochs, nice), range(2))]
    return (sum(alone) / len(alone)) / (sum(map(sum, pair)) / sum(map(len, pair)))


def wait_run(c: httpx.Client, run_id: str, interval: float, timeout: float = 600) -> tuple[dict, float]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = c.get(f"{API}/runs/{run_id}").json()
        if run["status"] not in ("queued", "running"):
            return run, time.perf_counter()
        time.sleep(interval)
    raise TimeoutError(f"run {run_id} did not finish")


def app_run(srv: Server, epochs: int) -> dict:
    with httpx.Client(base_url=srv.url, timeout=30) as c:
        c.get("/api/session")  # as the page does: runs need an established session
        t0 = time.perf_counter()
        r = c.post(f"{API}/runs", json={"epochs": epochs, "checkpoint_every": 5, "pace_ms": 0})
        r.raise_for_status()
        run, t1 = wait_run(c, r.json()["id"], interval=POLL)
    assert run["status"] == "done", run
    row = srv.query("SELECT started, finished FROM runs WHERE id=?", run["id"])[0]
    return {
        "id": run["id"],
        "seconds": [e["seconds"] for e in run["epochs"]],
        "poll_wall": (t1 - t0) / epochs,
        "db_wall": (row["finished"] - row["started"]) / epochs,
    }


def crash_resume(srv: Server, epochs: int) -> dict | None:
    with httpx.Client(base_url=srv.url, timeout=30) as c:
        c.get("/api/session")
        run_id = c.post(f"{API}/runs", json={"epochs": epochs, "checkpoint_every": 5, "pace_ms": 0}).json()[
            "id"
        ]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # crash once a checkpoint or two exist
            run = c.get(f"{API}/runs/{run_id}").json()
            if len(run["epochs"]) >= 11 or run["status"] not in ("queued", "running"):
                break
            time.sleep(0.01)
        t_crash = time.perf_counter()
        if c.post(f"{API}/runs/{run_id}/crash").status_code != 200:
            return None  # finished before we could crash it
        while (run := c.get(f"{API}/runs/{run_id}").json())["status"] in ("queued", "running"):
            time.sleep(0.01)
        t_crashed = time.perf_counter()
        latest = next(cp for cp in run["checkpoints"] if cp["latest"])
        t_resume = time.perf_counter()
        r = c.post(f"{API}/runs/{run_id}/resume", json={"file": latest["file"], "restore": "everything"})
        r.raise_for_status()
        new_id = r.json()["id"]
        while True:
            new = c.get(f"{API}/runs/{new_id}").json()
            if new["epochs"] or new["status"] not in ("queued", "running"):
                break
            if time.perf_counter() - t_resume > 120:
                raise TimeoutError("resumed run did not start")
            time.sleep(0.01)
        t_first = time.perf_counter()
        assert new["epochs"], new
        return {
            "crash_to_first": t_first - t_crash,
            "crash_to_crashed": t_crashed - t_crash,
            "resume_to_first": t_first - t_resume,
            "first_seconds": new["epochs"][0]["seconds"],
            "file": latest["file"],
        }


def run(args) -> Report:
    rep = Report("training")
    nice = args.bare_nice if args.bare_nice is not None else int(os.environ.get("WORKER_NICE", 10))
    bare, app, runs, pairs = [], [], [], []
    with Server() as srv:
        srv.start()
        srv.wait_settled()
        rows = []
        for i in range(args.rounds):
            # Alternate, never at once: bare then app, app then bare, ...
            steps = ["bare", "app"] if i % 2 == 0 else ["app", "bare"]
            for step in steps:
                if step == "bare":
                    xs = bare_epochs(args.epochs, nice)[1:]
                    bare += xs
                    pairs.append(["bare", median(xs)])
                    rows.append([f"{i + 1}", "bare loop", ms(median(xs)), "", ""])
                else:
                    r = app_run(srv, args.epochs)
                    runs.append(r)
                    app += r["seconds"][1:]
                    pairs.append(["app", median(r["seconds"][1:])])
                    rows.append(
                        [
                            f"{i + 1}",
                            "app (API run)",
                            ms(median(r["seconds"][1:])),
                            ms(r["poll_wall"]),
                            ms(r["db_wall"]),
                        ]
                    )
        print(table(rows, ["round", "loop", "median epoch", "wall/epoch (poll)", "wall/epoch (db)"]))
        save = srv.checkpoint_seconds([r["id"] for r in runs])
        epoch = median(app)
        rep.row(
            "bare loop median epoch (epoch 1 skipped)", f"{ms(median(bare))}  (n={len(bare)}, nice {nice})"
        )
        rep.row("app median epoch 'seconds' (epoch 1 skipped)", f"{ms(epoch)}  (n={len(app)})")
        rep.row(
            f"app wall per epoch, POST..done seen ({POLL * 1000:.0f} ms poll)",
            ms(median([r["poll_wall"] for r in runs])),
        )
        rep.row("app wall per epoch, (finished-started)/epochs", ms(median([r["db_wall"] for r in runs])))
        rep.row(
            "checkpoint save median / p90",
            f"{ms(median(save))} / {ms(percentile(save, 90))}  (n={len(save)})",
        )
        trials = []
        for _ in range(args.crash_runs):
            t = crash_resume(srv, max(args.epochs, 60))
            if t:
                trials.append(t)
        if trials:
            print(
                table(
                    [
                        [
                            str(i + 1),
                            t["file"],
                            ms(t["crash_to_crashed"]),
                            ms(t["resume_to_first"]),
                            ms(t["crash_to_first"]),
                            ms(t["first_seconds"]),
                        ]
                        for i, t in enumerate(trials)
                    ],
                    [
                        "trial",
                        "resumed from",
                        "crash->crashed",
                        "resume POST->1st epoch",
                        "crash->1st epoch",
                        "1st epoch seconds",
                    ],
                )
            )
    # Each round's app median over the bare median run right next to it: a slow phase of the
    # shared machine then hits both sides of one ratio, instead of one side of the pooled medians.
    apps, bares = ([v for k, v in pairs if k == kind] for kind in ("app", "bare"))
    per_round = [a / b for a, b in zip(apps, bares, strict=True)]
    rep.row("per-round ratios app/bare", " ".join(f"{x:.2f}" for x in per_round))
    rep.row("pooled ratio (median app / median bare)", f"{epoch / median(bare):.2f}")
    rep.target(
        Target("training epoch ratio app/bare", median(per_round), "<=", TARGET, "median of per-round ratios")
    )
    rep.target(
        Target("checkpoint save / epoch", median(save) / epoch, "info", note="median save / median epoch")
    )
    if trials:
        lat = median([t["crash_to_first"] for t in trials])
        rep.row("crash -> first resumed epoch, median", f"{ms(lat)}  (n={len(trials)}, 10 ms poll)")
        rep.target(
            Target("crash->resumed epoch / epoch", lat / epoch, "info", note="median latency / median epoch")
        )
    return rep

"""resume_all: a learner crashes a run and presses "Resume all five": time until the state ledger
is complete, against the same six runs (five resumes and the reference) each timed alone.

Target: click -> full ledger / (sum of the runs alone / MAX_WORKERS) <= 1.15 with MAX_WORKERS=2,
i.e. the pool is kept full while the learner's limit lets only three wait at once. The runs
alone are measured on a second server with one worker and no paced places, so that each really
runs alone. At the form's pace the resumes take paced places (PACED_WORKERS), not cores; the
same click on a server without them (PACED_WORKERS=0: paced runs wait for MAX_WORKERS) is
measured beside it, for the difference."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from bench.common import API, Report, Server, Target, median

TARGET = 1.15
MODES = ("everything", "weights", "weights_optimizer", "no_scheduler", "no_rng")


def add_args(p) -> None:
    p.add_argument(
        "--ra-epochs", type=int, default=30, help="resume_all: epochs of the run (default 30, the form's)"
    )
    p.add_argument(
        "--ra-crash", type=int, default=22, help="resume_all: crash midway through this epoch (default 22)"
    )
    p.add_argument(
        "--ra-repeats", type=int, default=3, help="resume_all: repeats of the timed click (default 3)"
    )
    p.add_argument(
        "--ra-pace",
        type=int,
        default=150,
        help="resume_all: pause after each epoch in ms (default 150, the form's); also measured at 0",
    )


@contextmanager
def _learner(srv: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=srv.url, timeout=30, headers={"Origin": srv.url}) as c:
        c.get("/api/session")  # as the page does: runs need an established session
        yield c


def _crashed_run(c: httpx.Client, args, seed: int, pace: int) -> tuple[str, str]:
    body = {
        "epochs": args.ra_epochs,
        "checkpoint_every": 5,
        "pace_ms": pace,
        "seed": seed,
        "crash": "at_epoch",
        "crash_epoch": args.ra_crash,
    }
    run_id = c.post(f"{API}/runs", json=body).raise_for_status().json()["id"]
    while True:
        run = c.get(f"{API}/runs/{run_id}").json()
        if run["status"] not in ("queued", "running") and run["survivors"]:
            break
        time.sleep(0.1)
    latest = next(cp["file"] for cp in run["checkpoints"] if cp["latest"])
    return run_id, latest


def _six(srv: Server, run_id: str) -> list:
    return srv.query(
        "SELECT started, finished FROM runs WHERE status = 'done' AND (parent_id = ? OR (kind = "
        "'reference' AND reference_key = (SELECT reference_key FROM runs WHERE parent_id = ? LIMIT 1)))",
        run_id,
        run_id,
    )


def timed_click(srv: Server, args, seed: int, pace: int) -> tuple[float, float, float]:
    """Seconds from the Resume-all request to a ledger with every row compared; the six runs'
    own durations summed; and the span from the first start to the last end (both in the pool)."""
    with _learner(srv) as c:
        run_id, latest = _crashed_run(c, args, seed, pace)
        t0 = time.perf_counter()
        c.post(f"{API}/runs/{run_id}/resume-all", json={"file": latest}).raise_for_status()
        # Ten looks a second: the page itself follows its event stream at about three.
        while not c.get(f"{API}/runs/{run_id}/ledger").json()["complete"]:
            time.sleep(0.1)
        click = time.perf_counter() - t0
    rows = _six(srv, run_id)
    busy = sum(r["finished"] - r["started"] for r in rows)
    span = max(r["finished"] for r in rows) - min(r["started"] for r in rows)
    return click, busy, span


def alone_seconds(srv: Server, args, seed: int, pace: int) -> float:
    """The same six runs one after the other (one worker): the sum of their own durations."""
    with _learner(srv) as c:
        run_id, latest = _crashed_run(c, args, seed, pace)
        for mode in MODES:
            resumed = c.post(f"{API}/runs/{run_id}/resume", json={"file": latest, "restore": mode})
            resumed_id = resumed.raise_for_status().json()["id"]
            while c.get(f"{API}/runs/{resumed_id}").json()["status"] in ("queued", "running"):
                time.sleep(0.05)
    rows = _six(srv, run_id)
    assert len(rows) == len(MODES) + 1, len(rows)
    return sum(r["finished"] - r["started"] for r in rows)


def _settle(srv: Server) -> None:
    """Started, and no start-up job (pretraining the transfer sources) holds a worker."""
    srv.start()
    time.sleep(1)
    while srv.query("SELECT COUNT(*) AS n FROM runs WHERE status IN ('queued', 'running')")[0]["n"]:
        time.sleep(0.5)
    srv.wait_forkserver()


def run(args) -> Report:
    rep = Report("resume_all")
    # Both servers up at once, measured in turns, so that whatever else the machine does falls on
    # both sides alike. A seed per repeat: each click also pays for its own reference run, as a
    # learner's first resume does. At the form's pace (what a learner's click waits for), and at
    # pace 0, where a whole run takes a fraction of a second and start-up latency dominates.
    with (
        Server(env={"MAX_WORKERS": 2, "TRANSFER_PREWARM": "false"}) as pool,
        Server(env={"MAX_WORKERS": 2, "PACED_WORKERS": 0, "TRANSFER_PREWARM": "false"}) as unpaced,
        Server(env={"MAX_WORKERS": 1, "PACED_WORKERS": 0, "TRANSFER_PREWARM": "false"}) as single,
    ):
        # The server without paced places only matters for a paced click.
        for srv in (pool, unpaced, single) if args.ra_pace else (pool, single):
            _settle(srv)
        for n, pace in enumerate(dict.fromkeys((args.ra_pace, 0))):
            clicks, alones, pooled, without = [], [], [], []
            for i in range(args.ra_repeats):
                seed = 100 + 10 * n + i
                click, busy, span = timed_click(pool, args, seed, pace)
                clicks.append(click)
                pooled.append((busy, span))
                if pace:
                    without.append(timed_click(unpaced, args, seed, pace)[0])
                alones.append(alone_seconds(single, args, seed, pace))
            ratios = [c / (a / 2) for c, a in zip(clicks, alones, strict=True)]
            at = f"pace {pace} ms"
            rep.row(f"{at}: click -> full ledger (s)", ", ".join(f"{x:.2f}" for x in clicks))
            if without:
                rep.row(
                    f"{at}: the same click without paced places (PACED_WORKERS=0)",
                    ", ".join(f"{x:.2f}" for x in without)
                    + "  (ratio "
                    + ", ".join(f"{c / (a / 2):.2f}" for c, a in zip(without, alones, strict=True))
                    + ")",
                )
            rep.row(f"{at}: the six runs alone, summed (s)", ", ".join(f"{x:.2f}" for x in alones))
            rep.row(f"{at}: ratio of each pair", ", ".join(f"{x:.2f}" for x in ratios))
            detail = f"{args.ra_epochs} epochs, crash in epoch {args.ra_crash}, {at}"
            rep.target(
                Target(
                    "resume all: full ledger / (runs alone / 2 workers), median",
                    median(ratios),
                    "<=" if pace == args.ra_pace else "info",
                    TARGET,
                    detail,
                )
            )
            # Where the rest goes: how full the pool was kept (span vs the same runs' own
            # durations / 2), and how much slower a run is beside another than alone.
            rep.target(
                Target(
                    "resume all: pool span / (pooled runs' durations / 2), median",
                    median([span / (busy / 2) for busy, span in pooled]),
                    "info",
                    note=detail,
                )
            )
            rep.target(
                Target(
                    "resume all: a run beside another / alone (durations summed), median",
                    median([busy / alone for (busy, _), alone in zip(pooled, alones, strict=True)]),
                    "info",
                    note=detail,
                )
            )
    return rep

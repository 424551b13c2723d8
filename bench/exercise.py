"""exercise: one check of a checkpoint exercise ÷ one bare training run of the same length.

A check is train (learner's code) + SIGKILL + resume in a fresh process + compare, for the visible
and the hidden run, in one sandbox (references cached, as on a server that has answered once).
The bare run is a fresh `python` that imports torch and trains the same 8 epochs. Target: <= 2.5.
Also reported: the sandbox's start-up overhead (bubblewrap + interpreter + torch import, against
the same without bubblewrap) and a first check that computes its references too.
Run alone with `python -m bench.exercise`."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import REPO, Report, Target, median, table

TARGET = 2.5
BARE = """
import torch
torch.set_num_threads(1)
import sys; sys.path.insert(0, {repo!r})
from app.jobs import exercise_runner as r
X, y = r.data()
model, optimizer, scheduler = r.build(0)
for epoch in range(1, r.EPOCHS + 1):
    r.run_epoch(model, optimizer, scheduler, X, y, epoch)
"""


def add_args(p) -> None:
    p.add_argument(
        "--exercise-runs", type=int, default=5, help="exercise: timings of each kind (median taken)"
    )


def _timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        cmd,
        cwd=REPO,
        check=True,
        stdin=subprocess.DEVNULL,
        env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    )
    return time.perf_counter() - t0


def run(args) -> Report:
    from app.components.checkpoint_exercise import checker
    from app.components.checkpoint_exercise.exercises import EXERCISES
    from app.jobs import code_sandbox

    rep = Report("exercise")
    usable, why = code_sandbox.availability()
    if not usable:
        rep.row("bubblewrap", f"not usable: {why}")
        return rep
    limits = code_sandbox.Limits()
    ex = EXERCISES["resume"]
    with tempfile.TemporaryDirectory() as d:
        refs = checker.References(Path(d))
        t0 = time.perf_counter()
        first = checker.run_check(ex, ex["solution"], refs, limits)
        first_s = time.perf_counter() - t0
        assert first["status"] == "solved", first
        bare_cmd = [sys.executable, "-c", BARE.format(repo=str(REPO))]
        probe = code_sandbox.bwrap_args(limits.disk_mb())[:-3]  # up to the interpreter inside
        bare, check, startup, python_only, bwrap_only = [], [], [], [], []
        for i in range(args.exercise_runs):
            pair = [
                ("bare", lambda: bare.append(_timed(bare_cmd))),
                ("check", lambda: check.append(_check(checker, ex, refs, limits, startup))),
            ]
            for _, fn in pair if i % 2 == 0 else pair[::-1]:
                fn()
            python_only.append(_timed([sys.executable, "-c", "import torch, torch._dynamo"]))
            bwrap_only.append(_timed([*probe, "-c", "import torch, torch._dynamo"]))
    print(
        table(
            [
                [str(i + 1), f"{c:.2f} s", f"{b:.2f} s", f"{c / b:.2f}"]
                for i, (c, b) in enumerate(zip(check, bare, strict=True))
            ],
            ["run", "check", "bare run", "ratio"],
        )
    )
    ratio = median(check) / median(bare)
    rep.row("median check (2 runs: train, SIGKILL, resume, compare)", f"{median(check):.2f} s")
    rep.row("median bare run (fresh python, 8 epochs)", f"{median(bare):.2f} s")
    rep.row("first check, computing its references too", f"{first_s:.2f} s")
    rep.row("check start -> sandbox ready (torch imported)", f"{median(startup):.2f} s")
    rep.row(
        "bubblewrap overhead (import torch in/out of it)",
        f"{median(bwrap_only) - median(python_only):+.3f} s",
    )
    rep.target(Target("exercise check ÷ bare run", ratio, "<=", TARGET))
    rep.target(Target("sandbox start-up overhead, s", median(bwrap_only) - median(python_only), "info"))
    return rep


def _check(checker, ex, refs, limits, startup: list[float]) -> float:
    t0 = time.perf_counter()
    v = checker.run_check(ex, ex["solution"], refs, limits)
    assert v["status"] == "solved", v
    startup.append(v["timing"]["startup_s"])
    return time.perf_counter() - t0


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.exercise", description=__doc__)
    add_args(parser)
    report = run(parser.parse_args())
    for t in report.targets:
        print(t.line())

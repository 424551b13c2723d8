"""`python -m bench [NAME ...] [flags]`: run the named benchmarks (all when none is named).

--smoke runs each at tiny sizes, to show that it still runs to the end (its figures mean nothing
then), and exits non-zero if any failed. --record writes each one's figures to bench/results/.
--repeat N runs each N times and judges every target by the median of the N values."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import io
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path
from types import ModuleType
from typing import TextIO

from bench import record
from bench.common import Report, Server, shared_pretrained_dir
from bench.server import REPO, pretrain

BENCHES = [
    "startup",
    "pages",
    "training",
    "classroom",
    "transfer",
    "resume_all",
    "paced",
    "exercise",
    "distributed",
    "hostile",
    "sharded",
]
# Tiny sizes for --smoke: every code path of a benchmark, in a few seconds each (runs of at least
# 5 epochs: the benchmarks checkpoint every 5).
SMOKE: dict[str, dict[str, object]] = {
    "startup": {"runs": 1},
    "pages": {"clients": 3, "seconds": 1.0, "think": 0.2},
    "training": {"rounds": 1, "epochs": 5, "crash_runs": 1},
    "classroom": {
        "clients": 3,
        "run_epochs": 5,
        "idle_seconds": 1.0,
        "lone_runs": 1,
        "host_pace_epochs": 0,
        "crash_probes": 1,
        "timeout": 60.0,
    },
    "transfer": {"tl_clients": 3, "tl_seconds": 1.0, "tl_shots": 2, "tl_epochs": 2},
    "resume_all": {"ra_epochs": 6, "ra_crash": 6, "ra_repeats": 1, "ra_pace": 0},
    "paced": {"paced_learners": 2, "paced_epochs": 5, "paced_ms": 20, "paced_repeats": 1},
    "exercise": {"exercise_runs": 1},
    "distributed": {
        "dist_rounds": 1,
        "dist_epochs": 5,
        "dist_batch": 2,
        "dist_pair_rounds": 1,
        "dist_latency_epochs": 4,
    },
    "hostile": {"hs_saves": 2, "hs_kills": 1},
    "sharded": {"sharded_runs": 1, "sharded_class": 4, "sharded_sim_runs": 1, "sharded_epochs": 5},
}


class Tee(io.StringIO):
    """What a benchmark prints: shown as it comes, and kept for its results file."""

    def __init__(self, out: TextIO) -> None:
        super().__init__()
        self.out = out

    def write(self, s: str) -> int:
        self.out.write(s)
        return super().write(s)

    def flush(self) -> None:
        self.out.flush()


def median_report(reports: list[Report]) -> Report:
    """One report whose every target is the median of the runs' values (a noisy figure is judged
    by the median of several runs, each run's own figures printed above it)."""
    first = reports[0]
    targets = [
        dataclasses.replace(
            t,
            value=statistics.median(r.targets[i].value for r in reports),
            note=f"median of {len(reports)} runs: "
            + ", ".join(f"{r.targets[i].value:.2f}" for r in reports)
            + (f"; {t.note}" if t.note else ""),
        )
        for i, t in enumerate(first.targets)
    ]
    return Report(first.title, first.rows, targets)


def run_one(name: str, module: ModuleType, args: argparse.Namespace) -> Report:
    """Run one benchmark (--runs times), printing as it goes; with --record, write its results file."""
    if args.smoke:
        args = argparse.Namespace(**{**vars(args), **SMOKE[name]})
    real_stdout, tee = sys.stdout, Tee(sys.stdout)
    t0 = time.monotonic()
    sys.stdout = tee
    try:
        runs: list[Report] = []
        for i in range(1 if args.smoke else args.repeat):
            print(f"== {name}" + (f" (run {i + 1} of {args.repeat})" if args.repeat > 1 else ""), flush=True)
            runs.append(module.run(args))
            for t in runs[-1].targets:
                print(t.line(), flush=True)
        rep = median_report(runs) if len(runs) > 1 else runs[0]
        seconds = time.monotonic() - t0
        print(f"  ({seconds:.0f} s)")
        if len(runs) > 1:
            print(f"== {name}: the median of {len(runs)} runs")
            for t in rep.targets:
                print(t.line(), flush=True)
    finally:
        sys.stdout = real_stdout
    if args.record:
        print(f"  recorded in {record.write(rep, tee.getvalue(), seconds, args.results, args.smoke)}")
    return rep


def smoke_at_once(names: list[str], args: argparse.Namespace) -> list[str]:
    """--smoke of several benchmarks: each in a process of its own, all at once (most of their time
    is waiting for servers to start, and their figures are not read). The ones that failed."""
    extra = ["--record", "--results", str(args.results)] if args.record else []
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "bench", name, "--smoke", *extra],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name in names
    }
    failed = []
    for name, proc in procs.items():
        out, _ = proc.communicate()
        print(out, end="", flush=True)
        if proc.returncode:
            failed.append(name)
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"any of {', '.join(BENCHES)} (default: all)"
    )
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes, figures ignored; exit 1 if any benchmark fails"
    )
    parser.add_argument(
        "--record", action="store_true", help="write each benchmark's figures to RESULTS/<name>.md"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="run each benchmark N times; targets judge the median"
    )
    parser.add_argument(
        "--results", type=Path, default=record.RESULTS, help="where --record writes (default bench/results)"
    )
    modules = {name: importlib.import_module(f"bench.{name}") for name in BENCHES}
    for name, mod in modules.items():
        group = parser.add_argument_group(name, (mod.__doc__ or "").strip().splitlines()[0])
        mod.add_args(group)
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {BENCHES}")
    if args.smoke and args.record and args.results.resolve() == record.RESULTS:
        parser.error("a smoke run's figures are not measurements: --record them with --results elsewhere")
    names = args.names or BENCHES
    if args.smoke:
        Server.quick = True
        pretrain(shared_pretrained_dir())  # once per version of app/ml, kept in .cache
    t0 = time.monotonic()
    reports: list[Report] = []
    at_once = args.smoke and len(names) > 1
    failed = smoke_at_once(names, args) if at_once else []
    for name in [] if at_once else names:
        try:
            reports.append(run_one(name, modules[name], args))
        except Exception:
            traceback.print_exc()
            print(f"FAILED: bench {name}", flush=True)
            failed.append(name)
    if args.smoke and len(names) == 1:
        print(f"== smoke: {names[0]} {'FAILED' if failed else 'ran to the end'}")
    elif args.smoke:
        ok = len(names) - len(failed)
        print(f"== smoke: {ok} of {len(names)} ran to the end; failed: {', '.join(failed) or 'none'}")
        print(f"  ({time.monotonic() - t0:.0f} s; the figures above are not measurements)")
    if len(reports) > 1 and not args.smoke:
        print("== summary")
        for rep in reports:
            for t in rep.targets:
                print(t.line())
    # A missed target does not fail a build (the machine may be busy: read the OK / MISS lines);
    # a benchmark that cannot run to the end does.
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

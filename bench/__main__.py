"""`python -m bench [NAME ...] [flags]`: run the named benchmarks (all when none is named)."""

from __future__ import annotations

import argparse
import importlib
import sys
import time

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
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"any of {', '.join(BENCHES)} (default: all)"
    )
    modules = {name: importlib.import_module(f"bench.{name}") for name in BENCHES}
    for name, mod in modules.items():
        group = parser.add_argument_group(name, (mod.__doc__ or "").strip().splitlines()[0])
        mod.add_args(group)
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {BENCHES}")
    reports = []
    for name in args.names or BENCHES:
        print(f"== {name}", flush=True)
        t0 = time.monotonic()
        rep = modules[name].run(args)
        print(f"  ({time.monotonic() - t0:.0f} s)")
        for t in rep.targets:
            print(t.line(), flush=True)
        reports.append(rep)
    if len(reports) > 1:
        print("== summary")
        for rep in reports:
            for t in rep.targets:
                print(t.line())
    return 0  # a benchmark never fails a build: read the OK / MISS lines


if __name__ == "__main__":
    sys.exit(main())

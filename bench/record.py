"""`--record`: a benchmark's figures, as it printed them, into `bench/results/<name>.md`.

The file is replaced whole on every recorded run, and says where its figures come from (date,
commit, CPU model and core count, the command), so that nobody copies a figure by hand."""

from __future__ import annotations

import datetime
import platform
import subprocess
import sys
from pathlib import Path

from bench.common import REPO, Report, cores

RESULTS = REPO / "bench" / "results"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + (
        " with uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else ""
    )


def write(report: Report, output: str, seconds: float, folder: Path = RESULTS, smoke: bool = False) -> Path:
    """Replace `folder/<name>.md` with this run's targets and everything the benchmark printed."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# bench {report.title}",
        "",
        "Written by `python -m bench ... --record`; run it again to replace this file, never edit it.",
        "",
        "| | |",
        "|---|---|",
        f"| date | {now} |",
        f"| commit | {commit()} |",
        f"| CPU | {cpu_model()}, {cores()} cores |",
        f"| command | `python -m bench {' '.join(sys.argv[1:])}` |",
        f"| took | {seconds:.0f} s |",
        "",
        *(["**A smoke run (tiny sizes): its figures are not measurements.**", ""] if smoke else []),
        "## Targets",
        "",
    ]
    if report.targets:
        lines += ["| figure | value | target | |", "|---|---|---|---|"]
        for t in report.targets:
            goal = "none (for information)" if t.op == "info" else f"{t.op} {t.limit:g}"
            verdict = "" if t.op == "info" else ("OK" if t.ok else "MISS")
            note = f" ({t.note})" if t.note else ""
            lines.append(f"| {t.name}{note} | {t.value:.2f} | {goal} | {verdict} |")
    else:
        lines.append("None: this benchmark only reports.")
    lines += ["", "## What it printed", "", "```text", output.rstrip(), "```", ""]
    path = folder / f"{report.title}.md"
    path.write_text("\n".join(lines))
    return path

"""Shared pieces of the benchmarks: the server under test, /proc memory, percentiles, output."""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import httpx

from bench import server
from bench.server import shared_pretrained_dir

REPO = server.REPO

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CHAPTER = "/en/06-model-io-checkpoint"
EVENTS = "/components/checkpoint-simulator/events?lang=en"
API = "/api/checkpoint-simulator"


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class Server(server.Server):
    """The harness's server (bench/server.py) on a fresh DATA_DIR, with what benchmarks read of it:
    its start-up work, and read-only looks into its database."""

    # Smoke mode (`python -m bench --smoke`): the start-up work is left out (the pretrained sources
    # are shared, the load views are not answered ahead), since its figures are not read.
    quick: ClassVar[bool] = False

    def __init__(
        self,
        env: Mapping[str, object] | None = None,
        fresh_pretrained: bool = False,
        data_dir: Path | None = None,
    ) -> None:
        env = {"LOG_LEVEL": "warning", **(env or {})}
        if self.quick:
            env.setdefault("TRANSFER_PREWARM", "false")
        if self.quick or not fresh_pretrained:
            env.setdefault("PRETRAINED_DIR", str(shared_pretrained_dir()))
        super().__init__(data_dir=data_dir, env=env)

    def wait_forkserver(self, timeout: float = 60) -> None:
        """The forkserver warms up (imports torch) in the background; wait until it sits idle."""
        assert self.proc is not None, "start() first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = descendants(self.proc.pid)
            if len(pids) >= 2 and all(cpu_ticks(p) is not None for p in pids):
                t0 = sum(cpu_ticks(p) or 0 for p in pids)
                time.sleep(0.3)
                if sum(cpu_ticks(p) or 0 for p in pids) - t0 <= 2:
                    return
            time.sleep(0.2)

    def wait_settled(self, timeout: float = 180) -> float:
        """Until the start-up work is over (pretraining the transfer sources takes a worker slot
        for ~45 s on a fresh DATA_DIR, then its views are answered in the background), so that
        nothing measured shares the machine with it. Seconds waited."""
        t0 = time.monotonic()
        if self.quick:
            return 0.0
        with httpx.Client(base_url=self.url, timeout=10) as c:
            while time.monotonic() - t0 < timeout:
                if c.get("/api/transfer/options").json().get("all_views_ready"):
                    break
                time.sleep(0.5)
            else:
                raise RuntimeError("the server's start-up work did not end in time")
        self.wait_forkserver()
        return time.monotonic() - t0

    # --- read-only looks into the app's database ---
    def db(self) -> sqlite3.Connection:
        con = sqlite3.connect(f"file:{self.data_dir / 'lab.sqlite3'}?mode=ro", uri=True, timeout=5)
        con.row_factory = sqlite3.Row
        return con

    def query(self, sql: str, *args: object) -> list[sqlite3.Row]:
        con = self.db()
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def checkpoint_seconds(self, run_ids: list[str] | None = None) -> list[float]:
        rows = self.query("SELECT run_id, data FROM events WHERE kind='checkpoint'")
        return [json.loads(r["data"])["seconds"] for r in rows if run_ids is None or r["run_id"] in run_ids]


# --- /proc ---
def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(name))
    return kids


def descendants(pid: int) -> list[int]:
    """pid and all its descendants (server, forkserver, workers, sandboxes)."""
    kids = _children_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE_SIZE
    except (OSError, IndexError):
        return 0


def pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cpu_ticks(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError):
        return None


# --- numbers ---
def percentile(values: list[float], q: float) -> float:
    """Nearest-rank-with-interpolation percentile, q in [0, 100]."""
    if not values:
        return float("nan")
    xs = sorted(values)
    if len(xs) == 1:
        return xs[0]
    k = (len(xs) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    if k == lo or xs[hi] == xs[lo]:
        return xs[lo]  # also keeps an infinite value (a miss) from turning the result into nan
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def mib(n: float) -> str:
    return f"{n / 2**20:.0f} MiB"


@dataclass
class Target:
    name: str
    value: float
    op: str  # "<=", ">=", or "info" (no target: reported only)
    limit: float = 0.0
    note: str = ""

    @property
    def ok(self) -> bool:
        if self.op == "info":
            return True
        return self.value <= self.limit if self.op == "<=" else self.value >= self.limit

    def line(self) -> str:
        verdict = "OK" if self.ok else "MISS"
        note = f"  ({self.note})" if self.note else ""
        if self.op == "info":
            return f"{self.name}: {self.value:.2f} (no target, for information){note}"
        return f"{self.name}: {self.value:.2f} (target {self.op} {self.limit:g}) {verdict}{note}"


@dataclass
class Report:
    title: str
    rows: list[tuple[str, str]] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)

    def row(self, label: str, value: str) -> None:
        self.rows.append((label, value))
        print(f"  {label:<48} {value}", flush=True)

    def target(self, t: Target) -> None:
        self.targets.append(t)


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  " + "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    lines = [fmt.format(*header), "  " + "  ".join("-" * w for w in widths)]
    lines += [fmt.format(*map(str, r)) for r in rows]
    return "\n".join(lines)


def _times(pid: int) -> tuple[int, int]:
    """(own utime+stime, reaped children's cutime+cstime) in clock ticks."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])
    except (OSError, IndexError):
        return 0, 0


def tree_cpu(server_pid: int) -> tuple[float, float]:
    """CPU seconds so far of (the server process, everything below it). Workers are children of
    the forkserver, which reaps them, so their time is in its cutime once they have ended."""
    hz = os.sysconf("SC_CLK_TCK")
    own, _ = _times(server_pid)
    below = 0
    for pid in descendants(server_pid)[1:]:
        o, c = _times(pid)
        below += o + c
    return own / hz, below / hz


def self_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def machine_busy() -> float:
    """Busy CPU seconds of the whole machine so far (all processes, ours and others'), /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")

"""A sandbox for learners' code, torch-free on the server's side.

Every check is a fresh process tree under bubblewrap: its own user, PID, network (none), IPC and
UTS namespaces; the system, the Python installation, the virtualenv and the lesson's model and data
code (app/ml) mounted read-only; private, size-capped tmpfs at /check (the check's files), /tmp and
/dev/shm as the only writable places; a new session; killed with the server (--die-with-parent)
and by a wall-clock timeout. The checker's own code is not mounted: its modules, the job and the
learner's code go in on stdin (BOOT), read by the runner, process 1 of the sandbox, before any
learner code runs. DATA_DIR (run records, the session key) and the rest of the repository are
simply not there. The sandbox's processes are capped by RLIMIT_NPROC (set by the runner) and,
when the server runs as root (which that limit does not bind), by a pids cgroup of its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from app.jobs import sandbox_cgroup
from app.jobs.json_lines import JsonLines, TooLong
from app.jobs.sandbox_command import (
    BOOT,
    BWRAP,
    MODULES,
    REPO,
    SOURCE_INSIDE,
    _collisions,
    _interpreter,
    bundle,
    bwrap_args,
)

__all__ = ["MODULES", "Limits", "Outcome", "availability", "run"]


@dataclass(frozen=True)
class Limits:
    wall_s: float = 60.0  # the whole check
    phase_wall_s: float = 20.0  # one phase (train, resume)
    cpu_s: int = 20  # CPU seconds per phase process
    memory_mb: int = 512  # address space on top of what torch needs
    file_mb: int = 16  # largest file
    tmp_mb: int = 64  # all writable space: /check, and /tmp and /dev/shm carved out of it
    procs: int = 64  # processes and threads of the sandbox's user
    output_kb: int = 64  # printed output kept for the page
    output_max_kb: int = 1024  # printed output at most: past it the check is stopped

    def disk_mb(self) -> dict[str, int]:
        """The writable places and their sizes, which add up to tmp_mb."""
        tmp, shm = max(1, self.tmp_mb // 8), 1
        return {"/tmp": tmp, "/dev/shm": shm, "/check": max(1, self.tmp_mb - tmp - shm)}


@dataclass
class Outcome:
    events: list[dict] = field(default_factory=list)
    output: str = ""
    output_bytes: int = 0
    ended: str = "ok"  # ok | timeout | output | protocol | sandbox
    exit_code: int | None = None
    wall_s: float = 0.0
    first_event_s: float | None = None  # start-up: sandbox + interpreter + torch import

    def of(self, kind: str) -> list[dict]:
        return [e for e in self.events if e.get("ev") == kind]


ROOT_WHY = (
    "the server runs as root, where the process cap (RLIMIT_NPROC) does not bind, and no pids cgroup"
    " can be made here to cap the sandbox's processes instead: run the server as an ordinary user"
)


@lru_cache(maxsize=1)
def availability() -> tuple[bool, str]:
    """(usable, why not): bubblewrap present, allowed to make its namespaces here, a process cap
    that binds (as root: a pids cgroup), and the interpreter starting inside it (so a mount
    that hides it is found here, not by a learner)."""
    if not os.path.exists(BWRAP):
        return False, "bubblewrap (bwrap) is not installed"
    hidden = _collisions(_interpreter()[0])
    if hidden:
        return False, f"the interpreter lies under a path the sandbox mounts itself: {', '.join(hidden)}"
    if sandbox_cgroup.needed() and sandbox_cgroup.parent() is None:
        return False, ROOT_WHY
    probe = "import json, sys; print(json.dumps(sys.version_info[:2]))"
    cmd = [*bwrap_args(Limits().disk_mb())[:-2], "-c", probe]
    try:
        r = subprocess.run(cmd, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"bubblewrap could not start: {exc}"
    if r.returncode != 0 or r.stdout.strip() != json.dumps(list(sys.version_info[:2])).encode():
        why = r.stderr.decode(errors="replace").strip()[:300] or f"exit code {r.returncode}"
        return False, "the sandbox could not start Python: " + why
    return True, ""


def _kill(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # bwrap leads its own group; its children die with it


def _reap_namespace(info_r: int | None) -> None:
    """Kill the sandbox's init and wait until it is gone: the kernel kills every process of its
    PID namespace first, so nothing the learner started (a fork bomb's children) outlives it."""
    if info_r is None:
        return
    try:
        os.set_blocking(info_r, False)
        pid = int(json.loads(os.read(info_r, 4096).decode())["child-pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return
    end = time.monotonic() + 30
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < end:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break  # a zombie whose namespace is empty; its parent (bwrap) is reaped
        except OSError:
            break
        time.sleep(0.02)


def _read(proc: subprocess.Popen, limits: Limits, out: Outcome, t0: float, on_event: Any) -> None:
    """The protocol (stdout) and the printed output (stderr), until both end or a limit is hit."""
    assert proc.stdout is not None and proc.stderr is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, "proto")
    sel.register(proc.stderr, selectors.EVENT_READ, "output")
    printed, reader, streams = bytearray(), JsonLines(limit=32 * 1024 * 1024), 2
    try:
        while streams:
            left = limits.wall_s - (time.monotonic() - t0)
            if left <= 0:
                out.ended = "timeout"
                return
            for key, _ in sel.select(timeout=min(left, 1.0)):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    streams -= 1
                elif key.data == "output":
                    out.output_bytes += len(chunk)
                    printed += chunk[: max(0, limits.output_kb * 1024 - len(printed))]
                    if out.output_bytes > limits.output_max_kb * 1024:
                        out.ended = "output"
                        return
                else:
                    try:
                        events = reader.feed(chunk)
                    except TooLong:
                        out.ended = "protocol"
                        return
                    for event in events:
                        if out.first_event_s is None:
                            out.first_event_s = time.monotonic() - t0
                        out.events.append(event)
                        if on_event:
                            on_event(event)
    finally:
        sel.close()
        out.output = printed.decode("utf-8", errors="replace")


def run(
    job: dict,
    code: str,
    limits: Limits,
    on_event: Any = None,
    sandboxed: bool = True,
    source: str | None = None,
) -> Outcome:
    """Run one check in a fresh sandbox; blocks until it ends (call it from a worker thread).

    sandboxed=False runs the same runner without bubblewrap (rlimits and timeouts still apply):
    only for code assembled from the lesson's own lines (assemble mode), never for free code.
    source: a file mounted read-only at SOURCE_INSIDE (the transfer exercise's pretrained model)."""
    out = Outcome()
    job = {**job, "limits": {k: getattr(limits, k) for k in ("cpu_s", "memory_mb", "file_mb", "procs")}}
    job["limits"]["phase_wall_s"] = limits.phase_wall_s
    t0 = time.monotonic()
    cap = sandbox_cgroup.PidsCap(limits.procs) if sandboxed and sandbox_cgroup.needed() else None
    try:
        with tempfile.TemporaryDirectory(prefix="cl-check-") as root:
            _run(job, code, limits, out, t0, on_event, sandboxed, source, root, cap)
    finally:
        if cap is not None:
            cap.remove()
    return out


def _run(
    job: dict,
    code: str,
    limits: Limits,
    out: Outcome,
    t0: float,
    on_event: Any,
    sandboxed: bool,
    source: str | None,
    root: str,
    cap: sandbox_cgroup.PidsCap | None,
) -> None:
    info_r, info_w = os.pipe()  # bwrap writes {"child-pid": N}: the sandbox's init, seen from here
    fds = [info_w]
    if sandboxed:
        if source:
            fds.append(os.open(source, os.O_RDONLY))
            job["source"] = SOURCE_INSIDE
        cmd, lab = bwrap_args(limits.disk_mb(), info_w, fds[1] if source else None), "/lab"
        if cap is not None:
            cmd = cap.wrap(cmd)
    else:
        job.update(dir=root, **({"source": source} if source else {}))
        cmd, lab = [sys.executable, "-I", "-c", BOOT], str(REPO)
    try:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            close_fds=True,
            pass_fds=fds if sandboxed else (),
        )
    except OSError as exc:
        for fd in (info_r, *fds):
            os.close(fd)
        out.ended, out.output = "sandbox", str(exc)
        return
    for fd in fds:
        os.close(fd)
    assert proc.stdin is not None
    try:
        proc.stdin.write(bundle(job, code, lab))
        proc.stdin.close()
    except OSError:
        pass  # the sandbox did not start: what it printed says why
    try:
        _read(proc, limits, out, t0, on_event)
    finally:
        _kill(proc)
        proc.wait()
        _reap_namespace(info_r if sandboxed else None)
        os.close(info_r)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    out.exit_code = proc.returncode
    out.wall_s = time.monotonic() - t0
    if out.ended == "ok" and not out.of("done") and not out.events:
        out.ended = "sandbox"

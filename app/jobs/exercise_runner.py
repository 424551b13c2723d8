"""What runs inside the code sandbox for a checkpoint exercise (started by code_sandbox.py).

bubblewrap starts this runner as the sandbox's process 1 (`--as-pid-1`), with no file of the
checker's in the sandbox: its modules, the job and the learner's code arrive on stdin, read before
anything else (see code_sandbox.BOOT). It makes itself non-dumpable, so no other process of the
sandbox (same user) can open its /proc/1/fd and write the protocol in its name; it alone holds the
protocol stream (the sandbox's stdout). It imports torch once and forks one child per phase
(exercise_phases.py), so every phase starts fresh:

- a load exercise: a trusted child trains from a secret nudge (and runs the same nudged training
  uninterrupted: the check's reference) and is SIGKILLed mid-epoch; a child runs the learner's
  load on the checkpoint it left; a trusted child trains on from what was restored;
- the save exercise: the learner's save in the training child, the lesson's load after it, the
  reference from a trusted child forked before any learner code ran;
- the transfer exercise: the learner's partial load, judged by a trusted child.

A child that runs the learner's code reports on a pipe of its own, and only the events that phase
may send are relayed (PHASE_EVENTS); when it ends, every other process of the sandbox is killed,
so nothing the learner started outlives its phase. Limits (CPU time, address space, file size,
processes) are set before any learner code runs; whatever the learner prints goes to stderr.
"""

from __future__ import annotations

import contextlib
import os
import resource
import secrets
import select
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from app.jobs import exercise_phases as phases
from app.jobs.exercise_task import EPOCHS, build, data, run_epoch  # noqa: F401  (the bench's bare run)
from app.jobs.json_lines import JsonLines, TooLong

emit = phases.emit
# What a child that runs the learner's code may report; anything else it writes is dropped.
PHASE_EVENTS = {"save": {"mid_epoch", "saved", "error"}, "load": {"loaded", "error"}}
BLOCKED = {
    "os.system": "os.system",
    "subprocess.Popen": "subprocess",
    "os.posix_spawn": "os.posix_spawn",
    "os.exec": "os.exec*",
    "os.fork": "os.fork",
    "os.forkpty": "os.forkpty",
    "socket.connect": "the network",
    "socket.bind": "the network",
    "socket.sendto": "the network",
}
_JOB: dict = {}


def _audit(event: str, args: Any) -> None:
    if event in BLOCKED:
        raise PermissionError(f"{BLOCKED[event]} is not available in the exercise sandbox")


def limit_child(limits: dict) -> None:
    """Applied in each child before the learner's code runs (this process is trusted)."""
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_s"], limits["cpu_s"] + 1))
    with open("/proc/self/statm") as f:
        current = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    budget = current + limits["memory_mb"] * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (budget, budget))
    size = limits["file_mb"] * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an over-long write raises "File too large"


def _child(w: int, target: Callable, args: tuple, limits: dict, phase: str) -> None:
    """The forked child: its own protocol pipe, the other checks forgotten, limits, then the phase."""
    assert phases.PROTO is not None
    os.close(phases.PROTO.fileno())  # the runner's stream stays the runner's
    phases.PROTO = os.fdopen(w, "w")
    for c in _JOB.get("checks", []):
        if all(c is not a for a in args):
            c.clear()  # this child's copy: the other checks' seeds and crash epochs are not its business
    code = 0
    try:
        limit_child(limits)
        # A clear message for the usual attempts; the sandbox itself (no network, read-only
        # system, process cap) is what stops the ones that get around this hook.
        sys.addaudithook(_audit)
        target(*args)
    except MemoryError:
        message = "the code asked for more memory than the check allows"
        emit({"ev": "error", "phase": phase, "type": "MemoryError", "message": message, "line": None})
    except BaseException as exc:  # the learner's exception is the answer
        try:
            emit(phases.describe_error(exc, phase))
        except BaseException:
            code = 3
    finally:
        for stream in (sys.stdout, sys.stderr, phases.PROTO):
            with contextlib.suppress(BaseException):
                stream.flush()
        os._exit(code)


def _end_the_rest() -> None:
    """As the sandbox's process 1: kill every other process in it (what a learner's phase left
    running) and reap them all, orphans included."""
    if os.getpid() != 1:
        return
    while True:
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def run_child(
    target: Callable, args: tuple, limits: dict, phase: str, on_event: Callable | None = None
) -> tuple[list[dict], str]:
    """Fork a child for one phase; relay its events; returns (events, how it ended)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        _child(w, target, args, limits, phase)
    os.close(w)
    events: list[dict] = []
    ended, killed = "exit", False
    deadline = time.monotonic() + limits["phase_wall_s"]
    reader = JsonLines(limit=8 * 1024 * 1024)
    while not killed:
        left = deadline - time.monotonic()
        if left <= 0:
            ended, killed = "timeout", True
            break
        if not select.select([r], [], [], min(left, 1.0))[0]:
            continue
        chunk = os.read(r, 65536)
        if not chunk:
            break
        try:
            got = reader.feed(chunk)
        except TooLong:
            ended, killed = "protocol", True
            break
        for event in got:
            if phase in PHASE_EVENTS and event.get("ev") not in PHASE_EVENTS[phase]:
                continue
            events.append(event)
            if on_event and on_event(event) == "kill":
                ended, killed = "crashed", True  # the crash: SIGKILL, mid-epoch
                break
    if killed:
        os.kill(pid, signal.SIGKILL)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    if not killed and os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        names = {int(signal.SIGXCPU): "cpu", int(signal.SIGKILL): "killed", int(signal.SIGSEGV): "crash"}
        ended = names.get(sig, f"signal {sig}")
    elif not killed and os.WEXITSTATUS(status) != 0:
        ended = f"exit {os.WEXITSTATUS(status)}"
    if phase in PHASE_EVENTS:
        _end_the_rest()
    return events, ended


def load_phase(target: Callable, job: dict, check: dict, limits: dict) -> tuple[list[dict], str]:
    """The learner's loader in a child, after any state file of an earlier phase is gone (so only
    this phase's own file can be judged); its events are relayed but for "loaded", which the
    trusted phase after it reads."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(phases.state_path(check))
    events, ended = run_child(target, (job, check), limits, "load")
    for e in events:
        if e.get("ev") != "loaded":
            emit(e)
    return events, ended


def _failed(events: list[dict], ended: str) -> bool:
    return ended != "exit" or any(e.get("ev") == "error" for e in events)


def transfer_check(job: dict, check: dict, limits: dict) -> bool:
    events, ended = load_phase(phases.phase_transfer, job, check, limits)
    if not _failed(events, ended) and any(e.get("ev") == "loaded" for e in events):
        events, ended = run_child(phases.phase_transfer_judge, (job, check), limits, "judge")
        for e in events:
            emit(e)
    emit({"ev": "resume_end", "ended": ended, "s": 0})
    return not _failed(events, ended)


def resume_check(job: dict, check: dict, limits: dict) -> bool:
    saved: dict[int, dict] = {}

    def on_train(event: dict) -> str | None:
        if event.get("ev") == "saved":
            saved[event["epoch"]] = event["truth"]
        return "kill" if event.get("ev") == "mid_epoch" else None

    t = time.monotonic()
    phase = "save" if "save_checkpoint" in job["learner"] else "train"
    events, ended = run_child(phases.phase_train, (job, check), limits, phase, on_train)
    for e in events:
        if e.get("ev") != "saved":
            emit(e)
    emit({"ev": "train_end", "ended": ended, "saved": sorted(saved), "s": round(time.monotonic() - t, 3)})
    if ended != "crashed" or check["crash_after"] not in saved:
        return False
    t = time.monotonic()
    events, ended = load_phase(phases.phase_resume, job, check, limits)
    loaded = next((e for e in events if e.get("ev") == "loaded"), None)
    if not _failed(events, ended) and loaded is not None:
        # A fresh child that never ran the learner's code trains on from what was restored.
        bound = loaded.get("bound") is not False
        truth = saved[check["crash_after"]]
        events, ended = run_child(phases.phase_finish, (job, check, truth, bound), limits, "finish")
        for e in events:
            emit(e)
    emit({"ev": "resume_end", "ended": ended, "s": round(time.monotonic() - t, 3)})
    return not _failed(events, ended)


def main(bundle: dict) -> None:
    """The bundle: {"job": ..., "code": the learner's code} (modules already loaded by the boot)."""
    import ctypes

    # Not dumpable: the learner's processes (same user) cannot open /proc/1/fd and write to the
    # protocol stream behind this process's back. Inherited by the children.
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # process 1 takes no interrupt from a learner
    job = _JOB
    job.update(bundle.pop("job"))
    phases.LEARNER["code"] = bundle.pop("code", "")
    phases.CHECK = job.get("dir", phases.CHECK)
    # Protocol on the original stdout; anything printed later (the learner's too) goes to stderr.
    phases.PROTO = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    os.nice(10)  # like the training workers: the pages stay fast while checks run
    t0 = time.monotonic()
    import torch
    import torch._dynamo
    import torch.nn.functional

    import app.ml.data
    import app.ml.models

    if job.get("kind") == "transfer":
        import app.ml.backbones  # noqa: F401

    torch.set_num_threads(1)
    emit({"ev": "ready", "import_s": round(time.monotonic() - t0, 3)})
    limits = job["limits"]
    # A cap on processes: a fork bomb in the learner's code stops at it. The sandbox's user is
    # never the host's root (code_sandbox starts bubblewrap as an unprivileged user then), so
    # the cap binds; it is counted in the sandbox's own user namespace.
    resource.setrlimit(resource.RLIMIT_NPROC, (limits["procs"], limits["procs"]))
    for seed in job.get("references", []):
        events, ended = run_child(phases.phase_reference, (seed,), limits, "reference")
        for e in events:
            emit(e)
        if ended != "exit":
            emit({"ev": "failed", "phase": "reference", "ended": ended})
            return
    for n, check in enumerate(job["checks"]):
        names = {str(e): secrets.token_hex(8) for e in range(1, EPOCHS + 1)}
        check["names"] = {**names, "state": secrets.token_hex(8)}
        emit({"ev": "check", "index": n})
        one = transfer_check if job.get("kind") == "transfer" else resume_check
        if not one(job, check, limits):
            return
    emit({"ev": "done"})

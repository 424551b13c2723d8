"""The runs' processes: start one through the executor (this machine's forkserver, or a worker node
through Celery), read its events as types, and decide from its end whether it was done, the crash
the learner asked for, a failure, or lost. Nothing else: what the events mean for the records is
the run service's (app/jobs/manager.py), which `poll` hands them to, on its monitor thread alone.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import signal
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

from app.jobs.events import (
    Crash,
    Epoch,
    Event,
    Exited,
    Failed,
    Lost,
    Resumed,
    Started,
    Step,
    parse_event,
    unbatch,
)
from app.jobs.executors import Executor, Process
from app.jobs.protocol import Job, RunStatus

log = logging.getLogger(__name__)
DISK_FULL = "the disk is full: the checkpoint being written was not kept; the previous one is intact"


class Observer(Protocol):
    def on_events(self, run_id: str, events: list[Event]) -> None: ...  # one message's events, in order

    def on_end(self, run_id: str, ending: Ending) -> None: ...


@dataclass(frozen=True)
class Ending:
    status: RunStatus  # done, crashed, failed or interrupted
    error: str | None = None
    crash: Crash | None = None


@dataclass
class _Worker:
    job: Job
    proc: Process
    conn: Any  # the local process's pipe; None for a remote run (its events come via the inbox)
    crash: Crash | None = None  # announced by the run, or recorded by the Crash button
    error: str | None = None  # what the run reported before it failed
    step: int = 0  # the last step it reported: a crash that was not announced is placed there
    # The run closed its pipe (it is exiting): a closed pipe reads as always ready, so the wait
    # stops watching it and waits for the process to end instead of spinning.
    closed: bool = False
    node: str | None = None  # the worker node of a remote run


def ending(job: Job, code: int | None, crash: Crash | None, error: str | None, step: int) -> Ending:
    """How a run whose process exited with `code` ended. Decided from what is certain, not from
    which of two signals arrived first.

    A run announces a planned crash on its pipe and then SIGKILLs itself; the Crash button records
    one here before sending SIGKILL. Either record is proof of a crash, whatever exit status the
    forkserver reports (255 when it cannot tell), unless the run reported an error. An exit by
    SIGKILL of a run that was told to crash is one too, even if its announcement was lost with the
    process (its job says where it was to crash)."""
    if code == 0:
        return Ending(RunStatus.DONE)
    if crash is not None and error is None:
        return Ending(RunStatus.CRASHED, crash=crash)
    if code == -signal.SIGKILL:
        if job.crash_while_saving_at is not None:
            return Ending(RunStatus.CRASHED, crash=Crash("while_saving", job.crash_while_saving_at, step))
        if job.crash_at_epoch is not None:
            return Ending(RunStatus.CRASHED, crash=Crash("at_epoch", job.crash_at_epoch, step))
    if error is None and code == -signal.SIGXFSZ:  # a file grew past the size limit
        error = DISK_FULL
    return Ending(RunStatus.FAILED, error or f"the worker process ended unexpectedly (exit code {code})")


class Supervisor:
    def __init__(self, executor: Executor, observer: Observer) -> None:
        self.executor = executor
        self.observer = observer
        self._workers: dict[str, _Worker] = {}
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = multiprocessing.Pipe(duplex=False)
        # A remote executor's events, from its own thread, wait here for the monitor thread.
        self._inbox: deque[tuple[str, dict]] = deque()

    def start(self) -> None:
        self.executor.start(self._deliver)

    def stop(self) -> None:
        with self._lock:
            for w in self._workers.values():
                w.proc.kill()
        self.executor.stop()

    def wake(self) -> None:
        """Make `poll` return now (a run was queued, a place may be free)."""
        with contextlib.suppress(OSError):
            self._wake_w.send_bytes(b"!")

    def _deliver(self, run_id: str, event: dict) -> None:
        self._inbox.append((run_id, event))
        self.wake()

    # --- the runs ---
    def launch(self, job: Job) -> int | None:
        """Start the run's process; raises if the executor cannot (the run then waits again)."""
        proc, conn = self.executor.launch(job)
        with self._lock:
            self._workers[job.run_id] = _Worker(job, proc, conn, closed=conn is None)
        log.info("run %s (%s) started in pid %s", job.run_id, job.task, proc.pid)
        return proc.pid

    def crash(self, run_id: str, epoch: int, step: int) -> bool:
        """SIGKILL of exactly that run's process, recorded first as the learner's crash."""
        with self._lock:
            worker = self._workers.get(run_id)
            if worker is None:
                return False
            worker.crash = Crash("button", epoch, step)
            worker.proc.kill()  # the process gets no chance to save anything
        return True

    def running(self, run_id: str) -> bool:
        return run_id in self._workers

    def node(self, run_id: str) -> str | None:
        worker = self._workers.get(run_id)
        return worker.node if worker else None

    def count(self) -> int:
        return len(self._workers)

    # --- the monitor thread's wait ---
    def poll(self, timeout: float) -> None:
        """Wait up to `timeout` for events, ends or a wake-up, and hand on what came."""
        self._take_inbox()
        with self._lock:
            local = [w for w in self._workers.values() if w.conn is not None]
        conns = {w.conn: w for w in local if not w.closed}
        sentinels = {w.proc.sentinel: w for w in local}  # type: ignore[attr-defined]  # a local process
        ready = multiprocessing.connection.wait([self._wake_r, *conns, *sentinels], timeout=timeout)
        for obj in ready:
            if obj is self._wake_r:
                while self._wake_r.poll():
                    self._wake_r.recv_bytes()
            elif obj in conns:
                self._drain(conns[obj])
            elif obj in sentinels:
                self._finish(sentinels[obj])
        self._take_inbox()

    def _take_inbox(self) -> None:
        """A remote executor's events, in the order it read them; a run that already ended (a late
        or repeated event) is ignored."""
        while self._inbox:
            run_id, wire = self._inbox.popleft()
            worker = self._workers.get(run_id)
            if worker is not None:
                self._take(worker, [wire])

    def _drain(self, worker: _Worker) -> None:
        try:
            while worker.conn.poll():
                self._take(worker, unbatch(worker.conn.recv()))
        except (EOFError, OSError):
            worker.closed = True

    def _take(self, worker: _Worker, wires: list[dict]) -> None:
        events: list[Event] = []
        for wire in wires:
            try:
                event = parse_event(wire)
            except (KeyError, TypeError, ValueError):
                log.warning("run %s sent a malformed event: %.200r", worker.job.run_id, wire)
                continue
            match event:
                case Exited() | Lost():
                    if events:
                        self.observer.on_events(worker.job.run_id, events)
                    if isinstance(event, Lost):
                        self._end(worker, None, lost=event.reason)
                    else:
                        self._end(worker, event.code)
                    return
                case Crash():
                    worker.crash = event
                case Failed(error=error):
                    worker.error = error
                case Started(node=node):
                    worker.node = node
                case Step(step=step) | Epoch(step=step) | Resumed(step=step):
                    worker.step = step
            events.append(event)
        if events:
            self.observer.on_events(worker.job.run_id, events)

    def _finish(self, worker: _Worker) -> None:
        # The sentinel is ready, so the exit status is on its way; a loaded machine may take
        # more than a moment to hand it over.
        worker.proc.join(5)  # type: ignore[attr-defined]  # a local process
        self._drain(worker)
        worker.conn.close()
        self._end(worker, worker.proc.exitcode)  # type: ignore[attr-defined]

    def _end(self, worker: _Worker, code: int | None, lost: str | None = None) -> None:
        run_id = worker.job.run_id
        self.executor.forget(run_id)
        with self._lock:
            self._workers.pop(run_id, None)
        if lost:
            # Nothing is known of how it ended: like a run of a server that stopped, it can be
            # resumed from its last checkpoint on any node.
            result = Ending(RunStatus.INTERRUPTED, lost)
        else:
            result = ending(worker.job, code, worker.crash, worker.error, worker.step)
        self.observer.on_end(run_id, result)

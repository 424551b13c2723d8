"""WHERE a run's process runs, apart from the queue (scheduler.py) and the records (store.py).

The local executor is today's path: a process from the forkserver on this machine, its events on
a pipe that the supervisor waits on directly (no extra hop, no extra thread). A remote executor
(celery_executor.py) hands its events to `deliver` from a thread of its own; the supervisor picks
them up from there, so every event is still handled on the monitor thread alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from app.jobs import processes
from app.jobs.protocol import Job
from app.settings import Settings

# (run_id, event dict): a worker's own events, plus "started" {node, pid}, "exit" {code} and
# "lost" {reason} from a remote executor.
Deliver = Callable[[str, dict], None]


class NoRoom(RuntimeError):
    """No single node has room for all of a run's processes now (a remote executor's nodes each
    have their own slots): the run stays first in line and is tried again on the next round."""


class Process(Protocol):
    @property
    def pid(self) -> int | None: ...

    def kill(self) -> None: ...  # SIGKILL of exactly this run's process, wherever it runs


class Executor(Protocol):
    remote: bool

    def start(self, deliver: Deliver) -> None: ...

    def launch(self, job: Job) -> tuple[Process, Any]: ...  # (process, its pipe if local)

    def slots(self) -> int: ...  # runs it can take at once now (the manager also keeps MAX_WORKERS)

    def forget(self, run_id: str) -> None: ...  # the run ended: drop what was kept for it

    def stop(self) -> None: ...


class LocalExecutor:
    """The forkserver on this machine; the monitor waits on each process's pipe and sentinel."""

    remote = False

    def __init__(self, settings: Settings):
        self.threads = processes.TORCH_THREADS
        self.max_workers = settings.max_workers

    def start(self, deliver: Deliver) -> None:
        pass  # events come on the pipes, which the monitor waits on itself

    def launch(self, job: Job) -> tuple[Process, Any]:
        from app.jobs.entry import run_job

        ctx = processes.context(self.threads)
        receiver, sender = ctx.Pipe(duplex=False)
        proc = ctx.Process(
            target=run_job, args=(job.to_wire(), sender), name=f"train-{job.run_id}", daemon=True
        )
        proc.start()
        sender.close()
        return proc, receiver

    def slots(self) -> int:
        return self.max_workers

    def forget(self, run_id: str) -> None:
        pass

    def stop(self) -> None:
        pass


def make_executor(settings: Settings) -> Executor:
    if settings.job_backend == "celery":
        from app.jobs.celery_executor import CeleryExecutor

        return CeleryExecutor(settings)
    return LocalExecutor(settings)

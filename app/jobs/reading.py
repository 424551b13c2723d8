"""What the run service answers the web layer: its records (the store), and what is true now (the
live numbers, the queue, the processes) — the reading half of `JobBackend`."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

from app.jobs.protocol import Progress, QueueCounts, RunState
from app.jobs.records import EpochRow, Run, reference_key
from app.jobs.scheduler import Scheduler
from app.jobs.store import RunStore
from app.jobs.supervisor import Supervisor


class Reading:
    store: RunStore
    runs_dir: Path
    live: dict[str, Progress]
    scheduler: Scheduler
    supervisor: Supervisor
    _lock: threading.RLock

    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / run_id

    def run(self, run_id: str) -> Run | None:
        return self.store.get(run_id)

    def session_runs(self, session: str) -> list[Run]:
        return self.store.for_session(session)

    def lineage_runs(self, root_id: str) -> list[Run]:
        return self.store.lineage(root_id)

    def reference_run(self, config: dict) -> Run | None:
        return self.store.reference(reference_key(config))

    def epochs(self, run_id: str) -> list[EpochRow]:
        return self.store.epochs(run_id)

    def events(self, run_id: str, kind: str | None = None) -> list[dict]:
        return self.store.events(run_id, kind)

    def version(self, root_id: str) -> int:
        return self.store.version(root_id)

    def session_version(self, session: str) -> int:
        return self.store.session_version(session)

    def session_runs_version(self, session: str) -> int:
        return self.store.session_runs_version(session)

    def class_runs(self) -> list[Run]:
        """Every learner's first runs and resumes (not the shared references), oldest first."""
        return self.store.learner_runs()

    def class_version(self) -> int:
        return self.store.changes()

    # --- what the web layer reads now ---
    def queue_position(self, run_id: str) -> int | None:
        with self._lock:
            return self.scheduler.position(run_id)

    def queued(self) -> list[str]:
        """The waiting runs, full-speed line then paced line, each in the order they start."""
        with self._lock:
            return self.scheduler.queued()

    def is_running(self, run_id: str) -> bool:
        return self.supervisor.running(run_id)

    def queue_counts(self) -> QueueCounts:
        return QueueCounts(waiting=len(self.scheduler), training=self.supervisor.count())

    def status(self, run_id: str) -> RunState | None:
        run = self.store.get(run_id)
        if run is None:
            return None
        live = self.live.get(run_id)
        return RunState(
            run_id,
            run.status,
            self.queue_position(run_id),
            live.epoch if live else None,
            live.step if live else None,
            self.supervisor.node(run_id),
            live.pid if live else None,
        )

    def progress(self, run_id: str) -> Progress | None:
        # No lock: event streams ask on the event loop, several times a second. The copy may mix
        # two updates' numbers, as a read of the live object itself always could.
        live = self.live.get(run_id)
        return replace(live) if live else None

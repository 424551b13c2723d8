"""The run service's intake: a learner's (or a page's) request for a run, checked against the
scheduler's limits, recorded in the store as queued (or planned), and put in line."""

from __future__ import annotations

import secrets
import shutil
import threading
import time
from pathlib import Path

from app.jobs import sharded_tasks
from app.jobs.protocol import Run, RunOptions, RunStatus
from app.jobs.records import reference_id, reference_key
from app.jobs.scheduler import Scheduler
from app.jobs.store import RunStore
from app.jobs.supervisor import Supervisor
from app.settings import Settings


class Submitting:
    settings: Settings
    runs_dir: Path
    store: RunStore
    scheduler: Scheduler
    supervisor: Supervisor
    _lock: threading.RLock

    def submit(
        self,
        session: str | None,
        kind: str,
        config: dict,
        options: RunOptions | dict | None = None,
        *,
        run_id: str | None = None,
        first: bool = False,
    ) -> Run:
        if kind == "train" and session is not None:
            return self.submit_train(session, config, options)
        if kind == sharded_tasks.KIND:
            # Checked here, not in the job's process: a bad config is refused, never queued. Its
            # ranks get the memory every lab sandbox gets.
            config = {**sharded_tasks.parse(config), "memory_mb": self.settings.inspect_memory_mb}
        return self.submit_job(session, kind, config, run_id=run_id, first=first)

    def submit_train(self, session: str, config: dict, options: RunOptions | dict | None) -> Run:
        sched = self.scheduler
        with self._lock:
            sched.check_active(self.store.count_active(session))
            sched.check_epochs(int(config["epochs"]))
            sched.check_stored(self.store.count_roots(session))
            sched.check_queue()
            run_id = secrets.token_urlsafe(12)
            return self._new_run(run_id, session, "train", config, RunOptions.parse(options), root=run_id)

    def submit_resume(
        self,
        session: str,
        source: Run,
        checkpoint: Path,
        epoch: int,
        restore: str,
        prediction: dict | None = None,
    ) -> Run:
        with self._lock:
            self.scheduler.check_active(self.store.count_active(session))
            self.scheduler.check_queue()
            self.ensure_reference(source.config)
            return self._new_resume(session, source, checkpoint, epoch, restore, prediction, RunStatus.QUEUED)

    def submit_resume_all(
        self,
        session: str,
        source: Run,
        checkpoint: Path,
        epoch: int,
        modes: list[str],
        predictions: dict[str, dict] | None = None,
    ) -> list[Run]:
        """One resume per restore mode from one checkpoint. As many as the learner's limit allows
        are queued now; the rest wait as "planned" and are queued as the learner's runs end, so a
        learner never holds more places in line than anyone else."""
        predictions = predictions or {}
        with self._lock:
            self.scheduler.check_planned(self.store.count_status(session, RunStatus.PLANNED))
            active = self.store.count_active(session)
            self.scheduler.check_active(active)
            self.scheduler.check_queue()
            self.ensure_reference(source.config)
            room = self.settings.max_active_runs_per_session - active
            return [
                self._new_resume(
                    session,
                    source,
                    checkpoint,
                    epoch,
                    mode,
                    predictions.get(mode),
                    RunStatus.QUEUED if i < room else RunStatus.PLANNED,
                )
                for i, mode in enumerate(modes)
            ]

    def _new_resume(
        self,
        session: str,
        source: Run,
        checkpoint: Path,
        epoch: int,
        restore: str,
        prediction: dict | None,
        status: RunStatus,
    ) -> Run:
        options = RunOptions(
            pace_ms=source.options.pace_ms,
            checkpoint=str(checkpoint.relative_to(self.runs_dir)),
            from_run=source.id,
            from_epoch=epoch,
            restore=restore,
            prediction=prediction or None,
        )
        return self._new_run(
            secrets.token_urlsafe(12),
            session,
            "resume",
            source.config,
            options,
            parent=source.id,
            root=source.root_id,
            ref=reference_key(source.config),
            status=status,
        )

    def _promote_planned(self, session: str | None) -> None:
        """Queue a learner's planned resumes while their limit has room (oldest first)."""
        if session is None:
            return
        with self._lock:
            room = self.settings.max_active_runs_per_session - self.store.count_active(session)
            for run in self.store.with_status(session, RunStatus.PLANNED)[: max(room, 0)]:
                self.store.update(run.id, status=RunStatus.QUEUED)
                self._enqueue(run)

    def submit_job(
        self, session: str | None, kind: str, config: dict, run_id: str | None = None, first: bool = False
    ) -> Run:
        """Any other kind of background job (pretraining, fine-tuning) through the same pool."""
        with self._lock:
            if session is not None:
                self.scheduler.check_active(self.store.count_active(session))
            self.scheduler.check_queue()
            run_id = run_id or secrets.token_urlsafe(12)
            if isinstance(config.get("pretrained"), str):
                # Kept as a name inside PRETRAINED_DIR: the run's config is shown to the learner,
                # and no response may carry a path of the server's disk.
                config = {**config, "pretrained": Path(config["pretrained"]).name}
            return self._new_run(run_id, session, kind, config, RunOptions(), root=run_id, first=first)

    def ensure_reference(self, config: dict) -> Run:
        """The uninterrupted run a resume is judged against: one per config, shared, cached."""
        key = reference_key(config)
        with self._lock:
            existing = self.store.reference(key)
            if existing:
                return existing
            run_id = reference_id(config)
            # A stale record of an earlier failed or deleted reference gives way to a new one.
            self.store.delete_lineage(run_id)
            shutil.rmtree(self.runs_dir / run_id, ignore_errors=True)
            return self._new_run(run_id, None, "reference", config, RunOptions(), root=run_id, ref=key)

    def note_address(self, session: str, address: str) -> None:
        with self._lock:
            self.scheduler.note_address(session, address)

    def _new_run(
        self,
        run_id: str,
        session: str | None,
        kind: str,
        config: dict,
        options: RunOptions,
        root: str,
        parent: str | None = None,
        ref: str | None = None,
        status: RunStatus = RunStatus.QUEUED,
        first: bool = False,
    ) -> Run:
        if status is RunStatus.QUEUED:
            self.scheduler.check_address(session)
        run = Run(
            run_id,
            session,
            kind,
            config,
            options,
            status,
            parent,
            root,
            ref,
            None,
            None,
            time.time(),
            None,
            None,
        )
        self.store.add(run)
        if status is RunStatus.QUEUED:
            self._enqueue(run, first)
        return run

    def _enqueue(self, run: Run, first: bool = False) -> None:
        self.scheduler.add(run.id, run.session, run.kind, run.options.pace_ms, first, places_of(run))
        self.supervisor.wake()


def places_of(run: Run) -> int:
    """The full-speed places a run holds while it runs: one, or a sharded experiment's ranks."""
    return sharded_tasks.places(run.config) if run.kind == sharded_tasks.KIND else 1

"""The run service: the job system behind `JobBackend`, on one machine's SQLite.

It ties the parts together. What a learner asks (submit, resume one or all, crash, cancel, delete)
is checked against the limits and put in line by the scheduler (app/jobs/scheduler.py), recorded in
the store (app/jobs/store.py), started by the supervisor (app/jobs/supervisor.py) as places free up;
each run's events become live numbers (memory) and records (SQLite), and its end a status. One
monitor thread does the starting and the event handling; the upkeep (app/jobs/upkeep.py) compares
finished resumes, keeps the disk under its cap and lets idle sessions go.
"""

from __future__ import annotations

import logging
import threading
import time

from app.jobs import processes
from app.jobs.events import Checkpoint, Done, Epoch, Event, Recorded, Resumed, Started, Step
from app.jobs.executors import NoRoom, make_executor
from app.jobs.protocol import (
    Job,
    LimitReached,
    NotAllowed,
    Progress,
    Resume,
    RunStatus,
)
from app.jobs.reading import Reading
from app.jobs.records import EpochRow, Run, reference_key
from app.jobs.scheduler import Limits, Scheduler
from app.jobs.store import RunStore
from app.jobs.submitting import Submitting, places_of
from app.jobs.supervisor import Ending, Supervisor
from app.jobs.upkeep import Upkeep
from app.settings import Settings

__all__ = ["JobManager", "LimitReached", "NotAllowed", "reference_key"]
log = logging.getLogger(__name__)


class JobManager(Submitting, Reading):
    EXPIRE_EVERY_S = 600.0

    def __init__(self, settings: Settings, store: RunStore | None = None) -> None:
        s = self.settings = settings
        self.runs_dir = settings.runs_dir
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.store = store or RunStore(settings.db_path)
        self.live: dict[str, Progress] = {}
        self.scheduler = Scheduler(
            Limits(
                queue_max=s.queue_max,
                queue_per_address=s.queue_per_address,
                active_per_session=s.max_active_runs_per_session,
                max_epochs=s.max_epochs,
                stored_per_session=s.max_stored_runs_per_session,
                paced_places=s.paced_places,
            )
        )
        # WHERE runs run: this machine's forkserver, or worker nodes through Celery.
        self.executor = make_executor(settings)
        self.supervisor = Supervisor(self.executor, self)
        self.upkeep = Upkeep(settings, self.store, self.delete)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- life cycle ---
    def start(self) -> None:
        interrupted = self.store.mark_interrupted()
        if interrupted:
            log.warning("%d runs were active when the server stopped; marked interrupted", interrupted)
        # Planned resumes never started: they survive a restart and are queued as room allows.
        for session in self.store.sessions_with_status(RunStatus.PLANNED):
            self._promote_planned(session)
        self.supervisor.start()
        self._thread = threading.Thread(target=self._monitor, name="job-monitor", daemon=True)
        self._thread.start()
        threading.Thread(
            target=processes.warm_up,
            args=(processes.TORCH_THREADS,),
            name="forkserver-warm-up",
            daemon=True,
        ).start()

    def stop(self) -> None:
        self._stop.set()
        self.supervisor.wake()
        if self._thread:
            self._thread.join(5)
        self.supervisor.stop()
        self.upkeep.stop()

    def expire_idle(self, now: float | None = None) -> int:
        """Remove the runs and files of sessions idle for SESSION_TTL_DAYS (upkeep.py)."""
        return self.upkeep.expire_idle(now)

    def _monitor(self) -> None:
        next_expiry = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_expiry:
                    next_expiry = time.monotonic() + self.EXPIRE_EVERY_S
                    self.expire_idle()
                self._fill_places()
                self.supervisor.poll(timeout=1.0)
            except Exception:  # the monitor must outlive any single bad event
                log.exception("job monitor error")
                time.sleep(0.5)

    def cancel(self, run_id: str) -> bool:
        """Take a run out of the queue (or out of a planned set) before it starts; it ends as
        interrupted (it never ran)."""
        with self._lock:
            if not self.scheduler.remove(run_id):
                run = self.store.get(run_id)
                if run is None or run.status is not RunStatus.PLANNED:
                    return False
            self.store.update(
                run_id,
                status=RunStatus.INTERRUPTED,
                finished=time.time(),
                error="cancelled while waiting in the queue",
            )
            return True

    def crash(self, run_id: str) -> None:
        with self._lock:
            if not self.supervisor.running(run_id) and self.cancel(run_id):
                return  # a waiting run: crashing it means it never starts
            live = self.live.get(run_id, Progress())
            if not self.supervisor.crash(run_id, live.epoch, live.step):
                raise NotAllowed("only a run that is training can crash")

    def delete(self, root_id: str) -> None:
        with self._lock:
            for r in self.store.lineage(root_id):
                if r.status in (RunStatus.QUEUED, RunStatus.PLANNED):
                    self.cancel(r.id)  # the learner's own waiting runs go with the lineage
            if any(r.active for r in self.store.lineage(root_id)):
                raise NotAllowed("a run that is waiting or training cannot be deleted; crash it first")
            for run_id in self.store.delete_lineage(root_id):
                self.upkeep.remove_files(run_id)
                self.live.pop(run_id, None)

    # --- starting runs (the monitor thread) ---
    def _fill_places(self) -> None:
        """Start waiting runs while places of their kind are free. A remote executor's places are
        the worker nodes' that answer now: with none, runs wait here in line (and show their
        place) rather than in Celery's queue."""
        while True:
            with self._lock:
                waiting = self.scheduler.take(min(self.settings.max_workers, self.executor.slots()))
                if waiting is None:
                    return
                run = self.store.get(waiting.run_id)
                if run is None or run.status is not RunStatus.QUEUED:
                    self.scheduler.release(waiting.run_id)
                    continue
            try:
                # Outside the lock: the very first start waits for the forkserver to import torch,
                # and submitting or crashing other runs must not wait for that.
                pid = self.supervisor.launch(self.job_for(run))
            except NoRoom as exc:  # no node has room for all its ranks yet: an ordinary wait
                log.debug("run %s waits first in line: %s", run.id, exc)
                with self._lock:
                    self.scheduler.put_back(waiting)
                return
            except Exception:
                # Not handed over (Redis unreachable for a remote executor): the run keeps its
                # place at the head of the line and is tried again on the next round.
                log.exception("run %s could not be started; it stays first in line", run.id)
                with self._lock:
                    self.scheduler.put_back(waiting)
                return
            with self._lock:
                self.live[run.id] = Progress(epoch=run.options.from_epoch, pid=pid)
                self.store.update(run.id, status=RunStatus.RUNNING, started=time.time())

    def job_for(self, run: Run) -> Job:
        o = run.options
        resume = None
        if run.kind == "resume" and o.checkpoint and o.restore:
            resume = Resume(checkpoint=str(self.runs_dir / o.checkpoint), restore=o.restore)
        return Job(
            task=run.kind,
            run_id=run.id,
            run_dir=str(self.run_dir(run.id)),
            config=run.config,
            pace_ms=o.pace_ms,
            crash_at_epoch=o.crash.epoch if o.crash.how == "at_epoch" else None,
            crash_while_saving_at=o.crash.epoch if o.crash.how == "while_saving" else None,
            threads=processes.TORCH_THREADS,
            nice=processes.WORKER_NICE,
            pretrained_dir=str(self.settings.pretrained_path),
            resume=resume,
            places=places_of(run),
        )

    # --- what the runs' processes tell (the supervisor, on the monitor thread) ---
    def on_events(self, run_id: str, events: list[Event]) -> None:
        with self.store.batch():  # a burst of epochs: one commit
            for event in events:
                self._handle(run_id, event)

    def _handle(self, run_id: str, event: Event) -> None:
        live = self.live.setdefault(run_id, Progress())
        live.updated = time.time()
        match event:
            case Step():
                live.step, live.loss, live.lr = event.step, event.loss, event.lr
                live.epoch = max(live.epoch, event.epoch - 1)
            case Epoch():
                live.epoch, live.step, live.loss, live.lr = event.epoch, event.step, event.loss, event.lr
                live.acc, live.val_loss = event.acc, event.val_loss
                row = EpochRow(
                    event.epoch,
                    event.loss,
                    event.acc,
                    event.lr,
                    event.seconds,
                    event.step,
                    event.step_losses,
                    event.order_head,
                    event.val_loss,
                )
                self.store.add_epoch(run_id, row)
            case Checkpoint(data=data):
                self.store.add_event(run_id, "checkpoint", data)
            case Resumed():
                live.epoch, live.step = event.epoch, event.step
            case Done():
                self.store.update(run_id, final_hash=event.weights_hash)
            case Recorded(kind=kind, data=data):
                self.store.add_event(run_id, kind, data)
            case Started():  # a remote run started: on which node, in which process
                live.node, live.pid = event.node, event.pid

    def on_end(self, run_id: str, ending: Ending) -> None:
        with self._lock:
            self.scheduler.release(run_id)
            self.live.pop(run_id, None)  # only active runs have live numbers
        fields: dict = {"finished": time.time(), "status": ending.status}
        if ending.error is not None:
            fields["error"] = ending.error
        if ending.crash is not None:
            self.store.add_event(run_id, "crash", ending.crash.to_dict())
        self.store.update(run_id, **fields)
        if ending.status is RunStatus.FAILED:  # an operator (and a test's report) should see why
            log.warning("run %s ended: failed: %s", run_id, ending.error)
        else:
            log.info("run %s ended: %s", run_id, ending.status)
        run = self.store.get(run_id)
        if run is None:
            return
        self._promote_planned(run.session)
        if ending.status is RunStatus.DONE:
            self.upkeep.compare(run)
        elif ending.status is RunStatus.CRASHED:
            self.upkeep.check_survivors(run_id)
            if run.kind in ("train", "resume"):
                self._warm_reference(run)
        self.upkeep.enforce_disk_cap(run_id, keep_root=run.root_id)

    def _warm_reference(self, run: Run) -> None:
        """After a crash the learner resumes, and every resume is judged against the uninterrupted
        reference run: start it now if a full-speed place would otherwise sit idle, so that it is
        done, or nearly, when the resumes need it. Never ahead of anyone's waiting run."""
        with self._lock:
            full = min(self.settings.max_workers, self.executor.slots())
            idle = not self.scheduler.waiting(paced=False) and self.scheduler.free(full)[False] > 0
        if idle and self.store.reference(reference_key(run.config)) is None:
            ref = self.ensure_reference(run.config)
            log.info(
                "run %s crashed on an idle pool: reference %s started ahead of its resumes", run.id, ref.id
            )

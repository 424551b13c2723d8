"""The job manager: a bounded pool of training worker processes fed from a queue.

One monitor thread owns every worker's pipe and exit: it forwards progress into memory (live
view) and SQLite (what must survive), starts queued runs as slots free up, and tells a deliberate
crash (SIGKILL from the learner) from a worker that died on its own.
"""

from __future__ import annotations

import logging
import multiprocessing.connection
import os
import secrets
import select
import shutil
import threading
import time
from collections import OrderedDict, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from app.jobs import processes
from app.jobs.executors import make_executor
from app.jobs.protocol import (
    RECORDED_KINDS,
    Job,
    LimitReached,
    NotAllowed,
    Progress,
    Resume,
    RunStatus,
    unbatch,
)
from app.jobs.records import EpochRow, Run, reference_id, reference_key
from app.jobs.store import RunStore
from app.jobs.tasks import compare_finals, verify_run_files
from app.ml import layout
from app.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class _Worker:
    run_id: str
    proc: object  # a local process, or a handle whose kill() reaches the run's process on its node
    conn: object  # the local process's pipe; None for a remote run (its events come via the inbox)
    crash: dict | None = None
    error: str | None = None
    # The worker closed its pipe (it is exiting): a closed pipe reads as always ready, so the
    # monitor stops waiting on it and waits for the process to end instead of spinning.
    closed: bool = False
    node: str | None = None  # the worker node of a remote run
    paced: bool = False  # holds one of PACED_WORKERS' places, not a core (see PACED_MIN_MS)
    _pipe_poll: object = field(default=None, repr=False)  # has_data's poll set, made on first use

    @property
    def local(self) -> bool:
        return self.conn is not None

    def has_data(self) -> bool:
        """A message (or the pipe's end) is waiting. Connection.poll() would build and fill a new
        selector on each call: one syscall on a poll set made once does the same."""
        if self._pipe_poll is None:
            self._pipe_poll = select.poll()
            self._pipe_poll.register(self.conn.fileno(), select.POLLIN)
        return bool(self._pipe_poll.poll(0))


class _Waiter:
    """The monitor's wait on its pipes and process sentinels, on one poll set kept from wait to
    wait. multiprocessing.connection.wait builds and fills a new selector on every call, and the
    monitor waits ~30 times a run: a tenth of its CPU went there."""

    def __init__(self):
        self._poll = select.poll()
        self._by_fd: dict[int, object] = {}

    def wait(self, objects: list, timeout: float) -> list:
        wanted = {(o if isinstance(o, int) else o.fileno()): o for o in objects}
        for fd in self._by_fd.keys() - wanted.keys():
            self._poll.unregister(fd)
        for fd in wanted.keys() - self._by_fd.keys():
            self._poll.register(fd, select.POLLIN)
        self._by_fd = wanted
        # Any event counts, as in multiprocessing's wait: a hang-up or an error is read (EOF) next.
        return [wanted[fd] for fd, _ in self._poll.poll(timeout * 1000)]


# A run at a watching pace sleeps most of its time: the form's 150 ms after each epoch of ~10 ms
# of training. It holds a process, hardly a core, so runs paced at least this much have
# PACED_WORKERS places of their own beside MAX_WORKERS' full-speed ones: a class watching its
# runs at the form's pace is not kept in line by sleeping processes, and "resume all five" runs
# three at once (the learner's limit) instead of two. Full-speed work (no pace, the reference,
# pretraining) still gets a core each. On worker nodes (Celery) every run takes a node's slot.
PACED_MIN_MS = 100

# Events that other kinds of jobs (pretraining, fine-tuning) report and the pages read back.
RECORDED_EVENTS = RECORDED_KINDS


class JobManager:
    def __init__(self, settings: Settings, store: RunStore | None = None):
        self.settings = settings
        self.runs_dir = settings.runs_dir
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.store = store or RunStore(settings.db_path)
        self.live: dict[str, Progress] = {}
        self._queue: deque[str] = deque()
        # Fairness without accounts: the client address each session was last seen from (the
        # web layer tells us), to cap queued places per address (QUEUE_PER_ADDRESS).
        self._addresses: OrderedDict[str, str] = OrderedDict()
        self._owners: dict[str, str] = {}  # queued run -> its session (a cache of the store)
        self._paced: set[str] = set()  # queued runs that wait for a paced place
        self._workers: dict[str, _Worker] = {}
        self._starting = {False: 0, True: 0}  # launches under way, by paced or not
        self._lock = threading.RLock()
        self._wake_r, self._wake_w = multiprocessing.Pipe(duplex=False)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._checks = ThreadPoolExecutor(max_workers=1, thread_name_prefix="verify")
        # Bytes under runs_dir: walked once, then kept up to date as runs end and lineages go,
        # so that a run's end does not cost a walk over every file the server ever kept.
        self._disk_used: int | None = None
        # WHERE runs run (this machine's forkserver, or worker nodes through Celery); a remote
        # executor's events wait here for the monitor thread, which alone handles events.
        self.executor = make_executor(settings)
        self._inbox: deque[tuple[str, dict]] = deque()

    # --- life cycle ---
    def start(self) -> None:
        interrupted = self.store.mark_interrupted()
        if interrupted:
            log.warning("%d runs were active when the server stopped; marked interrupted", interrupted)
        # Planned resumes never started: they survive a restart and are queued as room allows.
        for session in self.store.sessions_with_status("planned"):
            self._promote_planned(session)
        self.executor.start(self._deliver)
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
        self._wake()
        if self._thread:
            self._thread.join(5)
        with self._lock:
            for w in self._workers.values():
                w.proc.kill()
        self.executor.stop()
        self._checks.shutdown(wait=False, cancel_futures=True)

    def _deliver(self, run_id: str, event: dict) -> None:
        """A remote executor's events, from its own thread: queued for the monitor thread."""
        self._inbox.append((run_id, event))
        self._wake()

    def _wake(self) -> None:
        try:
            self._wake_w.send_bytes(b"!")
        except OSError:
            pass

    # --- queries ---
    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / run_id

    def queue_position(self, run_id: str) -> int | None:
        """Place among the runs waiting for the same kind of place (paced or full speed)."""
        with self._lock:
            paced = run_id in self._paced
            place = 0
            for rid in self._queue:
                if (rid in self._paced) == paced:
                    place += 1
                if rid == run_id:
                    return place
            return None

    def is_running(self, run_id: str) -> bool:
        with self._lock:
            return run_id in self._workers

    # --- the JobBackend interface (app/jobs/protocol.py) ---
    def submit(
        self,
        session: str | None,
        kind: str,
        config: dict,
        options: dict | None = None,
        *,
        run_id: str | None = None,
        first: bool = False,
    ) -> Run:
        if kind == "train":
            return self.submit_train(session, config, options or {})
        return self.submit_job(session, kind, config, run_id=run_id, first=first)

    def status(self, run_id: str) -> RunStatus | None:
        run = self.store.get(run_id)
        if run is None:
            return None
        with self._lock:
            live, worker = self.live.get(run_id), self._workers.get(run_id)
            return RunStatus(
                run_id,
                run.status,
                self.queue_position(run_id),
                live.epoch if live else None,
                live.step if live else None,
                worker.node if worker else None,
                live.pid if live else None,
            )

    def events(self, run_id: str, kind: str | None = None) -> list[dict]:
        return self.store.events(run_id, kind)

    def progress(self, run_id: str) -> Progress | None:
        # No lock: event streams ask on the event loop, several times a second, and the lock may
        # be held across SQLite writes. The copy may mix two updates' numbers, as a read of the
        # live object itself always could; it no longer changes once handed out.
        live = self.live.get(run_id)
        return replace(live) if live else None

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

    def version(self, root_id: str) -> int:
        return self.store.version(root_id)

    def session_version(self, session: str) -> int:
        return self.store.session_version(session)

    def session_runs_version(self, session: str) -> int:
        return self.store.session_runs_version(session)

    # --- submitting work ---
    def _check_active(self, session: str) -> None:
        n = self.settings.max_active_runs_per_session
        if self.store.count_active(session) >= n:
            raise LimitReached(f"limit reached: at most {n} runs may wait or train at once", "active", n=n)

    def submit_train(self, session: str, config: dict, options: dict) -> Run:
        s = self.settings
        with self._lock:
            self._check_active(session)
            if int(config["epochs"]) > s.max_epochs:
                raise LimitReached(
                    f"limit reached: at most {s.max_epochs} epochs per run on this server",
                    "epochs",
                    n=s.max_epochs,
                )
            if self.store.count_roots(session) >= s.max_stored_runs_per_session:
                raise LimitReached(
                    f"limit reached: at most {s.max_stored_runs_per_session} runs are kept; "
                    "delete an old one",
                    "stored",
                    n=s.max_stored_runs_per_session,
                )
            self._check_queue()
            run_id = secrets.token_urlsafe(12)
            run = self._new_run(run_id, session, "train", config, options, parent=None, root=run_id)
            self._enqueue(run)
        return run

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
            self._check_active(session)
            self._check_queue()
            self.ensure_reference(source.config)
            run = self._new_resume(session, source, checkpoint, epoch, restore, prediction, "queued")
            self._enqueue(run)
        return run

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
            if self.store.count_status(session, "planned"):
                raise LimitReached("limit reached: a set of resumes is already waiting", "planned")
            self._check_active(session)
            self._check_queue()
            self.ensure_reference(source.config)
            room = self.settings.max_active_runs_per_session - self.store.count_active(session)
            runs = []
            for i, mode in enumerate(modes):
                status = "queued" if i < room else "planned"
                run = self._new_resume(
                    session, source, checkpoint, epoch, mode, predictions.get(mode), status
                )
                if status == "queued":
                    self._enqueue(run)
                runs.append(run)
        return runs

    def _new_resume(
        self,
        session,
        source: Run,
        checkpoint: Path,
        epoch: int,
        restore: str,
        prediction: dict | None,
        status: str,
    ) -> Run:
        options = {
            "pace_ms": source.options.get("pace_ms", 0),
            "checkpoint": str(checkpoint.relative_to(self.runs_dir)),
            "from_run": source.id,
            "from_epoch": epoch,
            "restore": restore,
        }
        if prediction:
            options["prediction"] = prediction
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
            for run in self.store.with_status(session, "planned")[: max(room, 0)]:
                self.store.update(run.id, status="queued")
                self._enqueue(run)

    def submit_job(
        self, session: str | None, kind: str, config: dict, run_id: str | None = None, first: bool = False
    ) -> Run:
        """Any other kind of background job (pretraining, fine-tuning) through the same pool."""
        with self._lock:
            if (
                session is not None
                and self.store.count_active(session) >= self.settings.max_active_runs_per_session
            ):
                raise LimitReached(
                    f"limit reached: at most {self.settings.max_active_runs_per_session} "
                    "runs may wait or train at once"
                )
            self._check_queue()
            run_id = run_id or secrets.token_urlsafe(12)
            if isinstance(config.get("pretrained"), str):
                # Kept as a name inside PRETRAINED_DIR: the run's config is shown to the learner,
                # and no response may carry a path of the server's disk.
                config = {**config, "pretrained": Path(config["pretrained"]).name}
            run = self._new_run(run_id, session, kind, config, {}, parent=None, root=run_id)
            if first:
                self._queue.appendleft(run.id)
                self._note_paced(run)
                self._wake()
            else:
                self._enqueue(run)
        return run

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
            shutil.rmtree(self.run_dir(run_id), ignore_errors=True)
            run = self._new_run(
                run_id, None, "reference", config, {"pace_ms": 0}, parent=None, root=run_id, ref=key
            )
            self._enqueue(run)
            return run

    def _check_queue(self) -> None:
        if len(self._queue) >= self.settings.queue_max:
            raise LimitReached(
                f"queue full: {len(self._queue)} runs are waiting; try again in a minute",
                "queue",
                n=len(self._queue),
            )

    def note_address(self, session: str, address: str) -> None:
        with self._lock:
            self._addresses[session] = address
            self._addresses.move_to_end(session)
            while len(self._addresses) > 20_000:
                self._addresses.popitem(last=False)

    def _queued_owner(self, run_id: str) -> str:
        """Whose turn a queued run counts against: its session, or itself for shared work."""
        owner = self._owners.get(run_id)
        if owner is None:
            run = self.store.get(run_id)
            owner = self._owners[run_id] = (run.session if run and run.session else None) or f"run:{run_id}"
        return owner

    def _check_address(self, session: str | None) -> None:
        address = self._addresses.get(session) if session else None
        if address is None:
            return
        cap = self.settings.queue_per_address
        same = sum(1 for rid in self._queue if self._addresses.get(self._queued_owner(rid)) == address)
        if same >= cap:
            raise LimitReached(
                f"queue full for your network: {same} runs from your address are waiting; "
                "try again in a minute",
                "address",
                n=cap,
            )

    def _new_run(
        self, run_id, session, kind, config, options, parent, root, ref=None, status="queued"
    ) -> Run:
        if status == "queued":
            self._check_address(session)
        run = Run(
            id=run_id,
            session=session,
            kind=kind,
            config=config,
            options=options,
            status=status,
            parent_id=parent,
            root_id=root,
            reference_key=ref,
            error=None,
            final_hash=None,
            created=time.time(),
            started=None,
            finished=None,
        )
        return self.store.add(run)

    def _note_paced(self, run: Run) -> None:
        if (
            self.settings.paced_places
            and run.kind in ("train", "resume")
            and run.options.get("pace_ms", 0) >= PACED_MIN_MS
        ):
            self._paced.add(run.id)

    def _free_places(self) -> dict[bool, int]:
        """Places free now: full speed (False) and paced (True)."""
        full = min(self.settings.max_workers, self.executor.slots())
        free = {False: full - self._starting[False], True: self.settings.paced_places - self._starting[True]}
        for w in self._workers.values():
            free[w.paced] -= 1
        return free

    def _enqueue(self, run: Run) -> None:
        """Round-robin across sessions: a session's k-th waiting run goes after every other
        session's k-th, so one learner's (or one script's) pile never pushes the others back."""
        owner = self._queued_owner(run.id)
        self._note_paced(run)
        ranks: dict[str, int] = {}
        rank_of = []
        for rid in self._queue:
            o = self._queued_owner(rid)
            rank_of.append(ranks.get(o, 0))
            ranks[o] = ranks.get(o, 0) + 1
        mine = ranks.get(owner, 0)
        at = len(self._queue)
        while at > 0 and rank_of[at - 1] > mine:
            at -= 1
        self._queue.insert(at, run.id)
        if len(self._owners) > 2 * len(self._queue) + 64:  # forget runs that left the queue
            queued = set(self._queue)
            self._owners = {k: v for k, v in self._owners.items() if k in queued}
        self._wake()

    def cancel(self, run_id: str) -> bool:
        """Take a run out of the queue (or out of a planned set) before it starts; it ends as
        interrupted (it never ran)."""
        with self._lock:
            try:
                self._queue.remove(run_id)
                self._paced.discard(run_id)
            except ValueError:
                run = self.store.get(run_id)
                if run is None or run.status != "planned":
                    return False
            self.store.update(
                run_id,
                status="interrupted",
                finished=time.time(),
                error="cancelled while waiting in the queue",
            )
            return True

    # --- crash ---
    def crash(self, run_id: str) -> None:
        with self._lock:
            worker = self._workers.get(run_id)
            if worker is None and self.cancel(run_id):
                return  # a waiting run: crashing it means it never starts
            if worker is None:
                raise NotAllowed("only a run that is training can crash")
            live = self.live.get(run_id, Progress())
            worker.crash = {"how": "button", "epoch": live.epoch, "step": live.step}
            worker.proc.kill()  # SIGKILL: the process gets no chance to save anything

    def delete(self, root_id: str) -> None:
        with self._lock:
            lineage = self.store.lineage(root_id)
            for r in lineage:
                if r.status in ("queued", "planned"):
                    self.cancel(r.id)  # the learner's own waiting runs go with the lineage
            lineage = self.store.lineage(root_id)
            if any(r.active for r in lineage):
                raise NotAllowed("a run that is waiting or training cannot be deleted; crash it first")
            for run_id in self.store.delete_lineage(root_id):
                if self._disk_used is not None:
                    self._disk_used -= _tree_size(self.run_dir(run_id))
                shutil.rmtree(self.run_dir(run_id), ignore_errors=True)
                self.live.pop(run_id, None)

    # --- the monitor thread ---
    def expire_idle(self, now: float | None = None) -> int:
        """Remove the runs and files of sessions idle for SESSION_TTL_DAYS: learners who left
        (or scripts that dropped their cookie) do not keep the disk and the database forever."""
        before = (now or time.time()) - self.settings.session_ttl_days * 86400
        removed = 0
        for root_id in self.store.idle_roots(before):
            try:
                self.delete(root_id)
                removed += 1
            except NotAllowed:  # became active meanwhile: its session is not idle after all
                continue
        if removed:
            log.info("expired %d idle lineages", removed)
        return removed

    EXPIRE_EVERY_S = 600.0

    def _monitor(self) -> None:
        next_expiry = 0.0
        waiter = _Waiter()
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_expiry:
                    next_expiry = time.monotonic() + self.EXPIRE_EVERY_S
                    self.expire_idle()
                self._fill_slots()
                with self._lock:
                    conns = {w.conn: w for w in self._workers.values() if w.local and not w.closed}
                    sentinels = {w.proc.sentinel: w for w in self._workers.values() if w.local}
                self._take_inbox()
                ready = waiter.wait([self._wake_r, *conns, *sentinels], timeout=1.0)
                for obj in ready:
                    if obj is self._wake_r:
                        while self._wake_r.poll():
                            self._wake_r.recv_bytes()
                    elif obj in conns:
                        self._drain(conns[obj])
                    elif obj in sentinels:
                        self._finish(sentinels[obj])
                self._take_inbox()
            except Exception:  # the monitor must outlive any single bad event
                log.exception("job monitor error")
                time.sleep(0.5)

    def _next_to_start(self) -> tuple[str, bool] | None:
        """The first waiting run whose kind of place is free. A remote executor's slots are the
        worker nodes' that answer now: with none, runs wait here in line (and show their place)
        rather than in Celery's queue."""
        if not self._queue:
            return None
        free = self._free_places()
        if free[False] <= 0 and free[True] <= 0:
            return None
        for rid in self._queue:
            paced = rid in self._paced
            if free[paced] > 0:
                return rid, paced
        return None

    def _fill_slots(self) -> None:
        while True:
            with self._lock:
                nxt = self._next_to_start()
                if nxt is None:
                    return
                run_id, paced = nxt
                self._queue.remove(run_id)
                self._paced.discard(run_id)
                run = self.store.get(run_id)
                if run is None or run.status != "queued":
                    continue
                self._starting[paced] += 1
            try:
                # Outside the lock: the very first start waits for the forkserver to import torch,
                # and submitting or crashing other runs must not wait for that.
                self._launch(run, paced)
            except Exception:
                # Not handed over (Redis unreachable for a remote executor): the run keeps its
                # place at the head of the line and is tried again on the next round.
                log.exception("run %s could not be started; it stays first in line", run.id)
                with self._lock:
                    self._queue.appendleft(run.id)
                    if paced:
                        self._paced.add(run.id)
                return
            finally:
                with self._lock:
                    self._starting[paced] -= 1

    def job_for(self, run: Run) -> Job:
        resume = None
        if run.kind == "resume":
            resume = Resume(
                checkpoint=str(self.runs_dir / run.options["checkpoint"]), restore=run.options["restore"]
            )
        return Job(
            task=run.kind,
            run_id=run.id,
            run_dir=str(self.run_dir(run.id)),
            config=run.config,
            pace_ms=run.options.get("pace_ms", 0),
            crash_at_epoch=run.options.get("crash_at_epoch"),
            crash_while_saving_at=run.options.get("crash_while_saving_at"),
            threads=processes.TORCH_THREADS,
            nice=processes.WORKER_NICE,
            pretrained_dir=str(self.settings.pretrained_path),
            resume=resume,
        )

    def _launch(self, run: Run, paced: bool = False) -> None:
        proc, conn = self.executor.launch(self.job_for(run))
        with self._lock:
            self._workers[run.id] = _Worker(run.id, proc, conn, closed=conn is None, paced=paced)
            self.live[run.id] = Progress(epoch=run.options.get("from_epoch", 0), pid=proc.pid)
            self.store.update(run.id, status="running", started=time.time())
        log.info("run %s (%s) started in pid %s", run.id, run.kind, proc.pid)

    def _take_inbox(self) -> None:
        """A remote executor's events, in the order it read them; runs that already ended (a
        late or repeated event) are ignored."""
        while self._inbox:
            run_id, event = self._inbox.popleft()
            worker = self._workers.get(run_id)
            if worker is None:
                continue
            kind = event.get("type")
            if kind == "exit":
                self._end(worker, event.get("code"))
            elif kind == "lost":
                self._end(worker, None, lost=event.get("reason", "the worker node was lost"))
            elif kind == "started":
                worker.node = event.get("node")
                live = self.live.setdefault(run_id, Progress())
                live.pid, live.node = event.get("pid"), worker.node
            else:
                self._handle(worker, event)

    def _drain(self, worker: _Worker) -> None:
        try:
            while worker.has_data():
                events = unbatch(worker.conn.recv())
                with self.store.batch():  # a burst of epochs: one commit
                    for event in events:
                        self._handle(worker, event)
        except (EOFError, OSError):
            worker.closed = True

    def _handle(self, worker: _Worker, event: dict) -> None:
        run_id = worker.run_id
        kind = event.get("type")
        live = self.live.setdefault(run_id, Progress())
        live.updated = time.time()
        if kind == "step":
            live.step, live.loss, live.lr = event["step"], event["loss"], event["lr"]
            live.epoch = max(live.epoch, event["epoch"] - 1)
        elif kind == "epoch":
            live.epoch, live.step, live.loss, live.lr = (
                event["epoch"],
                event["step"],
                event["loss"],
                event["lr"],
            )
            live.acc, live.val_loss = event["acc"], event.get("val_loss")
            self.store.add_epoch(
                run_id,
                EpochRow(
                    event["epoch"],
                    event["loss"],
                    event["acc"],
                    event["lr"],
                    event["seconds"],
                    event["step"],
                    event.get("step_losses", []),
                    event.get("order_head", []),
                    event.get("val_loss"),
                ),
            )
        elif kind == "checkpoint":
            self.store.add_event(run_id, "checkpoint", {k: v for k, v in event.items() if k != "type"})
        elif kind == "resumed":
            live.epoch, live.step = event["epoch"], event["step"]
        elif kind == "crash":
            worker.crash = {k: v for k, v in event.items() if k != "type"}
        elif kind == "done":
            self.store.update(run_id, final_hash=event["weights_hash"])
        elif kind == "error":
            worker.error = event["error"]
        elif kind in RECORDED_EVENTS:
            self.store.add_event(run_id, kind, {k: v for k, v in event.items() if k != "type"})

    def _finish(self, worker: _Worker) -> None:
        # The sentinel is ready, so the exit status is on its way; a loaded machine may take
        # more than a moment to hand it over.
        worker.proc.join(5)
        self._drain(worker)
        worker.conn.close()
        self._end(worker, worker.proc.exitcode)

    def _end(self, worker: _Worker, code: int | None, lost: str | None = None) -> None:
        """A run's process ended with exit code `code` (or its node was `lost`)."""
        self.executor.forget(worker.run_id)
        crash = (
            None if lost else self._crash_info(worker, code)
        )  # before the live numbers go: it may need them
        with self._lock:
            self._workers.pop(worker.run_id, None)
            self.live.pop(worker.run_id, None)  # only active runs have live numbers
        fields: dict = {"finished": time.time()}
        if lost:
            # Nothing is known of how it ended: like a run of a server that stopped, it can be
            # resumed from its last checkpoint on any node.
            fields["status"], fields["error"] = "interrupted", lost
        elif code == 0:
            fields["status"] = "done"
        elif crash is not None:
            worker.crash = crash
            fields["status"] = "crashed"
            self.store.add_event(worker.run_id, "crash", worker.crash)
            self._checks.submit(self._record_survivors, worker.run_id)
        else:
            fields["status"] = "failed"
            fields["error"] = worker.error or f"the worker process ended unexpectedly (exit code {code})"
        self.store.update(worker.run_id, **fields)
        if fields["status"] == "failed":  # an operator (and a test's report) should see why
            log.warning("run %s ended: failed: %s", worker.run_id, fields["error"])
        else:
            log.info("run %s ended: %s", worker.run_id, fields["status"])
        if fields["status"] == "done":
            self._schedule_comparisons(worker.run_id)
        run = self.store.get(worker.run_id)
        self._promote_planned(run.session if run else None)
        if run is not None and fields["status"] == "crashed" and run.kind in ("train", "resume"):
            self._warm_reference(run)
        self._enforce_disk_cap(worker.run_id, keep_root=run.root_id if run else None)

    def _warm_reference(self, run: Run) -> None:
        """After a crash the learner resumes, and every resume is judged against the uninterrupted
        reference run: start it now if a worker would otherwise sit idle, so that it is done, or
        nearly, when the resumes need it. Never ahead of anyone's waiting run: with a queue, the
        reference waits for the first resume to ask for it, as before."""
        with self._lock:
            waiting = any(rid not in self._paced for rid in self._queue)
            idle = not waiting and self._free_places()[False] > 0
        if idle and self.store.reference(reference_key(run.config)) is None:
            ref = self.ensure_reference(run.config)
            log.info(
                "run %s crashed on an idle pool: reference %s started ahead of its resumes", run.id, ref.id
            )

    def _crash_info(self, worker: _Worker, code: int | None) -> dict | None:
        """Was this end the crash the learner asked for? Decided from what is certain, not
        from which of two signals arrived first.

        A worker announces a planned crash on its pipe and then SIGKILLs itself; the Crash
        button records it here before sending SIGKILL. Either record is proof of a crash,
        whatever exit status the forkserver reports (it reports 255 when it cannot tell). An
        exit by SIGKILL of a run that was told to crash is one too, even if its announcement
        was lost with the process (its options say where it was to crash)."""
        if worker.crash is not None and code != 0 and worker.error is None:
            return worker.crash
        if code == -9:
            run = self.store.get(worker.run_id)
            options = run.options if run else {}
            step = getattr(self.live.get(worker.run_id), "step", 0)
            if options.get("crash_while_saving_at") is not None:
                return {"how": "while_saving", "epoch": options["crash_while_saving_at"], "step": step}
            if options.get("crash_at_epoch") is not None:
                return {"how": "at_epoch", "epoch": options["crash_at_epoch"], "step": step}
        return None

    def _schedule_comparisons(self, run_id: str) -> None:
        run = self.store.get(run_id)
        if run is None or not run.reference_key:
            return
        if run.kind == "resume":
            pairs = [(run, self.store.reference(run.reference_key))]
        elif run.kind == "reference":
            pairs = [(r, run) for r in self.store.resumes_for_reference(run.reference_key)]
        else:
            return
        for resumed, ref in pairs:
            if ref is not None and ref.status == "done" and resumed.status == "done":
                self._checks.submit(self._record_comparison, resumed.id, ref.id)

    def _record_comparison(self, run_id: str, ref_id: str) -> None:
        try:
            result = processes.call_in_sandbox(
                compare_finals,
                str(self.run_dir(run_id) / layout.FINAL_FILE),
                str(self.run_dir(ref_id) / layout.FINAL_FILE),
                timeout=30,
            )
        except Exception as exc:
            result = {"error": str(exc)}
        self.store.add_event(run_id, "comparison", {"reference": ref_id, **result})

    def _record_survivors(self, run_id: str) -> None:
        """What a crash left on disk, judged by torch.load itself in a throwaway process."""
        try:
            report = processes.call_in_sandbox(verify_run_files, str(self.run_dir(run_id)), timeout=30)
        except Exception as exc:
            report = {"error": str(exc), "files": []}
        self.store.add_event(run_id, "survivors", report)

    def _enforce_disk_cap(self, ended: str, keep_root: str | None = None) -> None:
        """Over the cap, whole finished lineages go, oldest first; never the one that just ended."""
        cap = self.settings.disk_cap_mb * 1024 * 1024
        with self._lock:
            if self._disk_used is None:
                self._disk_used = _tree_size(self.runs_dir)
            else:
                self._disk_used += _tree_size(self.run_dir(ended))  # a run writes only until it ends
            if self._disk_used <= cap:
                return
            for root in self.store.finished_roots_oldest_first():
                if self._disk_used <= cap:
                    break
                if root.id == keep_root:
                    continue
                before = self._disk_used
                self.delete(root.id)
                log.info("disk cap: removed run %s (%d bytes)", root.id, before - self._disk_used)


def _tree_size(path: Path) -> int:
    # Files come and go while a run writes (temp files renamed, old checkpoints deleted):
    # one that vanishes between the listing and its stat counts as nothing.
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name), follow_symlinks=False).st_size
            except OSError:
                continue
    return total

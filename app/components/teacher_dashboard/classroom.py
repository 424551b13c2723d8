"""The class as the teacher sees it: every learner's simulator runs and checked exercises,
anonymised, aggregated into one board (board.py).

Runs come from the job backend (`class_runs`), exercise progress from the exercise component
(checkpoint_exercise/progress.py): the board reads no other component's database or files. It is
rebuilt only when the backend's `class_version`, the class (class_state.py) or the exercise
progress changed, at most every MIN_GAP seconds, and shared by every open dashboard, presenter
view, export and API call. A resume's measurements (epochs against the reference) are read once
when it has finished and been compared, and kept.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from statistics import median

from app.components.checkpoint_exercise.exercises import ORDER
from app.components.checkpoint_exercise.progress import ClassProgress
from app.components.checkpoint_simulator import ledger as cs_ledger
from app.components.teacher_dashboard.board import Board, ExerciseRow, Learner, Measure, ModeRow, label
from app.components.teacher_dashboard.class_state import ClassState, session_hash
from app.jobs.protocol import FINISHED, JobBackend, Run, RunStatus
from app.settings import Settings

__all__ = ["Board", "ClassState", "Classroom", "label", "session_hash"]

STUCK_FAILED = 3  # failed checks of one exercise, none solved: the learner is stuck on it
# s between two rebuilds while the class is busy. A rebuild and the teacher's refetch cost ~4 ms
# of the web process: at 0.3 s that was a tenth of its CPU in a class of sixty. The board is for
# a person's eyes; a crash still reaches it well within the dashboard's 1 s (bench `classroom`).
MIN_GAP = 0.5
# s a running run may go without a word (a step, an epoch, a checkpoint) before the board says it
# makes no progress: a paced epoch sends several a second, a slow first epoch well within this.
STALL_SECONDS = 60.0
TIME_BUCKET = 20.0  # s: idle learners become idle without any write, so rebuild this often anyway
MEASURES_KEPT = 20_000


class Classroom:
    def __init__(self, settings: Settings, jobs: JobBackend) -> None:
        self.settings = settings
        self.jobs = jobs
        self.state = ClassState(settings.data_dir / "teacher")
        self.progress = ClassProgress(settings.data_dir)
        self._build_lock = threading.Lock()
        self._board: Board | None = None
        self._measures: OrderedDict[str, tuple[tuple, Measure]] = OrderedDict()
        self.builds = 0  # rebuilds so far (the tests and the benchmark look)

    def version(self) -> tuple:
        """What the board depends on: the runs, the class, the time bucket, the exercises."""
        now = time.time()
        return (
            self.jobs.class_version(),
            self.state.generation,
            int(now // TIME_BUCKET),
            self.progress.version(),
        )

    def _measure(self, run: Run, root: Run | None) -> Measure:
        if run.status not in FINISHED or root is None:
            return Measure()
        jobs = self.jobs
        ref = jobs.reference_run(root.config)
        key = (
            run.status,
            jobs.version(run.root_id),
            ref.id if ref else None,
            jobs.version(ref.root_id) if ref else 0,
        )
        cached = self._measures.get(run.id)
        if cached is not None and (cached[1].complete or cached[0] == key):
            self._measures.move_to_end(run.id)
            return cached[1]
        m = Measure()
        ref_done = bool(ref and ref.status is RunStatus.DONE)
        if ref is not None:
            row = cs_ledger.Row(run.options.restore or "everything", {})
            run_done = run.status is RunStatus.DONE
            cs_ledger.measure(row, jobs.epochs(run.id), jobs.epochs(ref.id), ref_done, run_done)
            for k in (
                "loss_change",
                "spike",
                "lr_ok",
                "order_same",
                "recovery_epochs",
                "final",
                "final_val_loss",
            ):
                setattr(m, k, getattr(row, k))
        comparison = next(iter(jobs.events(run.id, "comparison")), None)
        if comparison and not comparison.get("error"):
            m.identical, m.max_abs_diff = bool(comparison.get("identical")), comparison.get("max_abs_diff")
        m.complete = (run.status is not RunStatus.DONE) or (ref_done and m.identical is not None)
        self._measures[run.id] = (key, m)
        while len(self._measures) > MEASURES_KEPT:
            self._measures.popitem(last=False)
        return m

    def _queue(self) -> dict[str, int]:
        counts = self.jobs.queue_counts()
        s = self.settings
        return {
            "waiting": counts.waiting,
            "training": counts.training,
            "workers": s.max_workers,
            "paced": s.paced_places,
        }

    # --- the board ---
    def board(self) -> Board:
        """The current board: rebuilt when the database or the class changed (and MIN_GAP passed)."""
        now = time.time()
        version = self.version()
        board = self._board
        if board is not None and (board.version == version or now - board.built < MIN_GAP):
            return board
        with self._build_lock:
            board = self._board
            if board is not None and (board.version == version or time.time() - board.built < MIN_GAP):
                return board
            self._board = board = self._build(version)
            return board

    def recent_board(self) -> Board | None:
        """The board if it was built less than MIN_GAP ago, which board() would return as it is:
        memory only (no PRAGMA, no stat), so the dashboard's stream takes it on the event loop
        instead of hopping to a thread five times a second while a class trains."""
        board = self._board
        return board if board is not None and time.time() - board.built < MIN_GAP else None

    def fresh_board(self) -> Board:
        """The board as of now, with no MIN_GAP wait (after the teacher's own changes)."""
        with self._build_lock:
            self._board = board = self._build(self.version())
            return board

    def _build(self, version: tuple) -> Board:
        self.builds += 1
        now = time.time()
        idle_after = self.settings.teacher_idle_minutes * 60
        archived = self.state.archived_roots()
        runs = [r for r in self.jobs.class_runs() if r.root_id not in archived]
        by_id = {r.id: r for r in runs}
        learners: dict[str, Learner] = {}
        modes = {m: ModeRow(m) for m in cs_ledger.MODES}
        changes: dict[str, list[float]] = {m: [] for m in cs_ledger.MODES}
        recoveries: dict[str, list[float]] = {m: [] for m in cs_ledger.MODES}
        row_inputs = []
        per_session_latest: dict[str, Run] = {}
        stalled: set[str] = set()
        self.state.number_all(session_hash(run.session or "") for run in runs)
        for run in runs:
            h = session_hash(run.session or "")
            lr = learners.get(h)
            if lr is None:
                n = self.state.number_of(h)
                lr = learners[h] = Learner(n, label("en", n), self.state.name_of(h))
            root = by_id.get(run.root_id)
            lr.active += run.active
            running = run.status is RunStatus.RUNNING
            lr.last_activity = max(lr.last_activity, now if running else run.last_write)
            measure = Measure()
            if run.kind == "train":
                lr.runs += 1
                lr.crashed += run.status is RunStatus.CRASHED
                lr.latest_root = run.id
            else:
                lr.resumes += 1
                mode = modes.get(run.options.restore or "")
                measure = self._measure(run, root)
                if mode is not None:
                    mode.resumes += 1
                    mode.finished += run.status in FINISHED
                    if measure.identical is not None:
                        mode.compared += 1
                        mode.identical += measure.identical
                    if measure.spike:
                        mode.spikes += 1
                    if measure.loss_change is not None:
                        changes[mode.mode].append(measure.loss_change)
                    if measure.recovery_epochs is not None and measure.final is not None:
                        recoveries[mode.mode].append(measure.recovery_epochs)
            lr.failed += run.status is RunStatus.FAILED
            if running and self._stalled(run, now):
                stalled.add(h)
            per_session_latest[h] = run
            row_inputs.append((run, root, lr.number, measure))
        for m in modes.values():
            m.median_loss_change = median(changes[m.mode]) if changes[m.mode] else None
            m.median_recovery_epochs = median(recoveries[m.mode]) if recoveries[m.mode] else None
        # Learners met only here are numbered in the order they last checked (runs number the rest).
        progress = sorted(
            self.progress.since(self.state.started).items(),
            key=lambda kv: min(e.updated for e in kv[1].values()),
        )
        self.state.number_all(h for h, _ in progress if h not in learners)
        for h, tries in progress:
            lr = learners.get(h)
            if lr is None:
                n = self.state.number_of(h)
                lr = learners[h] = Learner(n, label("en", n), self.state.name_of(h))
            lr.exercises = tries
            lr.last_activity = max([lr.last_activity] + [e.updated for e in tries.values()])
        exercise_rows = self._exercise_rows(learners.values())
        s = self.settings
        for h, lr in learners.items():
            latest = per_session_latest.get(h)
            lr.status = latest.status if latest else None
            lr.present = bool(lr.active) or now - lr.last_activity < idle_after
            if latest is not None and latest.status is RunStatus.FAILED:
                lr.help.append("failed")
            if h in stalled:
                lr.help.append("stalled")
            lr.stuck_exercises = [
                ex for ex, e in lr.exercises.items() if e.failed >= STUCK_FAILED and not e.solved
            ]
            if lr.stuck_exercises:
                lr.help.append("exercise")
            if lr.active >= s.max_active_runs_per_session or lr.runs >= s.max_stored_runs_per_session:
                lr.help.append("limit")
            lr.idle = not lr.active and now - lr.last_activity >= idle_after
        ordered = sorted(learners.values(), key=lambda x: x.number)
        counts = {
            "learners": len(ordered),
            "present": sum(lr.present for lr in ordered),
            "runs": sum(lr.runs for lr in ordered),
            "crashed": sum(lr.crashed for lr in ordered),
            "resumes": sum(lr.resumes for lr in ordered),
            "failed": sum(lr.failed for lr in ordered),
            "active": sum(lr.active for lr in ordered),
            "needs_help": sum(bool(lr.help) for lr in ordered),
            "idle": sum(lr.idle for lr in ordered),
        }
        roots = sorted({r.root_id for r in runs})
        board = Board(
            version=version,
            built=time.time(),
            learners=ordered,
            modes=list(modes.values()),
            counts=counts,
            queue=self._queue(),
            row_inputs=row_inputs,
            roots=roots,
            exercises=exercise_rows,
        )
        board.sig = board.signature()
        return board

    def _stalled(self, run: Run, now: float) -> bool:
        """A running run whose process has said nothing for STALL_SECONDS (hung, or starved)."""
        progress = self.jobs.progress(run.id)
        heard = progress.updated if progress is not None else (run.started or run.created)
        return now - heard >= STALL_SECONDS

    @staticmethod
    def _exercise_rows(learners: Iterable[Learner]) -> list[ExerciseRow]:
        out = []
        for ex in ORDER:
            row = ExerciseRow(ex)
            diagnoses: dict[str, int] = {}
            for lr in learners:
                e = lr.exercises.get(ex)
                if e is None:
                    continue
                row.tried += 1
                row.solved += e.solved
                row.checks += e.checks
                row.failed += e.failed
                for d, k in e.diagnoses.items():
                    diagnoses[d] = diagnoses.get(d, 0) + k
            if diagnoses:
                row.top_diagnosis, row.top_diagnosis_count = max(
                    sorted(diagnoses.items()), key=lambda kv: kv[1]
                )
            out.append(row)
        return out

    # --- the teacher's actions ---
    def reset(self) -> dict:
        """Archive the current class's runs (kept on disk) and start a fresh class."""
        board = self.fresh_board()
        entry = self.state.archive(board.roots, board.rows, board.counts)
        self.fresh_board()
        return entry

    def restore(self, archive_id: str) -> dict | None:
        entry = self.state.restore(archive_id)
        if entry is not None:
            self.fresh_board()
        return entry

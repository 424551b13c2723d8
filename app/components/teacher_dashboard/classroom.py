"""The class as the teacher sees it: every learner's simulator runs, anonymised, aggregated.

Reads go through a read-only SQLite connection of our own to the run store's database (WAL lets
it read beside the writers). `PRAGMA data_version` on that connection changes whenever anyone
else commits: the board is rebuilt only then, at most every MIN_GAP seconds, and shared by
every open dashboard, presenter view, export and API call. A rebuild is one query over the runs
table; a resume's measurements (epochs against the reference) are read once when it has
finished and been compared, and kept.

What the teacher's side keeps of its own is in DATA_DIR/teacher/class.json: learners' numbers
(keyed by a hash of the session id, never the id), optional display names, and the archives.
An archive lists the lineages it took out of the current class plus a snapshot of their export
rows (DATA_DIR/teacher/archive-<id>.json): the runs stay on disk, restoring puts them back.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import secrets
import sqlite3
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import median

from app.components.checkpoint_simulator import ledger as cs_ledger
from app.jobs.protocol import JobBackend
from app.settings import Settings

STUCK_FAILED = 3  # failed checks of one exercise, none solved: the learner is stuck on it
# s between two rebuilds while the class is busy. A rebuild and the teacher's refetch cost ~4 ms
# of the web process: at 0.3 s that was a tenth of its CPU in a class of sixty. The board is for
# a person's eyes; a crash still reaches it well within the dashboard's 1 s (bench `classroom`).
MIN_GAP = 0.5
TIME_BUCKET = 20.0  # s: idle learners become idle without any write, so rebuild this often anyway
FINISHED = ("done", "crashed", "failed", "interrupted")
NAME_MAX = 40
SETTING_KEYS = ("epochs", "lr", "optimizer", "scheduler", "checkpoint_every", "keep_last", "seed")


# Asked for every run on every rebuild of the board (twice a second while a class trains): a
# session's hash never changes, so it is worked out once.
@functools.lru_cache(maxsize=8192)
def session_hash(session: str) -> str:
    return hashlib.sha256(("learner:" + session).encode()).hexdigest()[:20]


def clean_name(name: str) -> str:
    """A display name as typed, trimmed to one short line of printable characters."""
    text = "".join(ch for ch in name if ch.isprintable()).strip()
    return " ".join(text.split())[:NAME_MAX]


def _atomic_write(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp-{secrets.token_hex(4)}")
    with open(tmp, "w") as f:
        json.dump(data, f, ensure_ascii=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class ClassState:
    """Learner numbers, display names and archives, in one small JSON file."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.path = folder / "class.json"
        self._lock = threading.RLock()
        try:
            data = json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            data = {}
        self.numbers: dict[str, int] = data.get("numbers", {})
        self.names: dict[str, str] = data.get("names", {})
        self.archives: list[dict] = data.get("archives", [])
        self.started: float = data.get("started", time.time())
        self.teacher_seen: float = data.get("teacher_seen", 0.0)
        self.generation = 0  # bumped on every change: part of the board's cache key

    def _save(self) -> None:
        self.generation += 1
        _atomic_write(
            self.path,
            {
                "numbers": self.numbers,
                "names": self.names,
                "archives": self.archives,
                "started": self.started,
                "teacher_seen": self.teacher_seen,
            },
        )

    def mark_teacher(self) -> None:
        """A teacher is using the dashboard (written at most once a minute)."""
        if time.time() - self.teacher_seen > 60:
            with self._lock:
                self.teacher_seen = time.time()
                self._save()

    def in_class(self, hours: float) -> bool:
        """A teacher has used the dashboard lately: chapters then offer learners the name field."""
        return time.time() - self.teacher_seen < hours * 3600

    def number(self, session: str) -> int:
        return self.number_of(session_hash(session))

    def number_of(self, h: str) -> int:
        """The learner's number by the class's hash of their session (what exercise progress keeps)."""
        if h not in self.numbers:
            self.number_all([h])
        return self.numbers[h]

    def number_all(self, hashes) -> None:
        """Numbers for the learners not numbered yet, in the order given, in one write: a class's
        sixty learners reach the board within a second, and a write each (the whole file, synced)
        was about a quarter of the time of the board's rebuilds then."""
        new = [h for h in dict.fromkeys(hashes) if h not in self.numbers]
        if not new:
            return
        with self._lock:
            n = max(self.numbers.values(), default=0)
            for h in new:
                if h not in self.numbers:
                    n = self.numbers[h] = n + 1
            self._save()

    def set_name(self, session: str, name: str) -> str:
        name = clean_name(name)
        with self._lock:
            h = session_hash(session)
            if name:
                self.names[h] = name
            else:
                self.names.pop(h, None)
            self.number_of(h)
            self._save()
        return name

    def name(self, session: str) -> str | None:
        return self.names.get(session_hash(session))

    def name_of(self, h: str) -> str | None:
        return self.names.get(h)

    def archived_roots(self) -> set[str]:
        return {root for a in self.archives for root in a["roots"]}

    def archive(self, roots: list[str], rows: list[dict], learners: int) -> dict:
        with self._lock:
            entry = {
                "id": time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2),
                "created": time.time(),
                "class_started": self.started,
                "roots": roots,
                "runs": len(rows),
                "learners": learners,
            }
            _atomic_write(self.folder / f"archive-{entry['id']}.json", {**entry, "rows": rows})
            self.archives.append(entry)
            # A fresh class: numbers start again at 1, names are forgotten.
            self.numbers, self.names, self.started = {}, {}, time.time()
            self._save()
            return entry

    def archived_rows(self, archive_id: str) -> list[dict] | None:
        entry = next((a for a in self.archives if a["id"] == archive_id), None)
        if entry is None:
            return None
        try:
            return json.loads((self.folder / f"archive-{archive_id}.json").read_text())["rows"]
        except (FileNotFoundError, ValueError, KeyError):
            return []

    def restore(self, archive_id: str) -> dict | None:
        """Put an archive's lineages back into the current class (joining whatever is there)."""
        with self._lock:
            entry = next((a for a in self.archives if a["id"] == archive_id), None)
            if entry is None:
                return None
            self.archives = [a for a in self.archives if a["id"] != archive_id]
            self.started = min(self.started, entry.get("class_started", self.started))
            self._save()
            try:
                (self.folder / f"archive-{archive_id}.json").unlink()
            except FileNotFoundError:
                pass
            return entry


@dataclass
class RunInfo:
    id: str
    session: str
    kind: str
    status: str
    root_id: str
    parent_id: str | None
    config: dict
    options: dict
    error: str | None
    created: float
    started: float | None
    finished: float | None

    @property
    def last_write(self) -> float:
        return max(t for t in (self.created, self.started, self.finished) if t is not None)


@dataclass
class Measure:
    """One resume measured against its uninterrupted reference (the simulator's ledger rules)."""

    loss_change: float | None = None
    spike: bool | None = None
    lr_ok: bool | None = None
    order_same: bool | None = None
    recovery_epochs: int | None = None
    final: str | None = None
    final_val_loss: float | None = None
    identical: bool | None = None
    max_abs_diff: float | None = None
    complete: bool = False


@dataclass
class ModeRow:
    mode: str
    resumes: int = 0
    finished: int = 0
    compared: int = 0
    identical: int = 0
    spikes: int = 0
    median_loss_change: float | None = None
    median_recovery_epochs: float | None = None


@dataclass
class ExerciseTry:
    """One learner's checks of one exercise in this class."""

    solved: bool = False
    checks: int = 0
    failed: int = 0
    last_diagnosis: str | None = None
    diagnoses: dict[str, int] = field(default_factory=dict)  # diagnosis of failed checks -> how many
    updated: float = 0.0


@dataclass
class ExerciseRow:
    """One exercise across the class."""

    exercise: str
    tried: int = 0
    solved: int = 0
    checks: int = 0
    failed: int = 0
    top_diagnosis: str | None = None  # the most common diagnosis of the class's failed checks
    top_diagnosis_count: int = 0


@dataclass
class Learner:
    number: int
    label: str
    name: str | None
    runs: int = 0
    resumes: int = 0
    crashed: int = 0
    failed: int = 0
    active: int = 0
    last_activity: float = 0.0
    present: bool = False
    stuck: list[str] = field(default_factory=list)
    latest_root: str | None = None
    status: str | None = None
    exercises: dict[str, ExerciseTry] = field(default_factory=dict)  # exercise id -> checks run in this class
    stuck_exercises: list[str] = field(default_factory=list)  # >= STUCK_FAILED failed checks and no solve

    @property
    def solved(self) -> list[str]:
        return [ex for ex, e in self.exercises.items() if e.solved]

    @property
    def checks(self) -> int:
        return sum(e.checks for e in self.exercises.values())

    @property
    def failed_checks(self) -> int:
        return sum(e.failed for e in self.exercises.values())


@dataclass
class Board:
    version: tuple
    built: float
    learners: list[Learner]
    modes: list[ModeRow]
    counts: dict[str, int]
    queue: dict[str, int]
    row_inputs: list[tuple]  # (run, root, learner number, measure) per run, for `rows`
    roots: list[str]  # the current class's lineages
    exercises: list[ExerciseRow] = field(default_factory=list)
    sig: str = ""

    @functools.cached_property
    def rows(self) -> list[dict]:
        """One per run, for the export and the archive: only those read them, so a rebuild while
        the class trains does not build them."""
        return [Classroom._row(*args) for args in self.row_inputs]

    def signature(self) -> str:
        """Equal signatures: an equal dashboard (the age of 'last seen' aside)."""
        data = [
            self.counts,
            self.queue,
            [asdict(m) for m in self.modes],
            [
                (
                    lr.number,
                    lr.name,
                    lr.runs,
                    lr.resumes,
                    lr.crashed,
                    lr.failed,
                    lr.active,
                    lr.present,
                    lr.stuck,
                    lr.status,
                    {k: asdict(v) for k, v in lr.exercises.items()},
                    lr.stuck_exercises,
                )
                for lr in self.learners
            ],
            [asdict(e) for e in self.exercises],
        ]
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def learner(self, number: int) -> Learner | None:
        return next((lr for lr in self.learners if lr.number == number), None)


def label(lang: str, number: int) -> str:
    return f"学员 {number}" if lang == "zh" else f"learner {number}"


class Classroom:
    def __init__(self, settings: Settings, jobs: JobBackend):
        self.settings = settings
        self.jobs = jobs
        self.state = ClassState(settings.data_dir / "teacher")
        self._db = sqlite3.connect(f"file:{settings.db_path}?mode=ro", uri=True, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db_lock = threading.Lock()
        self._build_lock = threading.Lock()
        self._board: Board | None = None
        self._measures: OrderedDict[str, tuple[tuple, Measure]] = OrderedDict()
        self._parsed: dict[str, tuple] = {}  # run id -> ((config, options) as stored, parsed config, options)
        # Checked exercises: one small JSON file per browser, written by the exercise service.
        self.progress_dir = settings.data_dir / "exercises" / "progress"
        self._progress: dict[str, tuple[tuple, dict]] = {}  # file name -> ((mtime, size), parsed)
        self.builds = 0  # rebuilds so far (the tests and the benchmark look)

    def close(self) -> None:
        with self._db_lock:
            self._db.close()

    # --- reading ---
    def data_version(self) -> int:
        with self._db_lock:
            return self._db.execute("PRAGMA data_version").fetchone()[0]

    def _query(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._db_lock:
            return self._db.execute(sql, args).fetchall()

    def _runs(self) -> list[RunInfo]:
        rows = self._query(
            "SELECT id, session, kind, status, root_id, parent_id, config, options, error, created, started, finished "
            "FROM runs WHERE session IS NOT NULL AND kind IN ('train','resume') ORDER BY created"
        )
        out, parsed = [], {}
        for r in rows:
            d = dict(r)
            # A run's settings are written once, with the run: parsed once, not on every rebuild.
            raw = (d["config"], d["options"])
            kept = self._parsed.get(d["id"])
            if kept is None or kept[0] != raw:
                kept = (raw, json.loads(raw[0]), json.loads(raw[1]))
            parsed[d["id"]] = kept
            d["config"], d["options"] = kept[1], kept[2]
            out.append(RunInfo(**d))
        self._parsed = parsed  # runs deleted from the store drop out with this
        return out

    def _measure(self, run: RunInfo, root: RunInfo | None) -> Measure:
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
        ref_done = bool(ref and ref.status == "done")
        if ref is not None:
            row = cs_ledger.Row(run.options.get("restore", "everything"), {})
            cs_ledger.measure(row, jobs.epochs(run.id), jobs.epochs(ref.id), ref_done, run.status == "done")
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
        m.complete = (run.status != "done") or (ref_done and m.identical is not None)
        self._measures[run.id] = (key, m)
        while len(self._measures) > 20_000:
            self._measures.popitem(last=False)
        return m

    def progress_version(self) -> int:
        """Changes whenever a learner's exercise progress is written: each write replaces its file
        (os.replace), which changes the folder's mtime. One stat, no reading."""
        try:
            return os.stat(self.progress_dir).st_mtime_ns
        except OSError:
            return 0

    def _exercise_progress(self) -> dict[str, dict[str, ExerciseTry]]:
        """Every learner's checks in this class: class hash -> exercise id -> ExerciseTry. Files are
        parsed again only when they changed; entries written before the class started are left out."""
        from app.components.checkpoint_exercise.exercises import ORDER

        out: dict[str, dict[str, ExerciseTry]] = {}
        seen = set()
        try:
            entries = list(os.scandir(self.progress_dir))
        except OSError:
            entries = []
        for entry in entries:
            if not entry.name.endswith(".json"):
                continue
            try:
                st = entry.stat()
            except OSError:
                continue
            seen.add(entry.name)
            key = (st.st_mtime_ns, st.st_size)
            cached = self._progress.get(entry.name)
            if cached is None or cached[0] != key:
                try:
                    data = json.loads(Path(entry.path).read_text())
                except (OSError, ValueError):
                    continue
                cached = self._progress[entry.name] = (key, data if isinstance(data, dict) else {})
            data = cached[1]
            h = data.get("_learner")
            if not isinstance(h, str):
                continue  # written before the dashboard read exercises: no way to tell whose
            tries = {}
            for ex in ORDER:
                raw = data.get(ex)
                if not isinstance(raw, dict):
                    continue
                updated = float(raw.get("updated") or st.st_mtime)
                if updated < self.state.started:
                    continue
                failed = int(raw.get("failures", 0))
                tries[ex] = ExerciseTry(
                    solved=bool(raw.get("solved")),
                    checks=int(raw.get("checks", failed + bool(raw.get("solved")))),
                    failed=failed,
                    last_diagnosis=raw.get("last_diagnosis"),
                    diagnoses={str(k): int(v) for k, v in (raw.get("diagnoses") or {}).items()},
                    updated=updated,
                )
            if tries:
                out[h] = tries
        for name in set(self._progress) - seen:
            del self._progress[name]
        return out

    def _queue(self) -> dict[str, int]:
        counts = dict(
            self._query(
                "SELECT status, COUNT(*) FROM runs WHERE status IN ('queued','running') GROUP BY status"
            )
        )
        s = self.settings
        return {
            "waiting": counts.get("queued", 0),
            "training": counts.get("running", 0),
            "workers": s.max_workers,
            "paced": s.paced_places,
        }

    # --- the board ---
    def board(self) -> Board:
        """The current board: rebuilt when the database or the class changed (and MIN_GAP passed)."""
        now = time.time()
        version = (
            self.data_version(),
            self.state.generation,
            int(now // TIME_BUCKET),
            self.progress_version(),
        )
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
            version = (
                self.data_version(),
                self.state.generation,
                int(time.time() // TIME_BUCKET),
                self.progress_version(),
            )
            self._board = board = self._build(version)
            return board

    def _build(self, version: tuple) -> Board:
        self.builds += 1
        now = time.time()
        idle_after = self.settings.teacher_idle_minutes * 60
        archived = self.state.archived_roots()
        runs = [r for r in self._runs() if r.root_id not in archived]
        by_id = {r.id: r for r in runs}
        learners: dict[str, Learner] = {}
        modes = {m: ModeRow(m) for m in cs_ledger.MODES}
        changes: dict[str, list[float]] = {m: [] for m in cs_ledger.MODES}
        recoveries: dict[str, list[float]] = {m: [] for m in cs_ledger.MODES}
        row_inputs = []
        per_session_latest: dict[str, RunInfo] = {}
        self.state.number_all(session_hash(run.session) for run in runs)
        for run in runs:
            h = session_hash(run.session)
            lr = learners.get(h)
            if lr is None:
                n = self.state.number_of(h)
                lr = learners[h] = Learner(n, label("en", n), self.state.name_of(h))
            root = by_id.get(run.root_id)
            active = run.status in ("planned", "queued", "running")
            lr.active += active
            lr.last_activity = max(lr.last_activity, now if run.status == "running" else run.last_write)
            measure = Measure()
            if run.kind == "train":
                lr.runs += 1
                lr.crashed += run.status == "crashed"
                lr.latest_root = run.id
            else:
                lr.resumes += 1
                mode = modes.get(run.options.get("restore", ""))
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
            lr.failed += run.status == "failed"
            per_session_latest[h] = run
            row_inputs.append((run, root, lr.number, measure))
        for m in modes.values():
            m.median_loss_change = median(changes[m.mode]) if changes[m.mode] else None
            m.median_recovery_epochs = median(recoveries[m.mode]) if recoveries[m.mode] else None
        # Learners met only here are numbered in the order they last checked (runs number the rest).
        progress = sorted(
            self._exercise_progress().items(), key=lambda kv: min(e.updated for e in kv[1].values())
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
            if latest is not None and latest.status == "failed":
                lr.stuck.append("failed")
            lr.stuck_exercises = [
                ex for ex, e in lr.exercises.items() if e.failed >= STUCK_FAILED and not e.solved
            ]
            if lr.stuck_exercises:
                lr.stuck.append("exercise")
            if lr.active >= s.max_active_runs_per_session or lr.runs >= s.max_stored_runs_per_session:
                lr.stuck.append("limit")
            if not lr.active and now - lr.last_activity >= idle_after:
                lr.stuck.append("idle")
        ordered = sorted(learners.values(), key=lambda x: x.number)
        counts = {
            "learners": len(ordered),
            "present": sum(lr.present for lr in ordered),
            "runs": sum(lr.runs for lr in ordered),
            "crashed": sum(lr.crashed for lr in ordered),
            "resumes": sum(lr.resumes for lr in ordered),
            "failed": sum(lr.failed for lr in ordered),
            "active": sum(lr.active for lr in ordered),
            "stuck": sum(bool(lr.stuck) for lr in ordered),
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

    @staticmethod
    def _exercise_rows(learners) -> list[ExerciseRow]:
        from app.components.checkpoint_exercise.exercises import ORDER

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

    @staticmethod
    def _row(run: RunInfo, root: RunInfo | None, number: int, m: Measure) -> dict:
        plan = root.options if root else {}
        crash_plan, crash_epoch = "none", None
        if plan.get("crash_at_epoch"):
            crash_plan, crash_epoch = "at_epoch", plan["crash_at_epoch"]
        elif plan.get("crash_while_saving_at"):
            crash_plan, crash_epoch = "while_saving", plan["crash_while_saving_at"]
        config = run.config
        return {
            "learner": number,
            "run": run.id[:8],
            "lineage": run.root_id[:8],
            "kind": run.kind,
            "status": run.status,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(run.created)),
            **{k: config.get(k) for k in SETTING_KEYS},
            "crash_plan": crash_plan,
            "crash_epoch": crash_epoch,
            "crashed": run.status == "crashed",
            "restore": run.options.get("restore") if run.kind == "resume" else None,
            "from_epoch": run.options.get("from_epoch") if run.kind == "resume" else None,
            "loss_change": m.loss_change,
            "spike": m.spike,
            "lr_ok": m.lr_ok,
            "order_same": m.order_same,
            "recovery_epochs": m.recovery_epochs,
            "final": m.final,
            "final_val_loss": m.final_val_loss,
            "identical": m.identical,
            "max_abs_diff": m.max_abs_diff,
        }

    # --- the teacher's actions ---
    def reset(self) -> dict:
        """Archive the current class's runs (kept on disk) and start a fresh class."""
        board = self.fresh_board()
        entry = self.state.archive(board.roots, board.rows, len(board.learners))
        self.fresh_board()
        return entry

    def restore(self, archive_id: str) -> dict | None:
        entry = self.state.restore(archive_id)
        if entry is not None:
            self.fresh_board()
        return entry

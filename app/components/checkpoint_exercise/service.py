"""Checks of the learners' code: a bounded pool, per-session limits, attempts to poll, progress
kept per browser (session) in small JSON files under DATA_DIR/exercises/progress."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import threading
import time
from collections import OrderedDict, deque
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum
from pathlib import Path
from typing import Any

from app.components.checkpoint_exercise import checker
from app.components.checkpoint_exercise.exercises import EXERCISES
from app.jobs import code_sandbox


class AttemptStatus(StrEnum):
    """Where a learner's check is: in line, in its sandbox, answered, or cleared by the teacher."""

    WAITING = "waiting"
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"


log = logging.getLogger(__name__)
KEEP_ATTEMPTS = 2000


class Refused(Exception):
    """A check that is not started; code names the reason (words.REFUSED)."""

    def __init__(self, code: str, status: int = 429, **details):
        super().__init__(code)
        self.code, self.status, self.details = code, status, details


class ExerciseService:
    def __init__(self, settings):
        self.settings = settings
        self.folder = settings.data_dir / "exercises"
        self.references = checker.References(self.folder / "references")
        self.progress_dir = self.folder / "progress"
        self.pool = ThreadPoolExecutor(
            max_workers=settings.exercise_checks_at_once, thread_name_prefix="exercise-check"
        )
        half = min(20.0, settings.exercise_timeout_s / 2)  # each phase (train, resume) gets at most half
        self.limits = code_sandbox.Limits(
            wall_s=settings.exercise_timeout_s, phase_wall_s=half, cpu_s=max(2, int(half))
        )
        self._lock = threading.Lock()
        self.attempts: OrderedDict[str, dict] = OrderedDict()
        self.in_flight: dict[str, str] = {}  # session -> attempt id
        self.waiting = 0
        self.recent: dict[str, deque] = {}
        self.addresses: dict[str, str] = {}  # attempt id -> client address, while it waits or runs
        waiting = settings.exercise_waiting_max
        # As runs are: one address (a classroom behind one NAT, or one learner with many cookies)
        # holds at most 40% of the waiting places, and a quarter of them are kept for addresses
        # with nothing waiting yet.
        self.per_address = max(1, waiting * 2 // 5)
        self.reserved = waiting // 4

    # ------------------------------------------------------------ mode
    def mode(self) -> tuple[str, str]:
        """(sandbox|assemble|off, why not sandbox)."""
        wanted = self.settings.code_exercises
        if wanted == "off":
            return "off", ""
        usable, why = code_sandbox.availability()
        if wanted == "assemble":
            return "assemble", ""
        if usable:
            return "sandbox", ""
        return "assemble", why

    # ------------------------------------------------------------ progress
    def _progress_path(self, sid: str) -> Path:
        return self.progress_dir / (hashlib.sha256(sid.encode()).hexdigest()[:32] + ".json")

    def progress(self, sid: str) -> dict:
        try:
            data = json.loads(self._progress_path(sid).read_text())
        except (OSError, ValueError):
            data = {}
        return {
            ex: {
                "solved": bool(data.get(ex, {}).get("solved")),
                "failures": int(data.get(ex, {}).get("failures", 0)),
            }
            for ex in EXERCISES
        }

    def _record(self, sid: str, exercise_id: str, solved: bool, diagnosis: str | None = None) -> dict:
        """One finished check. Besides what the learner's page reads (solved, failures), the file
        keeps what the teacher's dashboard shows: checks run, the diagnoses of failed checks
        (counted, and the last one), when, and the class's hash of the session (never the id)."""
        from app.components.teacher_dashboard.classroom import session_hash

        with self._lock:
            path = self._progress_path(sid)
            try:
                data = json.loads(path.read_text())
                if not isinstance(data, dict):
                    data = {}
            except (OSError, ValueError):
                data = {}
            raw: dict = data[exercise_id] if isinstance(data.get(exercise_id), dict) else {}
            row = {"solved": bool(raw.get("solved")), "failures": int(raw.get("failures", 0))}
            checks = int(raw.get("checks", row["failures"] + row["solved"])) + 1
            diagnoses = dict(raw.get("diagnoses") or {})
            if solved:
                row["solved"] = True
            else:
                row["failures"] += 1
                if diagnosis:
                    diagnoses[diagnosis] = int(diagnoses.get(diagnosis, 0)) + 1
            data[exercise_id] = {
                **raw,
                **row,
                "checks": checks,
                "diagnoses": diagnoses,
                "last_diagnosis": raw.get("last_diagnosis") if solved else diagnosis,
                "updated": time.time(),
            }
            data["_learner"] = session_hash(sid)
            self.progress_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data))
            os.replace(tmp, path)
            return row

    # ------------------------------------------------------------ code
    def assemble(self, exercise_id: str, picks: list[int | None]) -> str:
        """Code from the bank: picks[i] is line i's position (1-based) or None (not used)."""
        ex = EXERCISES[exercise_id]
        bank = ex["bank"]
        chosen = sorted((pos, i) for i, pos in enumerate(picks[: len(bank)]) if pos)
        if not chosen:
            raise Refused("empty", 422)
        return ex["prefix"] + "".join(bank[i] + "\n" for _, i in chosen) + ex["suffix"]

    def submit(
        self,
        sid: str,
        exercise_id: str,
        code: str | None = None,
        picks: list[int | None] | None = None,
        address: str = "unknown",
    ) -> dict:
        if exercise_id not in EXERCISES:
            raise Refused("unknown", 404)
        mode, _ = self.mode()
        if mode == "off":
            raise Refused("off", 403)
        sandboxed = True
        if picks is not None:
            code = self.assemble(exercise_id, picks)
            # Lines of the lesson's own bank only: no sandbox needed where bubblewrap is missing.
            sandboxed = mode == "sandbox"
        elif mode != "sandbox":
            raise Refused("assemble_only", 403)
        code = code or ""
        if len(code.encode("utf-8")) > self.settings.exercise_code_max_kb * 1024:
            raise Refused("too_big", 413, kb=self.settings.exercise_code_max_kb)
        if not code.strip():
            raise Refused("empty", 422)
        now = time.monotonic()
        with self._lock:
            if sid in self.in_flight:
                raise Refused("busy", 429)
            stamps = self.recent.setdefault(sid, deque())
            while stamps and now - stamps[0] > 60:
                stamps.popleft()
            if len(stamps) >= self.settings.exercise_checks_per_session_per_minute:
                raise Refused("rate", 429)
            if self.waiting >= self.settings.exercise_waiting_max:
                raise Refused("full", 503)
            mine = sum(1 for a in self.addresses.values() if a == address)
            if mine >= self.per_address:
                raise Refused("address", 429, n=mine)
            if mine and self.waiting >= self.settings.exercise_waiting_max - self.reserved:
                raise Refused("full", 503)  # the last places are for addresses with none waiting
            stamps.append(now)
            self.waiting += 1
            attempt: dict[str, Any] = {
                "id": secrets.token_urlsafe(12),
                "exercise": exercise_id,
                "session": sid,
                "status": AttemptStatus.WAITING,
                "verdict": None,
                "progress": None,
                "created": time.time(),
            }
            self.attempts[attempt["id"]] = attempt
            while len(self.attempts) > KEEP_ATTEMPTS:
                self.attempts.popitem(last=False)
            self.in_flight[sid] = attempt["id"]
            self.addresses[attempt["id"]] = address
        self.pool.submit(self._run, attempt, code, sandboxed)
        return attempt

    def _run(self, attempt: dict, code: str, sandboxed: bool) -> None:
        with self._lock:
            if attempt["status"] == AttemptStatus.CANCELLED:
                return  # cleared by the teacher while it waited (counted then)
            self.waiting -= 1
            attempt["status"] = AttemptStatus.RUNNING
        try:
            v = checker.run_check(
                EXERCISES[attempt["exercise"]],
                code,
                self.references,
                self.limits,
                sandboxed,
                source=self.settings.pretrained_path / "resnet_mini.pt",
            )
        except Exception:  # the page must get an answer, whatever happened
            log.exception("exercise check failed")
            v = {
                "status": "limit",
                "diagnosis": "sandbox",
                "details": {},
                "checks": [],
                "output": "",
                "output_bytes": 0,
                "timing": {},
            }
        row = self._record(
            attempt["session"], attempt["exercise"], v["status"] == "solved", v.get("diagnosis")
        )
        with self._lock:
            attempt.update(status=AttemptStatus.DONE, verdict=v, progress=row)
            self.in_flight.pop(attempt["session"], None)
            self.addresses.pop(attempt["id"], None)

    # ------------------------------------------------------------ the teacher's view of the queue
    def queue(self) -> dict:
        """The checks waiting and running now, oldest first: which exercise, since when, and the
        class's hash of the learner (never a session id or an address)."""
        from app.components.teacher_dashboard.classroom import session_hash

        now = time.time()
        with self._lock:
            rows = [
                {
                    "id": a["id"],
                    "exercise": a["exercise"],
                    "status": a["status"],
                    "learner": session_hash(a["session"]),
                    "waited_s": round(now - a["created"], 1),
                }
                for a in self.attempts.values()
                if a["status"] in (AttemptStatus.WAITING, AttemptStatus.RUNNING)
            ]
            per_address = sorted(
                {a: list(self.addresses.values()).count(a) for a in self.addresses.values()}.values(),
                reverse=True,
            )
        return {
            "waiting": sum(r["status"] == AttemptStatus.WAITING for r in rows),
            "running": sum(r["status"] == AttemptStatus.RUNNING for r in rows),
            "waiting_max": self.settings.exercise_waiting_max,
            "per_address_max": self.per_address,
            "largest_address_share": per_address[0] if per_address else 0,
            "checks": rows,
        }

    def clear(self) -> int:
        """Cancel every waiting check (a running one finishes): the learners see "cleared by the
        teacher" and may check again. Returns how many were cleared."""
        with self._lock:
            waiting = [a for a in self.attempts.values() if a["status"] == AttemptStatus.WAITING]
            for a in waiting:
                a.update(status=AttemptStatus.CANCELLED, verdict=None)
                self.waiting -= 1
                self.addresses.pop(a["id"], None)
                if self.in_flight.get(a["session"]) == a["id"]:
                    self.in_flight.pop(a["session"])
        return len(waiting)

    def attempt(self, sid: str, attempt_id: str) -> dict | None:
        a = self.attempts.get(attempt_id)
        return a if a and a["session"] == sid else None

    def place(self, attempt: dict) -> int:
        """Checks waiting ahead of this one (0: it runs next or is running)."""
        with self._lock:
            waiting = [a for a in self.attempts.values() if a["status"] == AttemptStatus.WAITING]
        return next((i for i, a in enumerate(waiting) if a is attempt), 0)

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


_made = threading.Lock()


def of(request) -> ExerciseService:
    state = request.app.state
    service = getattr(state, "exercises", None)
    if service is None:
        with _made:
            service = getattr(state, "exercises", None)
            if service is None:
                service = state.exercises = ExerciseService(state.settings)
                if hasattr(state, "shutdown_hooks"):
                    state.shutdown_hooks.append(lambda app: service.shutdown())
    return service

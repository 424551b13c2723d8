"""Run records in SQLite (WAL): what a learner started, how far it got, how it ended.

Checkpoint files live beside it under DATA_DIR/runs/<id>/; the database only says what they
belong to. Both survive a server that is killed, which is the point of the lesson.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.jobs.records import EpochRow, Run
from app.jobs.store_rows import SCHEMA, decode_epoch, decode_run, encode_epoch, encode_run, remember

SESSIONS_KEPT = 4096  # learners whose runs for_session keeps in memory (a few KiB each)
RUNS_KEPT = 256  # runs whose decoded epochs epochs() keeps (~55 KiB for 30 epochs: ~14 MiB at most)


class RunStore:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()  # re-entered by the writes inside batch()
        # Versions per lineage and per session, taken from one counter that only grows, bumped by
        # every write: pages cache what they draw under them; event streams watch them for changes.
        self._clock = itertools.count(1)  # next() is atomic: writers in several threads
        self._versions: dict[str, int] = {}
        self._session_versions: dict[str, int] = {}
        self._session_rows: dict[str, int] = {}  # the same, bumped by writes to the runs' rows only
        self._changed = 0  # the clock at the last write of anything
        self._rows_changed = 0  # the clock at the last write of a learner's run row
        self._learner_runs: tuple[int, list[Run]] = (-1, [])  # see learner_runs
        self._root_of: dict[str, tuple[str, str | None]] = {}
        self._by_session: OrderedDict[str, tuple[int, list[Run]]] = OrderedDict()  # see for_session
        self._epochs: OrderedDict[str, list[EpochRow]] = OrderedDict()  # see epochs
        self._stale_from: dict[str, int] = {}  # run -> the first epoch written since it was kept
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode loses at most the last commits on power loss, never corrupts.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(SCHEMA)
            # A database written before held-out loss was recorded gains the column, rows kept.
            columns = {r[1] for r in self._db.execute("PRAGMA table_info(epochs)")}
            if "val_loss" not in columns:
                self._db.execute("ALTER TABLE epochs ADD COLUMN val_loss REAL")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """The writes inside in one transaction, one commit: a worker's burst of epochs. What was
        written before an error is kept, as it would have been one write at a time."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield
            finally:
                self._db.execute("COMMIT")

    def _exec(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, args)

    def _all(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _runs(self, sql: str, args: tuple = ()) -> list[Run]:
        return [decode_run(r) for r in self._all(sql, args)]

    # --- versions ---
    def version(self, root_id: str) -> int:
        return self._versions.get(root_id, 0)

    def session_version(self, session: str) -> int:
        """Changes whenever any run of the session is written (not its shared references)."""
        return self._session_versions.get(session, 0)

    def session_runs_version(self, session: str) -> int:
        """Changes when a run of the session is added, changed (its status…) or deleted; not
        when it records an epoch or an event."""
        return self._session_rows.get(session, 0)

    def changes(self) -> int:
        """Changes whenever anything of any run is written (the teacher's board watches it)."""
        return self._changed

    def _touch(self, run_id: str, row: bool = True) -> None:
        found = self._root_of.get(run_id)
        if found is None:
            rows = self._all("SELECT root_id, session FROM runs WHERE id = ?", (run_id,))
            found = (rows[0][0], rows[0][1]) if rows else (run_id, None)
            self._root_of[run_id] = found
        self._bump(*found, row=row)

    def _bump(self, root_id: str, session: str | None, row: bool = True) -> None:
        now = next(self._clock)
        self._versions[root_id] = now
        self._changed = now
        if session is not None:
            self._session_versions[session] = now
            if row:
                self._session_rows[session] = now
                self._rows_changed = now

    # --- runs ---
    def add(self, run: Run) -> Run:
        self._root_of[run.id] = (run.root_id, run.session)
        self._exec("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", encode_run(run))
        self._touch(run.id)
        return run

    def get(self, run_id: str) -> Run | None:
        rows = self._all("SELECT * FROM runs WHERE id = ?", (run_id,))
        return decode_run(rows[0]) if rows else None

    def update(self, run_id: str, **fields: Any) -> None:
        if not fields:
            return
        cols = ", ".join(f"{k} = ?" for k in fields)
        self._exec(f"UPDATE runs SET {cols} WHERE id = ?", (*fields.values(), run_id))
        self._touch(run_id)

    def for_session(self, session: str) -> list[Run]:
        """A learner's runs, oldest first. A class's live views and streams ask on every change
        they show (~10 times a run); the rows change ~3 times a run (added, started, ended). So the
        answer is kept per session under its runs version, read before the query: a write during
        the query only makes the next call read again."""
        version = self.session_runs_version(session)
        kept = self._by_session.get(session)
        if kept is not None and kept[0] == version:
            return list(kept[1])
        runs = self._runs("SELECT * FROM runs WHERE session = ? ORDER BY created", (session,))
        with self._lock:
            remember(self._by_session, session, (version, runs), SESSIONS_KEPT)
        return list(runs)

    def learner_runs(self) -> list[Run]:
        """Every learner's first runs and resumes, oldest first: kept until a learner's run row
        changes (the board asks on every rebuild; epochs and events do not change the rows)."""
        version = self._rows_changed
        kept = self._learner_runs
        if kept[0] == version:
            return list(kept[1])
        runs = self._runs(
            "SELECT * FROM runs WHERE session IS NOT NULL AND kind IN ('train','resume') ORDER BY created"
        )
        self._learner_runs = (version, runs)
        return list(runs)

    def lineage(self, root_id: str) -> list[Run]:
        return self._runs("SELECT * FROM runs WHERE root_id = ? ORDER BY created", (root_id,))

    def reference(self, key: str) -> Run | None:
        rows = self._all(
            "SELECT * FROM runs WHERE kind = 'reference' AND reference_key = ? "
            "AND status IN ('queued','running','done') ORDER BY created DESC LIMIT 1",
            (key,),
        )
        return decode_run(rows[0]) if rows else None

    def resumes_for_reference(self, key: str) -> list[Run]:
        return self._runs(
            "SELECT * FROM runs WHERE kind = 'resume' AND reference_key = ? AND status = 'done'", (key,)
        )

    def count_active(self, session: str) -> int:
        return self._all(
            "SELECT COUNT(*) FROM runs WHERE session = ? AND status IN ('queued','running')", (session,)
        )[0][0]

    def count_status(self, session: str, status: str) -> int:
        return self._all("SELECT COUNT(*) FROM runs WHERE session = ? AND status = ?", (session, status))[0][
            0
        ]

    def with_status(self, session: str, status: str) -> list[Run]:
        return self._runs(
            "SELECT * FROM runs WHERE session = ? AND status = ? ORDER BY created", (session, status)
        )

    def sessions_with_status(self, status: str) -> list[str]:
        return [
            r[0]
            for r in self._all(
                "SELECT DISTINCT session FROM runs WHERE status = ? AND session IS NOT NULL", (status,)
            )
        ]

    def count_roots(self, session: str) -> int:
        return self._all("SELECT COUNT(*) FROM runs WHERE session = ? AND kind = 'train'", (session,))[0][0]

    def finished_roots_oldest_first(self) -> list[Run]:
        """Lineages in which nothing is active any more, oldest first: what a disk clean-up may take."""
        return self._runs(
            "SELECT * FROM runs r WHERE r.kind IN ('train','reference') AND NOT EXISTS "
            "(SELECT 1 FROM runs a WHERE a.root_id = r.root_id "
            "AND a.status IN ('planned','queued','running')) "
            "ORDER BY r.created"
        )

    def idle_roots(self, before: float) -> list[str]:
        """Root ids of the sessions whose last run activity (created, started or finished) is
        older than `before` and that have nothing planned, waiting or training."""
        rows = self._all(
            "SELECT DISTINCT r.root_id FROM runs r WHERE r.session IN ("
            " SELECT session FROM runs WHERE session IS NOT NULL GROUP BY session"
            " HAVING MAX(MAX(created, COALESCE(started, 0), COALESCE(finished, 0))) < ?"
            " AND SUM(status IN ('planned','queued','running')) = 0)",
            (before,),
        )
        return [r["root_id"] for r in rows]

    def delete_lineage(self, root_id: str) -> list[str]:
        rows = self._all("SELECT id, session FROM runs WHERE root_id = ?", (root_id,))
        with self._lock:
            for row in rows:
                self._db.execute("DELETE FROM epochs WHERE run_id = ?", (row["id"],))
                self._db.execute("DELETE FROM events WHERE run_id = ?", (row["id"],))
                self._db.execute("DELETE FROM runs WHERE id = ?", (row["id"],))
            for row in rows:
                self._root_of.pop(row["id"], None)
                self._epochs.pop(row["id"], None)
                self._stale_from.pop(row["id"], None)
        self._bump(root_id, rows[0]["session"] if rows else None)
        return [row["id"] for row in rows]

    def mark_interrupted(self) -> int:
        """After a restart nothing can still be running: the processes died with the old server."""
        cur = self._exec(
            "UPDATE runs SET status = 'interrupted', finished = ?, "
            "error = COALESCE(error, 'the server stopped while this run was active') "
            "WHERE status IN ('queued','running')",
            (time.time(),),
        )
        return cur.rowcount

    # --- epochs and events ---
    def add_epoch(self, run_id: str, e: EpochRow) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO epochs (run_id, epoch, loss, acc, lr, seconds, step, step_losses, "
                "order_head, val_loss) VALUES (?,?,?,?,?,?,?,?,?,?)",
                encode_epoch(run_id, e),
            )
            if run_id in self._epochs:
                self._stale_from[run_id] = min(self._stale_from.get(run_id, e.epoch), e.epoch)
        self._touch(run_id, row=False)

    def epochs(self, run_id: str) -> list[EpochRow]:
        """A run's epochs, in order. A live view draws every epoch of every run on screen each time
        one more arrives, and decoding them all again (two JSON lists an epoch) was most of reading
        a lineage: the decoded rows are kept, and only those written since are read again (SQLite
        stays the source of every row; a rewritten epoch is read again too). The rows are shared
        between callers, who only read them."""
        with self._lock:
            kept = self._epochs.get(run_id)
            since = self._stale_from.pop(run_id, None)
            if kept is None:
                rows = [
                    decode_epoch(r)
                    for r in self._all("SELECT * FROM epochs WHERE run_id = ? ORDER BY epoch", (run_id,))
                ]
            elif since is not None:
                rows = [e for e in kept if e.epoch < since] + [
                    decode_epoch(r)
                    for r in self._all(
                        "SELECT * FROM epochs WHERE run_id = ? AND epoch >= ? ORDER BY epoch", (run_id, since)
                    )
                ]
            else:
                rows = kept
            for gone in remember(self._epochs, run_id, rows, RUNS_KEPT):
                self._stale_from.pop(gone, None)
            return list(rows)

    def add_event(self, run_id: str, kind: str, data: dict) -> None:
        self._exec("INSERT INTO events VALUES (?,?,?,?)", (run_id, time.time(), kind, json.dumps(data)))
        self._touch(run_id, row=False)

    def events(self, run_id: str, kind: str | None = None) -> list[dict]:
        if kind:
            rows = self._all("SELECT * FROM events WHERE run_id = ? AND kind = ? ORDER BY at", (run_id, kind))
        else:
            rows = self._all("SELECT * FROM events WHERE run_id = ? ORDER BY at", (run_id,))
        return [{"kind": r["kind"], "at": r["at"], **json.loads(r["data"])} for r in rows]

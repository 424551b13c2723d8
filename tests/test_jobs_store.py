"""The run store's kept answer for a learner's runs (app/jobs/store.py `for_session`): read from
SQLite once per change of the session's rows, and never older than the last write."""

from __future__ import annotations

import time

from app.jobs.records import EpochRow, Run, RunOptions, RunStatus
from app.jobs.store import RunStore


def _run(run_id: str, session: str | None = "s", root: str | None = None) -> Run:
    return Run(
        run_id,
        session,
        "train",
        {"epochs": 3},
        RunOptions(),
        RunStatus.QUEUED,
        None,
        root or run_id,
        None,
        None,
        None,
        time.time(),
        None,
        None,
    )


def _counting(store: RunStore) -> list[str]:
    queries: list[str] = []
    original = store._all

    def counted(sql, args=()):
        queries.append(sql)
        return original(sql, args)

    store._all = counted
    return queries


def test_a_learners_runs_are_read_once_per_change_of_their_rows(tmp_path):
    store = RunStore(tmp_path / "lab.sqlite3")
    store.add(_run("a"))
    queries = _counting(store)
    assert [r.id for r in store.for_session("s")] == ["a"]
    assert [r.id for r in store.for_session("s")] == ["a"]
    assert sum("WHERE session = ?" in q for q in queries) == 1
    store.add_epoch("a", EpochRow(1, 0.5, 0.9, 0.1, 0.01, 10))
    store.for_session("s")  # an epoch is not a change of the run's row: still kept
    assert sum("WHERE session = ?" in q for q in queries) == 1


def test_what_it_keeps_is_never_older_than_the_last_write(tmp_path):
    store = RunStore(tmp_path / "lab.sqlite3")
    store.add(_run("a"))
    assert [r.status for r in store.for_session("s")] == ["queued"]
    store.update("a", status=RunStatus.RUNNING)
    assert [r.status for r in store.for_session("s")] == ["running"]
    store.add(_run("b"))
    assert [r.id for r in store.for_session("s")] == ["a", "b"]
    store.delete_lineage("a")
    assert [r.id for r in store.for_session("s")] == ["b"]
    assert store.for_session("other") == []
    store.add(_run("c", session="other"))
    assert [r.id for r in store.for_session("other")] == ["c"]
    assert [r.id for r in store.for_session("s")] == ["b"]


def test_a_caller_changing_its_list_does_not_change_the_next_answer(tmp_path):
    store = RunStore(tmp_path / "lab.sqlite3")
    store.add(_run("a"))
    first = store.for_session("s")
    first.clear()
    assert [r.id for r in store.for_session("s")] == ["a"]


def test_the_kept_answers_are_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr("app.jobs.store.SESSIONS_KEPT", 3)
    store = RunStore(tmp_path / "lab.sqlite3")
    for i in range(10):
        store.add(_run(f"r{i}", session=f"s{i}"))
        assert [r.id for r in store.for_session(f"s{i}")] == [f"r{i}"]
    assert len(store._by_session) == 3


def _epoch(n: int, loss: float = 1.0) -> EpochRow:
    return EpochRow(n, loss / n, 0.5, 0.1, 0.01, n * 10, [loss, loss / 2], [n, n + 1], loss)


def test_a_runs_epochs_are_decoded_once_and_only_new_ones_are_read_again(tmp_path):
    store = RunStore(tmp_path / "lab.sqlite3")
    store.add(_run("a"))
    for n in (1, 2, 3):
        store.add_epoch("a", _epoch(n))
    queries = _counting(store)
    assert [e.epoch for e in store.epochs("a")] == [1, 2, 3]
    assert [e.epoch for e in store.epochs("a")] == [1, 2, 3]
    assert len([q for q in queries if "FROM epochs" in q]) == 1  # the second answer was kept
    store.add_epoch("a", _epoch(4))
    assert [e.epoch for e in store.epochs("a")] == [1, 2, 3, 4]
    assert "epoch >= ?" in [q for q in queries if "FROM epochs" in q][-1]  # only the new one read


def test_the_kept_epochs_always_equal_what_sqlite_holds(tmp_path):
    store = RunStore(tmp_path / "lab.sqlite3")
    store.add(_run("a"))
    store.add(_run("b", root="a"))
    for n in (1, 2, 3):
        store.add_epoch("a", _epoch(n))
    store.epochs("a")
    store.add_epoch("a", _epoch(2, loss=7.0))  # an epoch written again (a repeated event) is read again
    store.add_epoch("a", _epoch(5))
    store.add_epoch("b", _epoch(1))
    fresh = RunStore(tmp_path / "lab.sqlite3")  # reads everything from SQLite
    assert store.epochs("a") == fresh.epochs("a")
    assert store.epochs("a")[1].loss == 7.0 / 2
    assert store.epochs("b") == fresh.epochs("b")
    kept = store.epochs("a")
    kept.clear()  # a caller's list is its own
    assert len(store.epochs("a")) == 4
    store.delete_lineage("a")
    assert store.epochs("a") == [] and store.epochs("b") == []


def test_the_kept_epochs_are_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr("app.jobs.store.RUNS_KEPT", 2)
    store = RunStore(tmp_path / "lab.sqlite3")
    for i in range(5):
        store.add(_run(f"r{i}", session=f"s{i}"))
        store.add_epoch(f"r{i}", _epoch(1))
        assert len(store.epochs(f"r{i}")) == 1
    assert list(store._epochs) == ["r3", "r4"]
    store.add_epoch("r0", _epoch(2))  # not kept: read whole next time
    assert [e.epoch for e in store.epochs("r0")] == [1, 2]

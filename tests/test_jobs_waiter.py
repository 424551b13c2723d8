"""The job monitor's wait (app/jobs/manager.py `_Waiter`, `_Worker.has_data`): one poll set kept
between waits must still see exactly what multiprocessing's own wait would."""

from __future__ import annotations

import multiprocessing

from app.jobs.manager import _Waiter, _Worker


def test_the_waiter_reports_ready_pipes_and_follows_the_set_it_is_given():
    waiter = _Waiter()
    a_r, a_w = multiprocessing.Pipe(duplex=False)
    b_r, b_w = multiprocessing.Pipe(duplex=False)
    assert waiter.wait([a_r, b_r], timeout=0) == []
    b_w.send("epoch")
    assert waiter.wait([a_r, b_r], timeout=1) == [b_r]
    # A pipe left out of the next wait is no longer watched, though it still has data.
    assert waiter.wait([a_r], timeout=0) == []
    a_w.send("epoch")
    assert waiter.wait([a_r], timeout=1) == [a_r]
    # ...and watched again once it is given back.
    assert set(map(id, waiter.wait([a_r, b_r], timeout=1))) == {id(a_r), id(b_r)}
    for c in (a_r, a_w, b_r, b_w):
        c.close()


def test_a_pipe_whose_writer_closed_counts_as_ready_so_the_monitor_reads_its_end():
    waiter = _Waiter()
    r, w = multiprocessing.Pipe(duplex=False)
    w.close()
    assert waiter.wait([r], timeout=1) == [r]
    r.close()


def test_a_process_sentinel_is_ready_once_the_process_ended():
    waiter = _Waiter()
    proc = multiprocessing.get_context("fork").Process(target=int)
    proc.start()
    assert waiter.wait([proc.sentinel], timeout=10) == [proc.sentinel]
    proc.join()


def test_a_worker_has_data_while_a_message_waits_and_at_the_pipes_end():
    r, w = multiprocessing.Pipe(duplex=False)
    worker = _Worker("run", proc=None, conn=r)
    assert not worker.has_data()
    w.send({"type": "epoch"})
    w.send({"type": "epoch"})
    assert worker.has_data()
    r.recv()
    assert worker.has_data()
    r.recv()
    assert not worker.has_data()
    w.close()
    assert worker.has_data()  # the end of the pipe: the next recv raises EOFError
    r.close()

"""The worker's outbox: a fast run's epochs wait for the next message and travel with it, in order."""

from __future__ import annotations

import pytest

from app.jobs import worker
from app.jobs.events import unbatch


class Pipe:
    def __init__(self):
        self.messages: list = []
        self.closed = False

    def send(self, message) -> None:
        self.messages.append(message)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def clock(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(worker.time, "monotonic", lambda: now[0])
    return now


def epoch(n: int) -> dict:
    return {"type": "epoch", "epoch": n}


def test_epochs_close_together_wait_and_anything_else_takes_them_along(clock):
    pipe = Pipe()
    box = worker.Outbox(pipe)
    box.send(epoch(1))  # the first goes at once
    clock[0] += 0.015
    box.send(epoch(2))
    clock[0] += 0.015
    box.send(epoch(3))
    assert pipe.messages == [epoch(1)]
    box.send({"type": "checkpoint", "epoch": 3})
    assert pipe.messages[1] == [epoch(2), epoch(3), {"type": "checkpoint", "epoch": 3}]
    assert [e["epoch"] for m in pipe.messages for e in unbatch(m)] == [1, 2, 3, 3]


def test_an_epoch_after_a_quiet_spell_goes_at_once(clock):
    pipe = Pipe()
    box = worker.Outbox(pipe)
    box.send(epoch(1))
    clock[0] += 2 * worker.STEP_EVENT_INTERVAL
    box.send(epoch(2))
    assert pipe.messages == [epoch(1), epoch(2)]


def test_closing_sends_what_waits(clock):
    pipe = Pipe()
    box = worker.Outbox(pipe)
    box.send(epoch(1))
    box.send(epoch(2))
    box.close()
    assert pipe.messages == [epoch(1), epoch(2)] and pipe.closed

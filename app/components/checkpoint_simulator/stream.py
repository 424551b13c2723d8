"""The simulator's event stream: small named events, no HTML.

One loop per open page. A few times a second it reads the learner's in-memory counters (no
SQLite); only when one moved does it look at the learner's lineages (off the event loop) and
name what changed, each event with the root run id of the lineage it concerns:

- ``runs``: the learner's lineages (data empty); the first event of every (re)connection, so a
  page always starts from what the server has now;
- ``started``: a waiting run of the lineage started (its status line, the runs, the ledger);
- ``status``: a run of the lineage ended or was crashed (or its verdicts came in): everything;
- ``epoch``: the first run trained another epoch;
- ``checkpoint``: its checkpoint files changed;
- ``ledger``: a resume or the reference it is compared with moved on;
- ``queue``: waiting runs' places in line changed; its data is the new places as the page's
  text, ``{run id: text}`` (a class's line moves several times a second: nothing to fetch).

The page's fragments each listen for the events that concern them and fetch themselves again.
"""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from app import i18n
from app.components.checkpoint_simulator.service import showing_reference
from app.jobs.protocol import JobBackend, Run, RunStatus, reference_id
from app.ml import layout

TICK = 0.2  # s between looks at the counters: a few dictionary reads
# s at least between two "epoch" events of a lineage: a full-speed run trains many epochs a second,
# and each event makes the page fetch its fragments again; status and checkpoints are never held.
EPOCH_GAP = 1.0
QUEUE_GAP = 1.0  # s between looks at places in line (a class's line moves several times a second)
QUEUE_NEAR = 10  # further back in line, the place is looked at less often (40th: every 4 s)
PING = 15  # s: a comment line keeps proxies and idle connections from dropping the stream
BUSY_RETRY_MS = 30_000  # a stream refused for its cap: the browser tries again this much later


class StreamSlots:
    """Open streams per session and in all (STREAMS_PER_SESSION, STREAMS_MAX): one browser opening
    tabs, or a script opening streams, cannot take the server's connections from the class."""

    def __init__(self, per_session: int, total: int):
        self.per_session = per_session
        self.total = total
        self.open = 0
        self.sessions: dict[str, int] = {}

    def take(self, session: str) -> bool:
        if self.open >= self.total or self.sessions.get(session, 0) >= self.per_session:
            return False
        self.open += 1
        self.sessions[session] = self.sessions.get(session, 0) + 1
        return True

    def give_back(self, session: str) -> None:
        self.open -= 1
        self.sessions[session] -= 1
        if not self.sessions[session]:
            del self.sessions[session]


_slots: weakref.WeakKeyDictionary[JobBackend, StreamSlots] = weakref.WeakKeyDictionary()


def slots_for(jobs: JobBackend) -> StreamSlots:
    if jobs not in _slots:
        s = jobs.settings
        _slots[jobs] = StreamSlots(s.streams_per_session, s.streams_max)
    return _slots[jobs]


@dataclass(frozen=True)
class Look:
    """One lineage as the fragments show it, reduced to what tells one event from another."""

    runs: tuple  # (id, status, has final weights) of the lineage's runs and the shown reference
    verdicts: int  # torch.load's verdicts on the files the crash left
    epoch: int
    checkpoint: tuple
    ledger: tuple

    @property
    def status(self) -> tuple:
        return self.runs, self.verdicts


def _epoch(jobs: JobBackend, run: Run) -> int:
    now = jobs.progress(run.id) if run.active else None
    return now.epoch if now else -1


def _compared(jobs: JobBackend, run: Run) -> bool:
    # A finished resume's max |Δw| arrives a moment after its end, from the comparison process.
    return run.kind == "resume" and run.status == RunStatus.DONE and bool(jobs.events(run.id, "comparison"))


def look_at(jobs: JobBackend, session: str) -> tuple[dict[str, Look], list[str]]:
    """Each of the learner's lineages by root id, and the shared references shown (blocking)."""
    runs = jobs.session_runs(session)
    shown = showing_reference(runs)
    refs: dict[str, Run | None] = {}
    looks: dict[str, Look] = {}
    for root in (r for r in runs if r.kind == "train"):
        family = [r for r in runs if r.root_id == root.id]
        if root.id in shown:
            refs[root.id] = jobs.reference_run(root.config)
        others = [r for r in family if r is not root] + [r for r in [refs.get(root.id)] if r]
        verdicts = len(jobs.events(root.id, "survivors")) if not root.active else 0
        looks[root.id] = Look(
            runs=tuple((r.id, str(r.status), bool(r.final_hash)) for r in [root, *others]),
            verdicts=verdicts,
            epoch=_epoch(jobs, root),
            checkpoint=(
                tuple(name for _, name, _ in layout.list_checkpoints(jobs.run_dir(root.id))),
                verdicts,
            ),
            ledger=tuple((r.id, _epoch(jobs, r), _compared(jobs, r)) for r in others),
        )
    return looks, sorted({reference_id(r.config) for r in runs if r.root_id in shown})


def changes(before: dict[str, Look], now: dict[str, Look]) -> list[tuple[str, str]]:
    """(event, root id) for every part of every lineage that differs. "status" refreshes every
    fragment of the lineage, so it stands alone: a run's end moves its epoch and files too."""
    out = [("runs", "")] if list(before) != list(now) else []
    for root, look in now.items():
        old = before.get(root)
        moved = [
            name
            for name in ("status", "epoch", "checkpoint", "ledger")
            if old is None or getattr(old, name) != getattr(look, name)
        ]
        if "status" in moved and old and _only_started(old, look):
            moved = ["started" if name == "status" else name for name in moved]
        elif "status" in moved:
            moved = ["status"]
        out += [(name, root) for name in moved]
    return out


def _only_started(old: Look, now: Look) -> bool:
    """Did the lineage's status move only by waiting runs starting?"""
    waiting = (RunStatus.QUEUED, RunStatus.PLANNED)
    return (
        old.verdicts == now.verdicts
        and [(i, done) for i, _, done in old.runs] == [(i, done) for i, _, done in now.runs]
        and all(
            was == new or (was in waiting and new == RunStatus.RUNNING)
            for (_, was, _), (_, new, _) in zip(old.runs, now.runs, strict=True)
        )
    )


def _places(jobs: JobBackend, looks: dict[str, Look]) -> dict[str, int | None]:
    """Place in line of every waiting run the learner sees (in-memory reads)."""
    return {
        run_id: jobs.queue_position(run_id)
        for look in looks.values()
        for run_id, status, _ in look.runs
        if status in (RunStatus.QUEUED, RunStatus.PLANNED)
    }


async def events(
    jobs: JobBackend, session: str, in_thread: Callable[[Callable], Awaitable], lang: str = "en"
) -> AsyncIterator[dict]:
    """The page's events for as long as it listens. The learner's writes (session_version) and the
    shown references' (version) are all that can change a fragment: between them nothing is read.
    Past the stream caps the page gets one "busy" event and the stream ends; its EventSource
    comes back after BUSY_RETRY_MS."""
    slots = slots_for(jobs)
    if not slots.take(session):
        yield {"event": "busy", "data": "", "retry": BUSY_RETRY_MS}
        return
    try:
        counters: Callable[[list[str]], tuple] = lambda refs: (  # noqa: E731
            jobs.session_version(session),
            *(jobs.version(r) for r in refs),
        )
        # Counters first, then the look: a write in between is seen as a change at the next tick.
        seen = counters([])
        looks, refs = await in_thread(lambda: look_at(jobs, session))
        yield {"event": "runs", "data": ""}  # the page (re)loads all it shows from here
        places: dict[str, int | None] = {}
        queue_due = 0.0
        epoch_sent: dict[str, float] = {}  # root -> when its last "epoch" event went out
        held: set[str] = set()  # roots whose newer epoch waits for EPOCH_GAP
        while True:
            if (now_seen := counters(refs)) != seen:
                seen = now_seen
                now, refs = await in_thread(lambda: look_at(jobs, session))
                for name, root in changes(looks, now):
                    if name == "epoch":
                        held.add(root)
                    else:
                        if name == "status":
                            held.discard(root)  # the status refresh shows the latest epoch too
                        yield {"event": name, "data": root}
                looks = now
            for root in sorted(held):
                if time.monotonic() - epoch_sent.get(root, 0.0) >= EPOCH_GAP:
                    held.discard(root)
                    epoch_sent[root] = time.monotonic()
                    yield {"event": "epoch", "data": root}
            if time.monotonic() >= queue_due:
                now_places = _places(jobs, looks)
                moved = {run: n for run, n in now_places.items() if n and places.get(run) != n}
                if moved:
                    text = i18n.t(lang, "cs.queue")
                    places_text = {run: text.format(n=n) for run, n in moved.items()}
                    yield {"event": "queue", "data": json.dumps(places_text)}
                places = now_places
                front = min((n for n in places.values() if n), default=0)
                queue_due = time.monotonic() + QUEUE_GAP * max(1.0, front / QUEUE_NEAR)
            await asyncio.sleep(TICK)
    finally:
        slots.give_back(session)

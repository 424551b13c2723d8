"""The live view's event stream (server-sent events).

A classroom of browsers polling the live view re-renders it for everyone twice a second, and
that CPU comes out of the two cores the training needs. Instead each page holds one stream: the
server looks at in-memory counters a few times a second and, only when the learner's runs
changed, sends the page its new view. (A bare "changed" that the page answers by fetching the
view would put a whole request around every render: the web process's largest cost in a class.)
Queued learners get their place in line as a few bytes of text, no render at all.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from sse_starlette import ServerSentEvent

from app import i18n
from app.components.checkpoint_simulator.service import showing_reference
from app.jobs.protocol import JobBackend, reference_id

log = logging.getLogger(__name__)

TICK = 0.15  # s between the doorbell's looks at the counters: cheap dictionary reads
CHANGED_GAP = 0.3  # s at least between two views: progress reaches the page ~3 times a second
QUEUE_GAP = 1.0  # s between looks at places in line: a class's queue moves several times a second
QUEUE_NEAR = 10  # places: further back in line, the place is looked at less often (40th: every 4 s)
PING = 15  # s: a comment line keeps proxies and idle connections from dropping the stream
BUSY_RETRY_MS = 30_000  # a stream refused for its cap: the browser tries again this much later


class ViewEvent(ServerSentEvent):
    """A "view" event, encoded where it is drawn, off the event loop: a view is ~500 lines of
    HTML, and sse_starlette's line-by-line encoding cost the loop ~0.75 ms for each."""

    LINE_BREAKS = re.compile(r"\r\n|\r|\n")

    def __init__(self, html: str):
        super().__init__(data=html, event="view")
        # A view's lines end in "\n" alone unless a text in it (torch's error) brought a "\r":
        # str.replace then does in ~0.1 ms what the regular expression does in ~0.45.
        lines = self.LINE_BREAKS.sub("\r\ndata: ", html) if "\r" in html else html.replace("\n", "\r\ndata: ")
        self._encoded = ("event: view\r\ndata: " + lines + "\r\n\r\n").encode()

    def encode(self) -> bytes:
        return self._encoded


class StreamSlots:
    """Open streams per session and in all (STREAMS_PER_SESSION, STREAMS_MAX): each holds a
    connection and a few looks a second, so one browser opening tabs, or a script opening
    streams, cannot take the server's connections from the class. Counted on the event loop."""

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


@dataclass(eq=False)  # one page's watch: a key of the doorbell's table, by identity
class Watch:
    """What one learner's page shows, reduced to what tells a change from no change; `draw()`
    renders the view itself (blocking: the stream calls it off the event loop)."""

    jobs: JobBackend
    session: str
    lang: str
    draw: Callable[[], str]
    _version: int = -1
    _rows: int = -1  # the session's runs version at the last re-read
    _runs: list[str] = field(default_factory=list)
    _refs: list[str] = field(default_factory=list)
    _seen: tuple = ()
    _live: bool = True  # a run on the page was training, or a shared reference shown, at the last look
    front: int = 0  # the learner's best place in line at the last look (0: none waiting)

    def _reread(self) -> None:
        runs = self.jobs.session_runs(self.session)
        self._runs = [r.id for r in runs if r.active]
        # The shared references this page shows: their progress is a change to it.
        shown = showing_reference(runs)
        self._refs = sorted({reference_id(r.config) for r in runs if r.kind == "train" and r.id in shown})

    def moved(self) -> bool:
        """The learner's runs were written (a run, an epoch, an event) since the last look."""
        return self.jobs.session_version(self.session) != self._version

    def rows_moved(self) -> bool:
        """A run of the learner was added, changed or deleted: the next look re-reads them (from
        SQLite, off the event loop). An epoch alone changes no run's row: ~20 a run, no re-read."""
        return self.jobs.session_runs_version(self.session) != self._rows

    def _now(self) -> tuple:
        """The shared references' versions and the live epoch of every run on the page. The view
        shows progress by the epoch (its numbers and charts), so a step alone is no change."""
        live = []
        for run_id in [*self._runs, *(r for r in self._refs if self.jobs.is_running(r))]:
            now = self.jobs.progress(run_id)
            live.append((run_id, now.epoch) if now else (run_id,))
        return tuple(self.jobs.version(r) for r in self._refs), tuple(live)

    def stale(self) -> bool:
        """Something the page shows may differ from the last signature (no SQLite: dict reads).
        A page with nothing training has no live numbers to look at: its runs change only by
        writes (a start among them), which moved() sees. In a class most pages wait in line, and
        looking at their numbers anyway was most of the doorbell's work, six times a second."""
        return self.moved() or (self._live and self._now() != self._seen)

    def event(self) -> ViewEvent:
        """The page's view, drawn now, as the stream sends it (blocking: off the event loop)."""
        return ViewEvent(self.draw())

    def signature(self) -> tuple:
        """Equal signatures mean an equal live view (apart from queue places)."""
        self._version = self.jobs.session_version(self.session)
        if self.rows_moved():
            self._rows = self.jobs.session_runs_version(self.session)
            self._reread()
        self._seen = self._now()
        self._live = bool(self._refs) or any(self.jobs.is_running(r) for r in self._runs)
        return (self._version, *self._seen)

    @property
    def waiting(self) -> bool:
        return bool(self._runs)

    def queue(self) -> dict[str, str]:
        """Place in line of each of the learner's waiting runs, as the page words it."""
        places, front = {}, 0
        for run_id in self._runs:
            n = self.jobs.queue_position(run_id)
            if n is not None:
                places[run_id] = i18n.t(self.lang, "cs.queue").format(n=n)
                front = min(front or n, n)
        self.front = front
        return places

    def queue_gap(self) -> float:
        """Seconds until the next look at the places: the line moves a place or two a second, so
        the 40th in line loses nothing by hearing of it every 4 s, and a class of sixty waiting
        pages sends about half as many events."""
        return QUEUE_GAP * max(1.0, self.front / QUEUE_NEAR)


class Doorbell:
    """One timer for every open stream of a server. Every TICK it looks once at each page's
    counters (dictionary reads) and wakes only the streams whose view may have changed; every
    QUEUE_GAP or more (Watch.queue_gap) it also wakes the pages with runs in line. A class of sixty pages used to wake
    sixty coroutines six times a second to find, nearly always, nothing new."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.rings: dict[Watch, asyncio.Event] = {}
        self.queue_due: dict[Watch, float] = {}
        self.task: asyncio.Task | None = None

    def join(self, watch: Watch) -> asyncio.Event:
        ring = self.rings[watch] = asyncio.Event()
        ring.set()  # the page loads its view first
        # Each page looks at its place in line on its own beat, so that sixty waiting pages are
        # not all woken in the same tick (a burst that held the event loop for ~10 ms).
        self.queue_due[watch] = time.monotonic() + random.uniform(0, QUEUE_GAP)
        if self.task is None or self.task.done():
            self.task = self.loop.create_task(self._run())
        return ring

    def leave(self, watch: Watch) -> None:
        self.rings.pop(watch, None)
        self.queue_due.pop(watch, None)

    async def _run(self) -> None:
        while self.rings:
            await asyncio.sleep(TICK)
            now = time.monotonic()
            for watch, ring in list(self.rings.items()):
                try:
                    queue_due = now >= self.queue_due.get(watch, now)
                    if queue_due:
                        self.queue_due[watch] = now + watch.queue_gap()
                    if not ring.is_set() and (watch.stale() or (queue_due and watch.waiting)):
                        ring.set()
                except Exception:  # one page's bad look must not silence every other page
                    log.exception("stream doorbell: looking at a page failed")
                    ring.set()


_bells: weakref.WeakKeyDictionary[JobBackend, Doorbell] = weakref.WeakKeyDictionary()


def doorbell_for(jobs: JobBackend) -> Doorbell:
    loop = asyncio.get_running_loop()
    bell = _bells.get(jobs)
    if bell is None or bell.loop is not loop:
        bell = _bells[jobs] = Doorbell(loop)
    return bell


async def follow(watch: Watch, in_thread: Callable[[Callable], Awaitable]) -> AsyncIterator[dict | ViewEvent]:
    """Events for one page, for as long as it listens: "view" (the view's HTML) first, then
    whenever it changes; "queue" places in line.
    in_thread(fn) runs fn off the event loop (the caller decides in which threads).

    Past the stream caps the page gets one "busy" event and the stream ends; its EventSource
    comes back after BUSY_RETRY_MS (the page still works, by its buttons' own answers)."""
    slots = slots_for(watch.jobs)
    if not slots.take(watch.session):
        yield {"event": "busy", "data": "", "retry": BUSY_RETRY_MS}
        return
    bell = doorbell_for(watch.jobs)
    ring = bell.join(watch)
    try:
        async for event in _follow(watch, ring, in_thread):
            yield event
    finally:
        bell.leave(watch)
        slots.give_back(watch.session)


async def _follow(
    watch: Watch, ring: asyncio.Event, in_thread: Callable[[Callable], Awaitable]
) -> AsyncIterator[dict | ViewEvent]:
    sent_sig, sent_queue = None, None
    changed_at = float("-inf")
    count = 0
    while True:
        await ring.wait()
        ring.clear()
        gap = CHANGED_GAP - (time.monotonic() - changed_at)
        if gap > 0:
            await asyncio.sleep(gap)  # at most ~3 views a second: what changes meanwhile rides along
        # Re-reading the learner's runs touches SQLite: keep that off the event loop.
        sig = await in_thread(watch.signature) if watch.rows_moved() else watch.signature()
        if sig != sent_sig:
            if count and time.monotonic() - changed_at > 2 * CHANGED_GAP:
                # The first change after a quiet spell is often everyone's (a class starting
                # at once): spread the sixty renders over a moment instead of one burst.
                await asyncio.sleep(random.uniform(0, CHANGED_GAP))
            count += 1
            sent_sig, changed_at = sig, time.monotonic()
            yield await in_thread(watch.event)
        places = watch.queue()
        if places and places != sent_queue:
            yield {"event": "queue", "data": json.dumps(places, ensure_ascii=False)}
        sent_queue = places

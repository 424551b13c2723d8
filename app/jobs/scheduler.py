"""Which waiting run starts next, and who may queue one more. Pure Python: no processes, no SQLite,
no threads (the run service calls it under its lock), and the clock is passed in.

Two lines of waiting runs, one per kind of place. Full-speed runs (no pace, references,
pretraining) take one of the full-speed places (a core each). A run at a watching pace (PACED_MIN_MS
or more between epochs) sleeps most of its time: it holds a process, hardly a core, so paced runs
have PACED_WORKERS places of their own and never wait behind full-speed ones. A run of several
processes (a sharded experiment's ranks) takes as many full-speed places as it runs processes at
once, at most all of them; it waits first in its line until that many are free, so nothing
behind it can starve it.

Within a line, round-robin across owners (a learner's session; shared work is its own owner): a
new run of an owner goes into the round after that owner's last waiting run, and no earlier than
the round now being served (the head's). Each owner has at most one run in a round, so a learner with a pile
of runs delays a newcomer by one round at most. A line is kept sorted by (round, arrival): adding a
run is a bisection, not a walk over the queue.
"""

from __future__ import annotations

import bisect
import itertools
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from app.jobs.protocol import LimitReached

# A run paced at least this much (ms after each epoch of ~10 ms of training) takes a paced place.
PACED_MIN_MS = 100
ADDRESS_MEMORY_S = 3600.0  # a session's client address counts for the per-address cap this long
PACED_KINDS = ("train", "resume")


@dataclass(frozen=True)
class Limits:
    queue_max: int  # runs waiting at once, in both lines
    queue_per_address: int  # of those, from the sessions of one client address
    active_per_session: int  # a learner's runs waiting or training at once
    max_epochs: int
    stored_per_session: int  # a learner's first runs kept
    paced_places: int  # 0: every run takes a full-speed place (worker nodes)


@dataclass(frozen=True)
class Waiting:
    run_id: str
    owner: str  # the session, or "run:<id>" for shared work
    paced: bool
    key: tuple[int, int, int]  # (0 if pushed first else 1, round, arrival)
    address: str | None  # the owner's client address when it was queued
    places: int = 1  # full-speed places it holds while it runs (its processes at once)


@dataclass
class _Line:
    keys: list[tuple[int, int, int]] = field(default_factory=list)  # sorted: the start order
    by_key: dict[tuple[int, int, int], Waiting] = field(default_factory=dict)
    round: int = 0  # the round of the last run started from this line (for an empty line)
    last_round: dict[str, int] = field(default_factory=dict)  # owner -> round of its last waiting run
    waiting: dict[str, int] = field(default_factory=dict)  # owner -> its runs in this line

    def add(self, item: Waiting) -> None:
        bisect.insort(self.keys, item.key)
        self.by_key[item.key] = item
        self.waiting[item.owner] = self.waiting.get(item.owner, 0) + 1
        self.last_round[item.owner] = max(self.last_round.get(item.owner, item.key[1]), item.key[1])

    def remove(self, item: Waiting) -> None:
        del self.keys[bisect.bisect_left(self.keys, item.key)]
        del self.by_key[item.key]
        self.waiting[item.owner] -= 1
        if not self.waiting[item.owner]:  # the owner's next run starts a fresh round
            del self.waiting[item.owner], self.last_round[item.owner]

    def next_round(self, owner: str) -> int:
        # The round being served: the head's (an owner's runs that started no longer count).
        now = self.keys[0][1] if self.keys else self.round
        last = self.last_round.get(owner)
        return now if last is None else max(now, last + 1)


def _need(item: Waiting, full_places: int) -> int:
    """The places a waiting run takes: one, or its processes at once, at most every full-speed place."""
    return 1 if item.paced else max(1, min(item.places, full_places))


class Scheduler:
    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic):
        self.limits = limits
        self.clock = clock
        self._lines = {False: _Line(), True: _Line()}  # by paced
        self._items: dict[str, Waiting] = {}
        self._arrivals = itertools.count()
        self._held = {False: 0, True: 0}  # places held by runs started (or starting), by paced
        self._holding: dict[str, tuple[bool, int]] = {}  # run -> the kind of place it holds, how many
        self._addresses: OrderedDict[str, tuple[str, float]] = OrderedDict()  # session -> (address, seen)
        self._per_address: dict[str, int] = {}  # address -> its waiting runs

    # --- who may queue ---
    def note_address(self, session: str, address: str) -> None:
        """The client address a session was last seen from (the web layer tells us)."""
        now = self.clock()
        self._addresses[session] = (address, now)
        self._addresses.move_to_end(session)
        while self._addresses and next(iter(self._addresses.values()))[1] < now - ADDRESS_MEMORY_S:
            self._addresses.popitem(last=False)

    def address(self, session: str | None) -> str | None:
        seen = self._addresses.get(session) if session else None
        return seen[0] if seen and seen[1] >= self.clock() - ADDRESS_MEMORY_S else None

    def check_active(self, active: int) -> None:
        n = self.limits.active_per_session
        if active >= n:
            raise LimitReached(f"limit reached: at most {n} runs may wait or train at once", "active", n=n)

    def check_epochs(self, epochs: int) -> None:
        n = self.limits.max_epochs
        if epochs > n:
            raise LimitReached(f"limit reached: at most {n} epochs per run on this server", "epochs", n=n)

    def check_stored(self, stored: int) -> None:
        n = self.limits.stored_per_session
        if stored >= n:
            raise LimitReached(f"limit reached: at most {n} runs are kept; delete an old one", "stored", n=n)

    @staticmethod
    def check_planned(planned: int) -> None:
        if planned:
            raise LimitReached("limit reached: a set of resumes is already waiting", "planned")

    def check_queue(self) -> None:
        n = len(self._items)
        if n >= self.limits.queue_max:
            raise LimitReached(f"queue full: {n} runs are waiting; try again in a minute", "queue", n=n)

    def check_address(self, session: str | None) -> None:
        address = self.address(session)
        same = self._per_address.get(address, 0) if address else 0
        cap = self.limits.queue_per_address
        if same >= cap:
            raise LimitReached(
                f"queue full for your network: {same} runs from your address are waiting; "
                "try again in a minute",
                "address",
                n=cap,
            )

    # --- the lines ---
    def is_paced(self, kind: str, pace_ms: int) -> bool:
        return bool(self.limits.paced_places) and kind in PACED_KINDS and pace_ms >= PACED_MIN_MS

    def add(
        self,
        run_id: str,
        session: str | None,
        kind: str,
        pace_ms: int,
        first: bool = False,
        places: int = 1,
    ) -> None:
        """Queue a run: in its owner's next round, or ahead of everyone (`first`)."""
        owner = session or f"run:{run_id}"
        paced = places == 1 and self.is_paced(kind, pace_ms)
        line = self._lines[paced]
        key = (0 if first else 1, line.next_round(owner), next(self._arrivals))
        self._put(Waiting(run_id, owner, paced, key, self.address(session), max(1, places)))

    def _put(self, item: Waiting) -> None:
        self._lines[item.paced].add(item)
        self._items[item.run_id] = item
        if item.address:
            self._per_address[item.address] = self._per_address.get(item.address, 0) + 1

    def remove(self, run_id: str) -> bool:
        """Take a waiting run out of line (cancelled); False if it was not waiting."""
        item = self._items.pop(run_id, None)
        if item is None:
            return False
        self._lines[item.paced].remove(item)
        if item.address:
            self._per_address[item.address] -= 1
            if not self._per_address[item.address]:
                del self._per_address[item.address]
        return True

    def __len__(self) -> int:
        return len(self._items)

    def waiting(self, paced: bool) -> int:
        return len(self._lines[paced].keys)

    def __contains__(self, run_id: object) -> bool:
        return run_id in self._items

    def position(self, run_id: str) -> int | None:
        """1 = next to start among the runs waiting for the same kind of place."""
        item = self._items.get(run_id)
        if item is None:
            return None
        return bisect.bisect_left(self._lines[item.paced].keys, item.key) + 1

    def queued(self, paced: bool | None = None) -> list[str]:
        """Waiting runs in the order they start (both lines one after the other if paced is None)."""
        kinds = [False, True] if paced is None else [paced]
        return [self._lines[p].by_key[k].run_id for p in kinds for k in self._lines[p].keys]

    # --- places ---
    def free(self, full_places: int) -> dict[bool, int]:
        """Places free now, by paced: `full_places` is what the executor can run at full speed."""
        return {False: full_places - self._held[False], True: self.limits.paced_places - self._held[True]}

    def take(self, full_places: int) -> Waiting | None:
        """The next run to start, if a place of its kind is free; it leaves the line and holds the
        place until `release` (or `put_back`)."""
        free = self.free(full_places)
        heads = [self._lines[p].by_key[self._lines[p].keys[0]] for p in (False, True) if self._lines[p].keys]
        # A head waits for as many places as it needs, and its line waits with it.
        heads = [w for w in heads if free[w.paced] >= _need(w, full_places)]
        if not heads:
            return None
        item = min(heads, key=lambda w: (w.key[0], w.key[2]))  # both free: the first to arrive
        self.remove(item.run_id)
        line = self._lines[item.paced]
        line.round = max(line.round, item.key[1])
        held = _need(item, full_places)
        self._held[item.paced] += held
        self._holding[item.run_id] = (item.paced, held)
        return item

    def put_back(self, item: Waiting) -> None:
        """Its start failed: its place is free again and it is first in its line again."""
        self.release(item.run_id)
        self._put(item)

    def release(self, run_id: str) -> None:
        """The run ended: the place it held is free."""
        holding = self._holding.pop(run_id, None)
        if holding is not None:
            self._held[holding[0]] -= holding[1]

"""Loopback load: simulated learners, each an aiohttp.ClientSession with its own cookies.

The learners' browsers would run on their own laptops; here they share the two cores with the
server under test, so the client must cost little: aiohttp (C HTTP parser) spends ~0.2 ms of
CPU per page where httpx spends ~2 ms, CPU that would otherwise be counted against the app."""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp


@dataclass
class Samples:
    """Latencies in seconds per label, plus failures, plus events that have no latency (counted)."""

    times: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, label: str, seconds: float) -> None:
        self.times.setdefault(label, []).append(seconds)

    def tally(self, label: str) -> None:
        self.counts[label] = self.counts.get(label, 0) + 1

    def fail(self, label: str) -> None:
        self.errors[label] = self.errors.get(label, 0) + 1

    def count(self) -> int:
        return sum(map(len, self.times.values()))


# One event ends at a blank line: "\r\n\r\n" from sse-starlette, "\n\n" from other servers.
EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")


def make_clients(base_url: str, n: int) -> list[aiohttp.ClientSession]:
    # A few connections per learner, as a browser keeps (it allows six per host): the event
    # stream holds one. Each session keeps its own cookies (unsafe: the host is an IP address).
    return [
        aiohttp.ClientSession(
            base_url=base_url,
            timeout=aiohttp.ClientTimeout(total=30),
            connector=aiohttp.TCPConnector(limit=4),
            cookie_jar=aiohttp.CookieJar(unsafe=True),
        )
        for _ in range(n)
    ]


async def sse_events(response) -> AsyncIterator[tuple[str, str | None]]:
    """(event, data) for each event a server-sent event stream sends, as a page's EventSource
    reads it (data lines joined by "\\n"). Whole events are cut from the bytes as they come."""
    buf = b""
    async for chunk in response.content.iter_any():
        buf += chunk
        start = 0
        while (end := EVENT_END.search(buf, start)) is not None:
            block, start = buf[start : end.start()], end.end()
            event, data = None, []
            for line in block.decode().splitlines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[6:] if line.startswith("data: ") else line[5:])
            if event:
                yield event, "\n".join(data) if data else None
        buf = buf[start:]


async def close_clients(clients: list[aiohttp.ClientSession]) -> None:
    await asyncio.gather(*(c.close() for c in clients))


async def timed_get(client: aiohttp.ClientSession, path: str, label: str, samples: Samples) -> None:
    t0 = time.perf_counter()
    try:
        # The body is read whole but not inflated: a browser inflates it on its own machine, and here
        # inflating 30 chapter pages a second was a tenth of the load generator's CPU, taken from
        # the very cores whose share the class measures.
        async with client.get(path, auto_decompress=False) as r:
            await r.read()
            ok = r.status == 200
    except (TimeoutError, aiohttp.ClientError):
        ok = False
    dt = time.perf_counter() - t0
    if ok:
        samples.add(label, dt)
    else:
        samples.fail(label)


async def learner(
    client: aiohttp.ClientSession,
    mix: list[tuple[str, str, float]],
    think: float,
    until: float,
    samples: Samples,
    rng: random.Random,
    stop: asyncio.Event | None = None,
) -> None:
    """Until `until` (monotonic) or `stop`: wait a jittered think time, GET one path picked by weight."""
    labels = [m[0] for m in mix]
    paths = dict((m[0], m[1]) for m in mix)
    weights = [m[2] for m in mix]
    # A random phase first, so that the learners do not start (and then poll) in lockstep.
    await asyncio.sleep(rng.uniform(0, think))
    while time.monotonic() < until and not (stop and stop.is_set()):
        label = rng.choices(labels, weights)[0]
        await timed_get(client, paths[label], label, samples)
        await asyncio.sleep(rng.uniform(0.5 * think, 1.5 * think))


# What the simulator's page fetches on each event of its stream: the fragments whose
# hx-trigger names it (templates/checkpoint_simulator/live.html), as htmx does.
FRAGMENTS = {
    "runs": ("live",),
    "started": ("now", "ledger", "nav"),
    "status": ("now", "timeline", "checkpoints", "ledger", "compare", "disk", "nav"),
    "epoch": ("now", "timeline"),
    "checkpoint": ("checkpoints", "disk"),
    "ledger": ("ledger", "compare", "disk"),
    "queue": (),  # the places in line come as text in the event
}
SIM = "/components/checkpoint-simulator"
CRASHED = re.compile(r'data-run-id="([^"]+)" data-status="crashed"')


def fragment_path(name: str, run_id: str) -> str:
    if name in ("live", "nav"):
        return f"{SIM}/{name}?lang=en"
    return f"{SIM}/runs/{run_id}/{name}?lang=en"


class Page:
    """One learner's page: each fragment fetches itself once per event that names it, never two
    requests of one fragment at once, and a trigger during a request makes one more after it
    (hx-sync="this:queue last"). `shown[run id]`: when the page first showed that run crashed."""

    def __init__(self, client: aiohttp.ClientSession, samples: Samples, shown: dict[str, float]):
        self.client, self.samples, self.shown = client, samples, shown
        self.due: dict[str, asyncio.Event] = {}
        self.tasks: list[asyncio.Task] = []
        self.opened = 0.0  # perf_counter when the stream opened, until the live region first loads

    def trigger(self, event: str, run_id: str) -> None:
        for name in FRAGMENTS.get(event, ()):
            path = fragment_path(name, run_id)
            if path not in self.due:
                self.due[path] = asyncio.Event()
                self.tasks.append(asyncio.create_task(self._refresh(path)))
            self.due[path].set()

    async def _refresh(self, path: str) -> None:
        due = self.due[path]
        while True:
            await due.wait()
            due.clear()
            try:
                async with self.client.get(path, auto_decompress=False) as r:
                    body = await r.text() if "/now?" in path else await r.read()
                    ok = r.status == 200
            except (TimeoutError, aiohttp.ClientError):
                ok = False
            if not ok:
                self.samples.fail("fragment")
                continue
            if path.startswith(f"{SIM}/live") and self.opened:
                self.samples.add("view", time.perf_counter() - self.opened)
                self.opened = 0.0
            else:
                self.samples.tally("view")
            if isinstance(body, str) and (m := CRASHED.search(body)):
                self.shown.setdefault(m.group(1), time.time())

    def close(self) -> None:
        for task in self.tasks:
            task.cancel()


async def follower(
    client: aiohttp.ClientSession,
    events_path: str,
    samples: Samples,
    stop: asyncio.Event,
    shown: dict[str, float] | None = None,
) -> None:
    """What the simulator's page does: hold its event stream open, whose small named events
    ("runs", "status", "epoch", …, each with a run id) make the fragments that listen for them
    fetch themselves (Page). Reconnects like EventSource when the stream drops. Samples "view":
    from opening a stream to the live region's first load (a latency), and every later fragment
    load (a count). `shown`: when each run was first shown crashed (a learner's crash delivery)."""
    endless = aiohttp.ClientTimeout(total=None, sock_connect=30)
    page = Page(client, samples, shown if shown is not None else {})
    try:
        while not stop.is_set():
            try:
                page.opened = time.perf_counter()
                async with client.get(events_path, timeout=endless) as r:
                    async for event, data in sse_events(r):
                        if stop.is_set():
                            return
                        samples.tally(f"event {event}")
                        page.trigger(event, data or "")
            except (TimeoutError, aiohttp.ClientError):
                samples.fail("stream")
            await asyncio.sleep(0.5)
    finally:
        page.close()


async def follow_all(
    clients: list[aiohttp.ClientSession],
    events_path: str,
    samples: Samples,
    stop: asyncio.Event,
    shown: dict[str, float] | None = None,
) -> None:
    """Every client follows its stream until `stop`; then the streams are closed."""
    tasks = [asyncio.create_task(follower(c, events_path, samples, stop, shown)) for c in clients]
    await stop.wait()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def run_load(
    clients: list[aiohttp.ClientSession],
    mix: list[tuple[str, str, float]],
    think: float,
    seconds: float,
    seed: int = 0,
    stop: asyncio.Event | None = None,
    samples: Samples | None = None,
) -> Samples:
    """Every client runs `learner` for `seconds` at most (less if `stop` is set)."""
    samples = samples if samples is not None else Samples()
    until = time.monotonic() + seconds
    await asyncio.gather(
        *(
            learner(c, mix, think, until, samples, random.Random(seed * 1000 + i), stop)
            for i, c in enumerate(clients)
        )
    )
    return samples


async def warm_up(clients: list[aiohttp.ClientSession], path: str, tries: int = 5) -> None:
    """One GET per client (its session cookie, compiled templates), retried on a refused connect."""

    async def one(c: aiohttp.ClientSession) -> None:
        for i in range(tries):
            try:
                async with c.get(path) as r:
                    r.raise_for_status()
                    await r.read()
                return
            except aiohttp.ClientConnectionError:
                if i == tries - 1:
                    raise
                await asyncio.sleep(0.2 * (i + 1))

    await asyncio.gather(*(one(c) for c in clients))

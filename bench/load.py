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
    reads it (data lines joined by "\\n"). Whole events are cut from the bytes as they come, in C:
    a pushed live view is ~500 lines, which read line by line in Python cost the load generator
    (on the server's own cores) a few tenths of a core-second a class."""
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


async def follower(
    client: aiohttp.ClientSession, events_path: str, samples: Samples, stop: asyncio.Event
) -> None:
    """What the simulator's page does: hold its event stream open, which pushes the live view
    itself whenever the learner's runs change (the first one on opening: the learner's latest
    lineage, which it keeps following, as here, until the page shows another). Reconnects like
    EventSource when the stream drops. Samples "view": from opening a stream to its first view
    (a latency), and every later view (a count)."""
    endless = aiohttp.ClientTimeout(total=None, sock_connect=30)
    while not stop.is_set():
        try:
            t0 = time.perf_counter()
            async with client.get(events_path, timeout=endless) as r:
                async for event, _ in sse_events(r):
                    if stop.is_set():
                        return
                    if event != "view":
                        continue
                    if t0:
                        samples.add("view", time.perf_counter() - t0)
                        t0 = 0.0
                    else:
                        samples.tally("view")
        except (TimeoutError, aiohttp.ClientError):
            samples.fail("stream")
        await asyncio.sleep(0.5)


async def follow_all(
    clients: list[aiohttp.ClientSession], events_path: str, samples: Samples, stop: asyncio.Event
) -> None:
    """Every client follows its stream until `stop`; then the streams are closed."""
    tasks = [asyncio.create_task(follower(c, events_path, samples, stop)) for c in clients]
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

"""Loopback load: simulated learners, each an httpx.AsyncClient with its own cookies."""
from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

import httpx


@dataclass
class Samples:
    """Latencies in seconds per label, plus failures."""
    times: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)

    def add(self, label: str, seconds: float) -> None:
        self.times.setdefault(label, []).append(seconds)

    def fail(self, label: str) -> None:
        self.errors[label] = self.errors.get(label, 0) + 1

    def count(self) -> int:
        return sum(map(len, self.times.values()))


def make_clients(base_url: str, n: int) -> list[httpx.AsyncClient]:
    # One connection per learner, as a browser tab's keep-alive would be; cookies kept per client.
    limits = httpx.Limits(max_connections=2, max_keepalive_connections=2)
    return [httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) for _ in range(n)]


async def close_clients(clients: list[httpx.AsyncClient]) -> None:
    await asyncio.gather(*(c.aclose() for c in clients))


async def timed_get(client: httpx.AsyncClient, path: str, label: str, samples: Samples) -> None:
    t0 = time.perf_counter()
    try:
        r = await client.get(path)
        await r.aread()
        ok = r.status_code == 200
    except httpx.HTTPError:
        ok = False
    dt = time.perf_counter() - t0
    if ok:
        samples.add(label, dt)
    else:
        samples.fail(label)


async def learner(client: httpx.AsyncClient, mix: list[tuple[str, str, float]], think: float,
                  until: float, samples: Samples, rng: random.Random, stop: asyncio.Event | None = None) -> None:
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


async def run_load(clients: list[httpx.AsyncClient], mix: list[tuple[str, str, float]], think: float,
                   seconds: float, seed: int = 0, stop: asyncio.Event | None = None,
                   samples: Samples | None = None) -> Samples:
    """Every client runs `learner` for `seconds` at most (less if `stop` is set)."""
    samples = samples if samples is not None else Samples()
    until = time.monotonic() + seconds
    await asyncio.gather(*(learner(c, mix, think, until, samples, random.Random(seed * 1000 + i), stop)
                           for i, c in enumerate(clients)))
    return samples


async def warm_up(clients: list[httpx.AsyncClient], path: str, tries: int = 5) -> None:
    """One GET per client (its session cookie, compiled templates), retried on a refused connect."""
    async def one(c: httpx.AsyncClient) -> None:
        for i in range(tries):
            try:
                (await c.get(path)).raise_for_status()
                return
            except httpx.TransportError:
                if i == tries - 1:
                    raise
                await asyncio.sleep(0.2 * (i + 1))
    await asyncio.gather(*(one(c) for c in clients))

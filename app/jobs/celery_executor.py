"""The web node's side of JOB_BACKEND=celery: runs go to worker nodes as Celery tasks, and their
events come back from one Redis stream per run (XREAD), to the manager's same handler.

A reader thread follows every active run's stream from the last entry it read (so entries are
never handled twice, even when a restarted Redis is sent them again), tells the node what it has
read (so the node can let a finished run go), repeats crash requests until the run ends, and
watches each run's heartbeat key: missing for HEARTBEAT_TTL_S after it was seen (or never seen
START_TIMEOUT_S after the hand-over), the run is "lost" and the manager marks it
interrupted, resumable on any node.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import redis

from app.jobs import redis_keys as rk
from app.jobs.celery_app import HEARTBEAT_S, START_TIMEOUT_S, TASK, make_celery, node_queue
from app.jobs.executors import Deliver, NoRoom
from app.jobs.protocol import Job
from app.jobs.redis_keys import Keys, node_key
from app.settings import Settings

log = logging.getLogger(__name__)
DOWN = (redis.ConnectionError, redis.TimeoutError)


@dataclass
class _Remote:
    run_id: str
    keys: Keys
    node: str
    places: int = 1  # slots of its node it takes (a sharded experiment's ranks)
    last_id: str = "0-0"
    launched: float = field(default_factory=time.monotonic)
    seen: bool = False  # its heartbeat was seen once: a node has it
    missing_since: float | None = None
    kill: bool = False
    lost: bool = False


def _nowhere(run_id: str, event: dict) -> None:
    pass  # events before start() has a place to deliver them: none are read yet


class RemoteProcess:
    """What the manager holds for a run on another node: kill() is a crash request."""

    def __init__(self, executor: CeleryExecutor, run_id: str):
        self.executor, self.run_id, self.pid = executor, run_id, None

    def kill(self) -> None:
        self.executor.kill(self.run_id)


class CeleryExecutor:
    remote = True

    def __init__(self, settings: Settings):
        self.settings = settings
        # Any: redis-py types its replies as bytes or str alike; this client's are bytes.
        self.redis: Any = redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=2)
        self.celery = make_celery(settings)
        self._runs: dict[str, _Remote] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._deliver: Deliver = _nowhere
        self._nodes: dict[str, int] = {}  # live worker nodes and their slots, as last read
        # This web node's runs, apart from another web node's sharing the Redis: by its DATA_DIR.
        self.web = hashlib.sha256(str(settings.data_dir.resolve()).encode()).hexdigest()[:8]

    def start(self, deliver: Deliver) -> None:
        self._deliver = deliver
        self._kill_orphans()
        self._thread = threading.Thread(target=self._read, name="celery-events", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """The web node stops: its runs stop too (as a laptop's die with their server), and their
        nodes need not keep the slots waiting for this node to read their last events."""
        self._stop.set()
        if self._thread:
            self._thread.join(5)
        with self._lock:
            remotes = list(self._runs.values())
        try:
            pipe = self.redis.pipeline(transaction=False)
            for remote in remotes:
                pipe.set(remote.keys.kill, 1, ex=rk.KILL_TTL_S)
                pipe.set(remote.keys.ack, rk.READ_ALL, ex=rk.ENDED_ACK_TTL_S)
            pipe.execute()
        except DOWN:
            pass  # stopped at the web node's next start (_kill_orphans)

    def _kill_orphans(self) -> None:
        """Runs this web node handed out before it stopped were marked interrupted at start; on a
        laptop they died with the server, here they are told to (nothing may write behind the
        back of the new server)."""
        try:
            for key in self.redis.scan_iter(match=rk.owner_pattern(self.web), count=1000):
                keys = Keys.of_owner_key(key.decode())
                self.redis.set(keys.kill, 1, ex=rk.KILL_TTL_S)
                # Nobody reads it: its node lets it go.
                self.redis.set(keys.ack, rk.READ_ALL, ex=rk.ENDED_ACK_TTL_S)
        except DOWN:
            log.warning("Redis is unreachable at start: runs of an earlier start are not stopped")

    def launch(self, job: Job) -> tuple[RemoteProcess, None]:
        keys = Keys(f"{self.web}:{job.run_id}:{secrets.token_hex(4)}")
        node, places = self._pick_node(job.places)
        if node is None and self._nodes:
            raise NoRoom(f"no worker node has {places} free slots now")
        if node is None:
            raise RuntimeError("no worker node is up")  # the manager keeps the run first in line
        # Raises while Redis is unreachable: the manager keeps the run first in line.
        self.celery.send_task(
            TASK,
            args=[job.to_wire(), keys.name],
            task_id=keys.name,
            queue=node_queue(self.settings.celery_queue, node),
        )
        with self._lock:
            self._runs[job.run_id] = _Remote(job.run_id, keys, node, places)
        return RemoteProcess(self, job.run_id), None

    def _pick_node(self, wanted: int = 1) -> tuple[str | None, int]:
        """The live node with the most free slots (the slots of runs handed to it and not ended
        count), if it has room for `wanted` of them (at most a whole node: the ranks of one
        experiment run on one node); and the slots the run takes."""
        with self._lock:
            busy: dict[str, int] = {}
            for remote in self._runs.values():
                busy[remote.node] = busy.get(remote.node, 0) + remote.places
            free = {name: slots - busy.get(name, 0) for name, slots in self._nodes.items()}
            places = max(1, min(wanted, max(self._nodes.values(), default=1)))
        best = max(sorted(free), key=lambda name: free[name]) if free else None
        return (best if best is not None and free[best] >= places else None), places

    def slots(self) -> int:
        return sum(self._nodes.values())

    def kill(self, run_id: str) -> None:
        with self._lock:
            remote = self._runs.get(run_id)
            if remote is None:
                return
            remote.kill = True
        self._send_kill(remote)

    def _send_kill(self, remote: _Remote) -> None:
        with contextlib.suppress(*DOWN):  # sent again by the reader every round until the run ends
            self.redis.set(remote.keys.kill, 1, ex=rk.KILL_TTL_S)

    def forget(self, run_id: str) -> None:
        with self._lock:
            remote = self._runs.pop(run_id, None)
        if remote is not None:
            try:
                pipe = self.redis.pipeline(transaction=False)
                pipe.delete(*remote.keys.transient())
                # Everything read: the node lets the run go at once instead of waiting for it.
                pipe.set(remote.keys.ack, rk.READ_ALL, ex=rk.ENDED_ACK_TTL_S)
                # A run that ended before any node took it (lost, or its node died holding the
                # message) can never start later behind the learner's back: the claim is taken.
                pipe.set(remote.keys.claim, "ended", ex=rk.CLAIM_TTL_S, nx=True)
                if remote.lost:
                    # Declared lost, it may only be cut off: if its node reaches Redis again, the
                    # relay finds this and kills the run, which is "interrupted" here already.
                    pipe.set(remote.keys.kill, 1, ex=rk.LOST_KILL_TTL_S)
                pipe.execute()
            except DOWN:
                pass  # tiny keys; a later run never reuses them (fresh token)

    def owner(self, run_id: str) -> dict:
        """Which node and pid run it (for tests and operators)."""
        with self._lock:
            remote = self._runs.get(run_id)
        if remote is None:
            return {}
        return {k.decode(): v.decode() for k, v in self.redis.hgetall(remote.keys.owner).items()}

    # --- the reader thread ---
    def _read(self) -> None:
        next_check = 0.0
        while not self._stop.is_set():
            try:
                with self._lock:
                    streams = {r.keys.events: r.last_id for r in self._runs.values() if not r.lost}
                    by_stream = {r.keys.events: r for r in self._runs.values()}
                if streams:
                    for stream, entries in self.redis.xread(streams, count=1000, block=100) or []:
                        self._take(by_stream[stream.decode()], entries)
                else:
                    self._stop.wait(0.2)
                if time.monotonic() >= next_check:
                    next_check = time.monotonic() + min(1.0, HEARTBEAT_S)
                    self._check()
            except DOWN:
                # Redis restarting: nodes keep their events until it is back, and heartbeats
                # missed meanwhile say nothing about the nodes.
                with self._lock:
                    for remote in self._runs.values():
                        remote.missing_since = None
                self._stop.wait(0.5)
            except Exception:
                log.exception("celery event reader error")
                self._stop.wait(0.5)

    def _take(self, remote: _Remote, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        last_seq = 0
        for raw_id, fields in entries:
            entry_id = raw_id.decode()
            seq = int(entry_id.split("-")[0])
            if seq <= int(remote.last_id.split("-")[0]):
                continue  # sent again after a Redis restart: already handled
            remote.last_id, last_seq = entry_id, seq
            self._deliver(remote.run_id, json.loads(fields[b"e"]))
        if last_seq:
            self.redis.set(remote.keys.ack, last_seq, ex=rk.ACK_TTL_S)

    def _count_slots(self) -> None:
        prefix = node_key(self.settings.celery_queue, "")
        keys = list(self.redis.scan_iter(match=prefix + "*", count=1000))
        values = self.redis.mget(keys) if keys else []
        nodes = {
            k.decode()[len(prefix) :]: int(v) for k, v in zip(keys, values, strict=True) if v is not None
        }
        grew = sum(nodes.values()) > self.slots()
        self._nodes = nodes
        if grew:
            self._deliver("", {"type": "slots"})  # wakes the monitor to start waiting runs

    def _check(self) -> None:
        self._count_slots()
        now = time.monotonic()
        with self._lock:
            remotes = [r for r in self._runs.values() if not r.lost]
        if not remotes:
            return
        pipe = self.redis.pipeline(transaction=False)
        for r in remotes:
            pipe.exists(r.keys.heartbeat)
        alive = pipe.execute()
        ttl = self.settings.heartbeat_ttl_s
        for remote, beating in zip(remotes, alive, strict=True):
            if remote.kill:
                self._send_kill(remote)
            if beating:
                remote.seen, remote.missing_since = True, None
                continue
            if remote.missing_since is None:
                remote.missing_since = now
            if remote.seen and now - remote.missing_since > ttl:
                reason = f"its worker node stopped answering (no heartbeat for {ttl:.0f} s)"
            elif not remote.seen and now - remote.launched > START_TIMEOUT_S:
                reason = f"no worker node started it within {START_TIMEOUT_S:.0f} s"
            else:
                continue
            remote.lost = True
            log.warning("run %s lost: %s", remote.run_id, reason)
            self._deliver(remote.run_id, {"type": "lost", "reason": reason})

"""A worker node's side of one run: start a FRESH process for it, relay its events to Redis.

The run's process comes from this node's forkserver (torch preloaded), exactly as on a laptop,
and sends its dict events on a pipe. The relay numbers them and appends them to the run's
Redis stream with the number as the entry id ("<seq>-0"). It keeps every event until the web
node has read the last one, so that a Redis that restarted (and lost everything) gets them all
again: entries the web node already had are skipped by their ids, nothing is lost or doubled.
Meanwhile it refreshes the run's heartbeat key and SIGKILLs the process when the web node asks.
"""

from __future__ import annotations

import json
import logging
import multiprocessing.connection
import os
import time
from pathlib import Path
from typing import Any

import redis

from app.jobs import processes
from app.jobs.celery_app import ACK_TIMEOUT_S, HEARTBEAT_S
from app.jobs.events import unbatch
from app.jobs.protocol import Job
from app.jobs.redis_keys import CLAIM_TTL_S, Keys
from app.settings import Settings

log = logging.getLogger(__name__)
TICK_S = 0.05  # how often events are sent and a crash request looked for (~0.1 ms of CPU each)
ACK_POLL_S = 0.01  # after the end: the slot is free as soon as the web node has read the exit
DOWN = (redis.ConnectionError, redis.TimeoutError)


# Appends events seq, seq+1, … to the stream only if the claim key is still there: a Redis that
# restarted has lost it (and the stream), and then nothing is added until the relay has taken
# the claim again and sends every event from seq 1. Atomic, so the web node never reads a new
# entry of a restarted Redis before the older ones that it lost. An id already in the stream
# (its reply was lost with a connection) is skipped.
APPEND = """
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
local first = tonumber(ARGV[1])
for i = 2, #ARGV do
  redis.pcall('XADD', KEYS[1], string.format('%d-0', first + i - 2), 'e', ARGV[i])
end
return #ARGV - 1
"""


class Relay:
    def __init__(self, client: redis.Redis, keys: Keys, settings: Settings, node: str):
        self.r, self.keys, self.settings, self.node = client, keys, settings, node
        self.append = client.register_script(APPEND)
        self.log: list[str] = []  # event i has seq i + 1
        self.sent = 0  # events in the stream of the Redis we talk to
        self.owner: dict = {}
        self.next_beat = 0.0
        self.lost_claim = False

    def add(self, event: dict) -> None:
        self.log.append(json.dumps(event))

    def pending(self) -> bool:
        return len(self.log) > self.sent

    def tick(self) -> bool:
        """Send what is new, beat, and say whether the web node asks for a SIGKILL. Redis being
        down is not an error here: everything is kept and sent again when it is back."""
        try:
            if self.lost_claim:
                self._claim_again()
            pipe = self.r.pipeline(transaction=False)
            now = time.monotonic()
            if now >= self.next_beat:
                pipe.set(self.keys.heartbeat, self.node, ex=max(1, round(self.settings.heartbeat_ttl_s)))
                self.next_beat = now + HEARTBEAT_S
            # Called with nothing new too: it is also how a restart of Redis is noticed.
            pending = self.log[self.sent :]
            self.append(keys=[self.keys.events, self.keys.claim], args=[self.sent + 1, *pending], client=pipe)
            pipe.exists(self.keys.kill)
            replies = pipe.execute()
            if replies[-2] == -1:
                self.lost_claim = True  # Redis restarted: claim again, then send all
            else:
                self.sent += len(pending)
            return bool(replies[-1])
        except DOWN:
            self.next_beat = 0.0
            return False

    def _claim_again(self) -> None:
        log.warning(
            "Redis lost run %s's keys (restarted?): sending its %d events again",
            self.keys.name,
            len(self.log),
        )
        pipe = self.r.pipeline(transaction=False)
        pipe.set(self.keys.claim, self.node, ex=CLAIM_TTL_S)
        if self.owner:
            pipe.hset(self.keys.owner, mapping=self.owner)
        pipe.execute()
        self.sent, self.lost_claim = 0, False

    def acked(self) -> bool:
        try:
            return int(self.r.get(self.keys.ack) or 0) >= len(self.log)
        except DOWN:
            return False


def outside_data_dir(job: Job, settings: Settings) -> str | None:
    """Why this node refuses the job, if it names a folder outside the node's own DATA_DIR (or its
    PRETRAINED_DIR, for pretrained models): a task carries absolute paths, and a node reads and
    writes only where its own runs live, whatever a task sent through Redis says."""
    data = settings.data_dir.resolve()
    roots = (data, settings.pretrained_path.resolve())
    wanted: list[tuple[str, tuple[Path, ...]]] = [(job.run_dir, (data,))]
    if job.resume is not None:
        wanted.append((job.resume.checkpoint, (data,)))
    if job.task == "finetune":
        wanted.append((job.pretrained_dir, roots))
    if job.task == "pretrain":
        wanted += [(str(out), roots) for out in dict(job.config.get("outs") or {}).values()]
    for path, allowed in wanted:
        if not any(Path(path).resolve().is_relative_to(root) for root in allowed):
            return f"refused by worker node: {path} is outside its DATA_DIR {data}"
    return None


def run(wire: dict, name: str, settings: Settings, node: str) -> str:
    """The Celery task's body on a worker node: one run, from start to its exit code."""
    from app.jobs.entry import run_job

    client = redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=2)
    keys = Keys(name)
    if not client.set(keys.claim, node, nx=True, ex=CLAIM_TTL_S):
        log.warning("run %s was already taken by %s; not started twice", name, client.get(keys.claim))
        return "duplicate"
    job = Job.from_wire(wire)
    relay = Relay(client, keys, settings, node)
    refused = outside_data_dir(job, settings)
    if refused:
        log.warning("run %s: %s", job.run_id, refused)
        relay.add({"type": "error", "error": refused})
        relay.add({"type": "exit", "code": 1})
        _hand_over(relay, settings, job.run_id)
        return "refused"
    ctx = processes.context(job.threads)
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=run_job, args=(job.to_wire(), sender), name=f"train-{job.run_id}", daemon=True)
    proc.start()
    sender.close()
    relay.owner = {"node": node, "pid": proc.pid, "node_pid": os.getpid()}
    try:
        client.hset(keys.owner, mapping=relay.owner)
    except DOWN:
        relay.lost_claim = True  # set with the claim again once Redis answers
    relay.add({"type": "started", "node": node, "pid": proc.pid})
    log.info("run %s started in pid %s on %s", job.run_id, proc.pid, node)
    try:
        _supervise(proc, receiver, relay)
    finally:
        if proc.is_alive():  # the relay itself failed: no run trains unseen
            proc.kill()
        receiver.close()
    relay.add({"type": "exit", "code": proc.exitcode})
    log.info("run %s ended with exit code %s", job.run_id, proc.exitcode)
    _hand_over(relay, settings, job.run_id)
    return f"exit {proc.exitcode}"


def _hand_over(relay: Relay, settings: Settings, run_id: str) -> None:
    """The events must reach the web node even if Redis restarts now: kept until it read them."""
    deadline = time.monotonic() + ACK_TIMEOUT_S
    while time.monotonic() < deadline:
        relay.tick()
        if relay.acked():
            return
        time.sleep(ACK_POLL_S)
    log.warning(
        "run %s: the web node did not read its last events within %.0f s",
        run_id,
        ACK_TIMEOUT_S,
    )


def _supervise(proc: Any, receiver: Any, relay: Relay) -> None:
    open_pipe = True
    next_tick = 0.0  # the next look at Redis: heartbeat, crash request, new events
    sent = float("-inf")  # when events last went out
    while True:
        # Until the next tick at most: an event that wakes us must not push the tick back (it did,
        # and a run's events then waited for a quiet 50 ms: checkpoints reached Redis ~66 ms late).
        timeout = max(0.0, next_tick - time.monotonic())
        ready = multiprocessing.connection.wait(
            [proc.sentinel, *([receiver] if open_pipe else [])], timeout=timeout
        )
        if receiver in ready:
            open_pipe = _drain(receiver, relay)
        if proc.sentinel in ready:
            proc.join(5)
            if open_pipe:
                _drain(receiver, relay)
            return
        now = time.monotonic()
        # Events after a quiet spell go out at once (a run at the form's pace: one per epoch);
        # a busy run's go out together, one send per tick.
        if now >= next_tick or (relay.pending() and now >= sent + TICK_S):
            if relay.pending():
                sent = now
            next_tick = now + TICK_S
            if relay.tick():
                proc.kill()  # SIGKILL, as the Crash button on a laptop: exactly this run's process


def _drain(receiver: Any, relay: Relay) -> bool:
    try:
        while receiver.poll():
            for event in unbatch(receiver.recv()):
                relay.add(event)
    except (EOFError, OSError):
        return False
    return True

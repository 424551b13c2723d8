"""A worker node, started by `python -m app.worker` (JOB_BACKEND=celery on the web node, same
REDIS_URL; app/worker.py says why the entry module is apart from this one).

A Celery worker with one slot per core (WORKER_CONCURRENCY). Its pool is threads: a slot only
supervises; each run trains in a fresh process from this node's forkserver, which imported
torch once, with one torch thread (processes.TORCH_THREADS). A crash is then a SIGKILL of that
process alone, and the node and its other runs go on. DATA_DIR must be the filesystem the web
node and every other node share (the job names its folders by absolute path); a node refuses a
job whose folders lie outside its own DATA_DIR (app/jobs/relay.py `outside_data_dir`).

Redis is the only way in: give it a password (`requirepass`, REDIS_URL=redis://:PASSWORD@host)
and bind it to the private interface the nodes share, never to a public one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from typing import Any

import redis

from app.jobs import processes, relay
from app.jobs.celery_app import HEARTBEAT_S, TASK, make_celery, node_queue
from app.jobs.redis_keys import node_key
from app.settings import get_settings

settings = get_settings()
celery_app = make_celery(settings)


@celery_app.task(name=TASK, bind=True)
def run(self: Any, wire: dict, name: str) -> str:
    return relay.run(wire, name, settings, self.request.hostname)


def announce(name: str, slots: int) -> None:
    """While this node lives, its slots are counted by the web node, which hands out no more runs
    than the live nodes can start at once (the rest wait in its own line, in order)."""
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=2)
    while True:
        with contextlib.suppress(redis.RedisError):  # Redis restarting: announced again on the next beat
            client.set(
                node_key(settings.celery_queue, name), slots, ex=max(1, round(settings.heartbeat_ttl_s))
            )
        time.sleep(HEARTBEAT_S)


def main() -> None:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    concurrency = settings.worker_concurrency or os.cpu_count() or 1
    name = settings.worker_name or f"run@{socket.gethostname()}"
    # torch is imported by the forkserver before the node takes its first run.
    processes.warm_up(processes.TORCH_THREADS)
    threading.Thread(target=announce, args=(name, concurrency), name="announce", daemon=True).start()
    celery_app.worker_main(
        [
            "worker",
            "--pool=threads",
            f"--concurrency={concurrency}",
            f"--hostname={name}",
            f"--queues={node_queue(settings.celery_queue, name)}",
            f"--loglevel={settings.log_level.upper()}",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )

"""A real Redis and real Celery worker nodes for JOB_BACKEND=celery, as tests and benchmarks start
them (`tests/conftest.py`, `bench/distributed.py`). Each runs in its own process group, so that
killing it is losing it whole, as a pulled plug would."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Self

from bench.server import REPO, free_port

REDIS_SERVER = "/usr/bin/redis-server"


class RedisServer:
    """Debian's redis-server on a free port, without persistence: a restart loses everything,
    which is what the nodes' relays must survive."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20) -> Self:
        import redis

        self.folder.mkdir(parents=True, exist_ok=True)
        command = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.folder)]
        with open(self.folder / f"redis-{self.port}.log", "ab") as log:
            self.proc = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if redis.Redis.from_url(self.url, socket_timeout=1).ping():
                    return self
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


class CeleryNode:
    """`python -m app.worker` with one slot: the Celery worker, its forkserver and its runs."""

    def __init__(self, name: str, redis_url: str, folder: Path, env: Mapping[str, str]) -> None:
        self.name, self.redis_url, self.folder, self.env = name, redis_url, folder, dict(env)
        self.log = folder / f"worker-{name.split('@')[0]}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 180) -> Self:
        env = {
            **os.environ,
            **self.env,
            "JOB_BACKEND": "celery",
            "REDIS_URL": self.redis_url,
            "WORKER_NAME": self.name,
            "WORKER_CONCURRENCY": "1",
            "LOG_LEVEL": "info",
        }
        self.folder.mkdir(parents=True, exist_ok=True)
        start_at = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "app.worker"],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited: {self.log.read_text()[-2000:]}")
            with open(self.log, "rb") as f:
                f.seek(start_at)
                if f" {self.name} ready.".encode() in f.read():
                    return self
            time.sleep(0.2)
        raise RuntimeError(f"worker {self.name} did not start: {self.log.read_text()[-2000:]}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL of the whole node, as a pulled plug."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

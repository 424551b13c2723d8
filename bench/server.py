"""The real server that tests and benchmarks start: `python -m app` as a subprocess on loopback.

Used by `tests/conftest.py` and `bench/common.py` alike, so both drive the app the way `make serve`
starts it. The server runs in its own process group: stopping it also ends its forkserver and the
runs' processes, whatever state the test or benchmark left them in."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

REPO = Path(__file__).resolve().parent.parent
SOURCES = ("resnet_mini", "convnet_mini")
PRETRAIN = """
import sys, torch
torch.set_num_threads(1)
from app.ml.finetune import pretrain_to_file
pretrain_to_file(sys.argv[1], sys.argv[2])
"""


# The modules pretraining runs (app.ml.finetune and what it imports): their code and torch's version
# decide the sources' bytes, so only a change to them pretrains again.
PRETRAIN_CODE = ("finetune", "backbones", "catalog", "vision", "transfer", "checkpoint", "layout")


def shared_pretrained_dir() -> Path:
    """Pretrained sources kept in .cache between test sessions and benchmark runs, for as long as
    the ML code that makes them (and torch) stays the same."""
    digest = hashlib.sha256(importlib.metadata.version("torch").encode())
    for name in PRETRAIN_CODE:
        digest.update((REPO / "app" / "ml" / f"{name}.py").read_bytes())
    return REPO / ".cache" / f"pretrained-{digest.hexdigest()[:12]}"


def pretrain(folder: Path) -> Path:
    """The transfer lesson's pretrained sources in `folder` (made now, both at once, if missing), for
    servers to share through PRETRAINED_DIR: no server then spends its start pretraining. A lock
    beside the folder lets parallel test workers share one build."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f"{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        missing = [name for name in SOURCES if not (folder / f"{name}.pt").exists()]
        procs = [
            subprocess.Popen([sys.executable, "-c", PRETRAIN, name, str(folder / f"{name}.pt")], cwd=REPO)
            for name in missing
        ]
        if not all(p.wait(600) == 0 for p in procs):
            raise RuntimeError("pretraining the transfer sources failed")
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """`python -m app` on DATA_DIR (a fresh temporary folder when none is given), with `env` on
    top of this process's environment. Its log is a file beside DATA_DIR."""

    def __init__(self, data_dir: Path | None = None, env: Mapping[str, object] | None = None) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="checkpoint-lab-")
            data_dir = Path(self._tmp.name) / "data"
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_env = {k: str(v) for k, v in (env or {}).items() if v is not None}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.data_dir.parent / f"server-{self.port}.log"
        self.started_at = 0.0

    def spawn(self) -> None:
        env = {
            **os.environ,
            "DATA_DIR": str(self.data_dir),
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "SECRET_KEY": "not-a-secret",  # a fixed key: sessions survive a restart on the same DATA_DIR
            **self.extra_env,
        }
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.started_at = time.perf_counter()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "app"],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_healthy(self, timeout: float = 90, interval: float = 0.05) -> float:
        """Seconds from spawn to the first 200 on /healthz."""
        assert self.proc is not None, "spawn() first"
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2) as c:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited: {self.log_tail()}")
                try:
                    if c.get(self.url + "/healthz").status_code == 200:
                        return time.perf_counter() - self.started_at
                except httpx.HTTPError:
                    pass
                time.sleep(interval)
        raise RuntimeError(f"server did not start: {self.log_tail()}")

    def start(self, timeout: float = 90) -> Self:
        self.spawn()
        self.wait_healthy(timeout)
        return self

    def kill(self) -> None:
        """SIGKILL the server process only, as an OOM killer or a pulled plug would."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """Ask the server to shut down, then SIGKILL whatever is left of its process group."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
        if self.proc:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
        if self._tmp is not None:
            self._tmp.cleanup()

    def log_tail(self, chars: int = 2000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            alive = self.proc is not None and self.proc.poll() is None
            print(f"  server (alive: {alive}) log tail:\n{self.log_tail(3000)}", file=sys.stderr)
        self.stop()

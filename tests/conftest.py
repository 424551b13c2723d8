"""Shared fixtures: an app on a temporary DATA_DIR, a real uvicorn server, and Debian's Chromium."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent
# Answering all 288 transfer questions in the background costs CPU that tests need elsewhere;
# every app and server a test starts inherits this (the test of prewarming turns it back on).
os.environ["TRANSFER_PREWARM"] = "false"
CHROMIUM = "/usr/bin/chromium"
# Chromium must not try to reach the network: this machine has none, and a test must notice
# any request that leaves the app, not wait for background updaters.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PRETRAIN = """
import sys, torch
torch.set_num_threads(1)
from app.ml.finetune import pretrain_to_file
pretrain_to_file(sys.argv[1], sys.argv[2])
"""


@pytest.fixture(scope="session")
def pretrained_dir(tmp_path_factory) -> Path:
    """Pretrained transfer sources shared by every app of a test session: pretrained once, up
    front and in parallel, so that no app of the session queues pretraining of its own."""
    folder = tmp_path_factory.mktemp("pretrained")
    procs = [
        subprocess.Popen([sys.executable, "-c", PRETRAIN, name, str(folder / f"{name}.pt")], cwd=REPO)
        for name in ("resnet_mini", "convnet_mini")
    ]
    assert all(p.wait(600) == 0 for p in procs), "pretraining the transfer sources failed"
    return folder


@pytest.fixture
def settings(tmp_path, pretrained_dir):
    from app.settings import Settings

    # Prewarming answers 288 transfer questions in the background: CPU the tests need elsewhere.
    return Settings(
        data_dir=tmp_path / "data",
        tutorials_dir=REPO / "tutorials",
        secret_key="test-secret",
        pretrained_dir=pretrained_dir,
        transfer_prewarm=False,
    )


@pytest.fixture
def client(settings):
    """An in-process app (TestClient runs the lifespan, so the job manager is live)."""
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(settings)) as c:
        # As a browser opening the lesson would: runs and uploads need an established session.
        assert c.get("/api/session").json() == {"established": True}
        yield c


class Server:
    def __init__(self, data_dir: Path, tutorials_dir: Path = REPO / "tutorials", env: dict | None = None):
        self.data_dir = data_dir
        self.tutorials_dir = tutorials_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_env = env or {}
        self.proc: subprocess.Popen | None = None
        self.log = data_dir.parent / f"server-{self.port}.log"

    def start(self, timeout: float = 60) -> Server:
        env = {
            **os.environ,
            "DATA_DIR": str(self.data_dir),
            "TUTORIALS_DIR": str(self.tutorials_dir),
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "SECRET_KEY": "test-secret",
            **self.extra_env,
        }
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log, "ab")
        # Its own process group, so a SIGKILL of the group also takes the forkserver and workers.
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not start: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL the server process only, as an OOM killer or a pulled plug would."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.proc:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture
def server_factory(tmp_path, pretrained_dir):
    servers: list[Server] = []

    def make(data_dir: Path | None = None, **kwargs) -> Server:
        kwargs.setdefault("env", {"PRETRAINED_DIR": str(pretrained_dir), "TRANSFER_PREWARM": "false"})
        srv = Server(data_dir or tmp_path / "data", **kwargs)
        servers.append(srv)
        return srv.start()

    yield make
    for srv in servers:
        srv.stop()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, pretrained_dir):
    """One real server for the browser tests of a session."""
    srv = Server(
        tmp_path_factory.mktemp("live") / "data",
        env={"PRETRAINED_DIR": str(pretrained_dir), "TRANSFER_PREWARM": "false"},
    ).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser context (its own cookies: its own learner) that records problems.

    Every request must go to the app itself; console errors and failed requests fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
    page = context.new_page()
    problems: list[str] = []
    page.on(
        "console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))

    def check_request(request):
        if not request.url.startswith(live_server.url) and not request.url.startswith(("data:", "about:")):
            problems.append(f"request left the app: {request.url}")

    page.on("request", check_request)
    page.problems = problems
    yield page
    context.close()
    assert not problems, problems


# --- JOB_BACKEND=celery: a real Redis and two real Celery worker nodes, started here ---
REDIS_SERVER = "/usr/bin/redis-server"


class RedisServer:
    """Debian's redis-server on a free port, without persistence: a restart loses everything,
    which is what the relays must survive."""

    def __init__(self, folder: Path):
        self.folder, self.port = folder, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 20) -> RedisServer:
        import redis

        self.folder.mkdir(parents=True, exist_ok=True)
        log = open(self.folder / f"redis-{self.port}.log", "ab")
        self.proc = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
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
    """`python -m app.worker` with one slot, in its own process group: killing the group is
    losing the whole node (the Celery worker, its forkserver and its runs)."""

    def __init__(self, name: str, redis_url: str, folder: Path, env: dict):
        self.name, self.redis_url, self.folder, self.env = name, redis_url, folder, env
        self.log = folder / f"worker-{name.split('@')[0]}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 180) -> CeleryNode:
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
        out = open(self.log, "ab")
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
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)


class CeleryCluster:
    HEARTBEAT_TTL_S = 3.0

    def __init__(self, folder: Path):
        self.redis = RedisServer(folder)
        # The nodes' DATA_DIR holds every test's DATA_DIR (and the pretrained models): a node
        # runs only jobs whose folders lie under its own DATA_DIR.
        env = {
            "HEARTBEAT_TTL_S": str(self.HEARTBEAT_TTL_S),
            "TRANSFER_PREWARM": "false",
            "DATA_DIR": str(folder.parent),
        }
        self.nodes = [CeleryNode(f"{n}@checkpoint-lab-test", self.redis.url, folder, env) for n in ("a", "b")]

    @property
    def settings_update(self) -> dict:
        """What a web node's Settings need to use this cluster (MAX_WORKERS: its two slots)."""
        return {
            "job_backend": "celery",
            "redis_url": self.redis.url,
            "max_workers": 2,
            "heartbeat_ttl_s": self.HEARTBEAT_TTL_S,
        }

    @property
    def env(self) -> dict:
        return {
            "JOB_BACKEND": "celery",
            "REDIS_URL": self.redis.url,
            "MAX_WORKERS": "2",
            "HEARTBEAT_TTL_S": str(self.HEARTBEAT_TTL_S),
        }

    def start(self) -> CeleryCluster:
        self.redis.start()
        for node in self.nodes:
            node.start()
        return self

    def revive(self) -> None:
        """After a test that killed a node or Redis: the next test gets the whole cluster."""
        if self.redis.proc is None or self.redis.proc.poll() is not None:
            self.redis.start()
        for node in self.nodes:
            if not node.alive():
                node.start()

    def stop(self) -> None:
        for node in self.nodes:
            node.kill()
        self.redis.stop()


@pytest.fixture(scope="session")
def celery_cluster(tmp_path_factory):
    """Redis and two Celery worker nodes (a@…, b@…, one slot each), shared by a test session."""
    if not os.path.exists(REDIS_SERVER):
        raise RuntimeError("redis-server is missing: `make test` installs Debian's redis-server")
    cluster = CeleryCluster(tmp_path_factory.mktemp("celery"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test that used a real server gets that server's last log lines in its report:
    a browser test that times out says what the page showed, not what the server did meanwhile
    (runs started and ended, errors), and CI keeps no files to look at afterwards."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    srv = getattr(item, "funcargs", {}).get("live_server")
    if isinstance(srv, Server) and srv.log.exists():
        tail = srv.log.read_text(errors="replace").splitlines()[-40:]
        report.sections.append(("live_server log (last 40 lines)", "\n".join(tail)))

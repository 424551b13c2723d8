"""Shared fixtures: an app on a temporary DATA_DIR, a real uvicorn server, and Debian's Chromium."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The real server (and Redis, and Celery worker nodes) of the tests, the same as the benchmarks'.
from bench.cluster import REDIS_SERVER, CeleryNode, RedisServer
from bench.server import REPO, Server, pretrain, shared_pretrained_dir

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


@pytest.fixture(scope="session")
def pretrained_dir() -> Path:
    """Pretrained transfer sources shared by every app of a test session (and by the next sessions
    and the benchmarks, while app/ml stays the same): pretrained up front, both at once, if
    missing, so that no app of the session queues pretraining of its own."""
    return pretrain(shared_pretrained_dir())


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

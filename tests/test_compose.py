"""compose.yaml, as written, makes a working deployment: its web node and worker node, started
with the services' own commands and environments (the host names and the shared volume
pointed at this machine), train a run end to end. No Docker engine is needed for this."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import httpx
import pytest
import yaml

from tests.conftest import REPO, CeleryNode, RedisServer, Server
from tests.simulator_helpers import API, start, wait_finished

COMPOSE = yaml.safe_load((REPO / "compose.yaml").read_text())


def expand(value) -> str:
    """${NAME:-default} as compose reads it, with nothing set in the environment; a required
    ${NAME:?message} (the Redis password) as the word PASSWORD."""
    value = re.sub(r"\$\{[A-Z_]+:\?[^}]*\}", "PASSWORD", str(value))
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def service_env(name: str, redis_url: str, data_dir) -> dict[str, str]:
    env = {k: expand(v) for k, v in COMPOSE["services"][name]["environment"].items()}
    assert env["REDIS_URL"] == "redis://:PASSWORD@redis:6379/0"  # the redis service, with its password
    assert env["DATA_DIR"] == "/data"
    return {**env, "REDIS_URL": redis_url, "DATA_DIR": str(data_dir)}


def test_web_and_workers_share_one_image_one_volume_and_one_redis():
    services = COMPOSE["services"]
    web, worker, redis = services["web"], services["worker"], services["redis"]
    assert web["image"] == worker["image"] and web["build"] == worker["build"]
    assert web["volumes"] == worker["volumes"] == ["lab-data:/data"]
    assert web["environment"]["JOB_BACKEND"] == worker["environment"]["JOB_BACKEND"] == "celery"
    assert worker["command"] == ["python", "-m", "app.worker"]
    assert "--save" in redis["command"]  # nothing in Redis has to outlive it
    assert [expand(a) for a in redis["command"][-2:]] == ["--requirepass", "PASSWORD"]
    assert "ports" not in redis  # reachable on the compose network only
    assert "8000:8000" in web["ports"]


class ComposeNode(CeleryNode):
    """The worker service: its command (this checkout's interpreter for the image's `python`) and
    its environment as compose.yaml gives it, WORKER_CONCURRENCY included."""

    def __init__(self, env: dict, folder):
        super().__init__("compose@checkpoint-lab-test", env["REDIS_URL"], folder, env)

    def start(self, timeout: float = 180) -> ComposeNode:
        command = [sys.executable, *COMPOSE["services"]["worker"]["command"][1:]]
        env = {
            **os.environ,
            **self.env,
            "WORKER_NAME": self.name,
            "LOG_LEVEL": "info",
            "TRANSFER_PREWARM": "false",
        }
        with open(self.log, "ab") as out:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while f" {self.name} ready.".encode() not in self.log.read_bytes():
            assert self.proc.poll() is None, self.log.read_text()[-2000:]
            assert time.monotonic() < deadline, self.log.read_text()[-2000:]
            time.sleep(0.2)
        return self


@pytest.mark.slow
def test_the_compose_services_train_a_run_end_to_end(tmp_path, pretrained_dir):
    redis = RedisServer(tmp_path / "redis").start()
    data = tmp_path / "data"
    node = web = None
    try:
        node = ComposeNode(service_env("worker", redis.url, data), tmp_path).start()
        web_env = {
            **service_env("web", redis.url, data),
            "PRETRAINED_DIR": str(pretrained_dir),
            "TRANSFER_PREWARM": "false",
        }
        web = Server(data, env=web_env).start()
        http = httpx.Client(base_url=web.url, timeout=30)
        run = start(http, epochs=3, checkpoint_every=1)
        done = wait_finished(http, run["id"], timeout=120)
        assert done["status"] == "done", done
        files = http.get(f"{API}/runs/{run['id']}/checkpoints").json()
        assert files, "the node wrote no checkpoint to the shared DATA_DIR"
        assert run["id"] in node.log.read_text()  # the node, not the web node, trained it
    finally:
        if web is not None:
            web.stop()
        if node is not None:
            node.kill()
        redis.stop()

"""JOB_BACKEND=celery: a ShardedCheckpointLab experiment runs its ranks on a worker node (a real
Redis and two real Celery nodes, tests/conftest.py), and its result comes back through the API."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

pytestmark = pytest.mark.slow
API = "/api/sharded-checkpoint-lab/experiments"


@pytest.fixture
def http(server_factory, pretrained_dir, celery_cluster) -> Iterator[httpx.Client]:
    celery_cluster.revive()
    server = server_factory(
        env={"PRETRAINED_DIR": str(pretrained_dir), "TRANSFER_PREWARM": "false", **celery_cluster.env}
    )
    with httpx.Client(base_url=server.url, timeout=30) as client:
        client.get("/api/session")
        yield client


def test_a_killed_rank_experiment_runs_on_a_worker_node_and_gives_its_result(http: httpx.Client) -> None:
    r = http.post(API, json={"case": "killed", "world": 2, "sharding": "sharded"})
    assert r.status_code == 201, r.text
    deadline = time.monotonic() + 240
    while (out := http.get(f"{API}/{r.json()['id']}").json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, out
        time.sleep(0.2)
    assert out["status"] == "done", out["error"]
    result = out["result"]
    assert result["before"]["complete"] and not result["during"]["complete"]
    assert result["during"]["ranks"][-1]["exit"] == -9  # the rank SIGKILLed during the save
    assert ".metadata" in result["load_error"]
    assert all(t["max_abs_diff"] == 0.0 for rank in result["previous"]["ranks"] for t in rank["tensors"])

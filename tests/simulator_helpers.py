"""Small helpers for driving the CheckpointSimulator API in tests."""

from __future__ import annotations

import time

API = "/api/checkpoint-simulator"
FINISHED = {"done", "crashed", "failed", "interrupted"}


def start(client, **body) -> dict:
    if not client.cookies:
        client.get("/api/session")  # as a browser has, from the page: runs need a session
    r = client.post(f"{API}/runs", json={"pace_ms": 0, **body})
    assert r.status_code == 201, r.text
    return r.json()


def get(client, run_id: str) -> dict:
    r = client.get(f"{API}/runs/{run_id}")
    assert r.status_code == 200, r.text
    return r.json()


def wait_for(client, run_id: str, predicate, timeout: float = 90.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        run = get(client, run_id)
        if predicate(run):
            return run
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out waiting on run {run_id}: {run['status']}, {len(run['epochs'])} epochs"
            )
        time.sleep(0.1)


def wait_finished(client, run_id: str, timeout: float = 90.0) -> dict:
    return wait_for(client, run_id, lambda r: r["status"] in FINISHED, timeout)


def wait_event(client, run_id: str, key: str, timeout: float = 60.0) -> dict:
    return wait_for(client, run_id, lambda r: r.get(key) is not None, timeout)


def train_config(**changes: object) -> dict:
    """A run's full training settings as JobManager.submit takes them: the lesson's usual ones,
    with `changes`."""
    return {
        "epochs": 200,
        "lr": 0.02,
        "optimizer": "adam",
        "scheduler": True,
        "checkpoint_every": 5,
        "keep_last": 3,
        "seed": 0,
        "batch_size": 64,
        **changes,
    }

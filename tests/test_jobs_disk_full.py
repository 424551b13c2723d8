"""A full data volume in the middle of a checkpoint write (issue 33.9), simulated with a file-size
limit set on the run's own process once its first checkpoint is on disk: every write past 4 KiB
then fails as a write to a full disk does."""

from __future__ import annotations

import resource
from pathlib import Path

import torch

from app.ml.checkpoint import TEMP_SUFFIX
from tests.simulator_helpers import API, start, wait_finished, wait_for


def test_a_full_disk_fails_the_run_keeps_the_last_checkpoint_and_the_server_serving(client, settings):
    run = start(client, epochs=30, checkpoint_every=1, keep_last=3, pace_ms=300)
    first = wait_for(client, run["id"], lambda r: r["checkpoints"] and r["live"] and r["live"]["pid"])
    saved = {c["file"] for c in first["checkpoints"]}
    resource.prlimit(first["live"]["pid"], resource.RLIMIT_FSIZE, (4096, 4096))

    ended = wait_finished(client, run["id"])
    assert ended["status"] == "failed"
    assert "the disk is full" in ended["error"]

    folder = Path(settings.data_dir) / "runs" / run["id"] / "checkpoints"
    assert not [p.name for p in folder.iterdir() if p.name.endswith(TEMP_SUFFIX)]  # no temp file left
    latest = next(c for c in ended["checkpoints"] if c["latest"])
    assert latest["file"] in saved | {c["file"] for c in ended["checkpoints"]}
    ckpt = torch.load(folder / latest["file"], map_location="cpu", weights_only=True)
    assert ckpt["epoch"] == latest["epoch"] and ckpt["model_state_dict"]  # the previous one is whole

    # The server keeps serving: pages, and a new run that trains to the end.
    assert client.get("/en/").status_code == 200
    assert client.get(f"{API}/runs/{run['id']}").status_code == 200
    after = start(client, epochs=2, checkpoint_every=1)
    assert wait_finished(client, after["id"])["status"] == "done"

"""Faults while runs save: live views never fail, listings tolerate vanishing files, a crash while
saving is always a crash."""

from __future__ import annotations

import time

import httpx

from tests.hostile.helpers import (
    SIM,
    established,
)
from tests.simulator_helpers import train_config


def test_live_views_never_fail_while_a_run_saves_every_epoch(server_factory):
    """The atomic writer renames temp files and keep-last 1 deletes the previous checkpoint at
    every epoch; the views list that folder meanwhile, from three browsers at once."""
    import threading

    server = server_factory()
    with httpx.Client(base_url=server.url, timeout=30) as owner:
        established(owner)
        r = owner.post(
            f"{SIM}/runs", json={"epochs": 60, "checkpoint_every": 1, "keep_last": 1, "pace_ms": 0}
        )
        assert r.status_code == 201, r.text
        run_id = r.json()["id"]
        cookies = dict(owner.cookies)
    statuses: list[int] = []
    done = threading.Event()

    def hammer(url: str):
        with httpx.Client(base_url=server.url, timeout=30, cookies=cookies) as c:
            while not done.is_set():
                statuses.append(c.get(url).status_code)

    urls = [
        f"/components/checkpoint-simulator/live?lang=en&run={run_id}",
        f"{SIM}/runs/{run_id}",
        f"{SIM}/runs",
    ]
    threads = [threading.Thread(target=hammer, args=(u,)) for u in urls]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 180
    with httpx.Client(base_url=server.url, timeout=30, cookies=cookies) as c:
        while c.get(f"{SIM}/runs/{run_id}").json()["status"] in ("queued", "running"):
            assert time.monotonic() < deadline
            time.sleep(0.5)
        final = c.get(f"{SIM}/runs/{run_id}").json()
    done.set()
    for t in threads:
        t.join(30)
    assert final["status"] == "done" and len(final["checkpoints"]) == 1
    assert len(statuses) > 100 and all(s == 200 for s in statuses), sorted(set(statuses))


def test_folder_listings_tolerate_files_vanishing(tmp_path, monkeypatch):
    from app.ml import layout

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    for e in (1, 2):
        (run / "checkpoints" / layout.checkpoint_name(e)).write_bytes(b"x" * e)
    (run / "checkpoints" / "ckpt-epoch-0003.pt.tmp").write_bytes(b"t")
    real_scandir = __import__("os").scandir

    class Vanishing:
        """scandir whose entries are deleted right after listing (the worker's keep-last-N)."""

        def __init__(self, path):
            self._it = real_scandir(path)

        def __enter__(self):
            entries = list(self._it)
            for entry in entries:
                __import__("os").unlink(entry.path)
            return iter(entries)

        def __exit__(self, *exc):
            self._it.close()

    assert [n for _, n, _ in layout.list_checkpoints(run)] == ["ckpt-epoch-0001.pt", "ckpt-epoch-0002.pt"]
    monkeypatch.setattr(layout.os, "scandir", Vanishing)
    assert layout.list_checkpoints(run) == [] and layout.temp_file_sizes(run) == []
    monkeypatch.undo()
    assert layout.list_checkpoints(tmp_path / "deleted-run") == []
    assert layout.file_size(run / "naive" / "latest.pt") is None


def test_crash_while_saving_is_a_crash_every_time(tmp_path):
    """Repeated: each run announces its crash and SIGKILLs itself half way through a save."""
    from app.jobs.manager import JobManager
    from app.settings import Settings

    jobs = JobManager(
        Settings(data_dir=tmp_path / "data", max_workers=2, max_active_runs_per_session=100, queue_max=100)
    )
    jobs.start()
    try:
        config = train_config(epochs=3, checkpoint_every=1, keep_last=2)
        ids = [
            jobs.submit_train(f"s{i}", config, {"pace_ms": 0, "crash_while_saving_at": 2}).id
            for i in range(24)
        ]
        deadline = time.monotonic() + 240
        while any(jobs.store.get(r).active for r in ids) or any(
            not jobs.store.events(r, "survivors") for r in ids if jobs.store.get(r).status == "crashed"
        ):
            assert time.monotonic() < deadline
            time.sleep(0.3)
        statuses = [jobs.store.get(r).status for r in ids]
        assert statuses == ["crashed"] * 24, [
            (r, jobs.store.get(r).error) for r in ids if jobs.store.get(r).status != "crashed"
        ]
        for r in ids:
            files = {f["file"]: f for f in jobs.store.events(r, "survivors")[0]["files"]}
            assert files["naive/latest.pt"]["ok"] is False  # torn, as taught
    finally:
        jobs.stop()


# ------------------------------------------------------------------ expiry and stream caps

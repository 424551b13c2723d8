"""SANDBOXES_MAX bounds every kind of throwaway sandbox together: labs and inspections share it."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from app.jobs import processes
from app.main import create_app

# Distinct questions (no cached answer): each needs a sandbox of its own.
LAB_URLS = [
    "/api/loading-clinic/cases/renamed_layer/fixes/strict_false",
    "/api/loading-clinic/cases/renamed_layer/fixes/rename_keys",
    "/api/loading-clinic/cases/size_mismatch/fixes/strict_false",
]


def test_labs_and_inspections_share_one_limit_of_sandboxes(settings, monkeypatch):
    lock, running, peak, release = threading.Lock(), [0], [0], threading.Event()

    def held_sandbox(fn, *args, **kwargs):
        """Stands in for the sandbox process: stays until the test has seen the limit filled."""
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        release.wait(60)
        with lock:
            running[0] -= 1
        raise processes.SandboxFailure("RuntimeError", "stand-in sandbox")

    monkeypatch.setattr(processes, "call_in_sandbox", held_sandbox)
    with TestClient(create_app(settings.model_copy(update={"sandboxes_max": 2}))) as c:
        assert c.get("/api/session").json() == {"established": True}

        def upload(i: int) -> int:
            files = {"file": (f"w{i}.pt", b"not a checkpoint", "application/octet-stream")}
            return c.post("/api/checkpoint-inspector/reports", files=files).status_code

        with ThreadPoolExecutor(6) as pool:
            asked = [pool.submit(lambda u=u: c.get(u).status_code) for u in LAB_URLS]
            # Two browsers' uploads (UPLOADS_PER_SESSION is per browser).
            asked += [pool.submit(upload, i) for i in range(2)]
            deadline = time.monotonic() + 60
            while running[0] < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert running[0] == 2, "two sandboxes never ran at once"
            release.set()
            answers = [f.result(timeout=120) for f in asked]
    # A lab that could not run says so (503); an inspection that failed is a report (201 or 422).
    assert answers[:3] == [503] * 3 and all(a in (201, 422) for a in answers[3:]), answers
    assert peak[0] == 2

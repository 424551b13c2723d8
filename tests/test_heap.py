"""The web process freezes what start-up built, so that the cycle collector's full passes walk
only what the class creates (app/heap.py)."""
from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings


def test_start_up_leaves_its_objects_out_of_the_collectors_reach(tmp_path):
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    app = create_app(Settings(data_dir=tmp_path / "data", transfer_prewarm=False))
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        frozen = gc.get_freeze_count()
    gc.unfreeze()  # the rest of the suite collects as usual
    assert frozen > 10_000

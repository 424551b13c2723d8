"""The web process freezes what start-up built, so that the cycle collector's full passes walk
only what the class creates (app/heap.py)."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from app import heap
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


def test_start_up_lets_short_lived_objects_die_before_a_young_collection(tmp_path):
    default = gc.get_threshold()
    gc.set_threshold(700, *default[1:])
    app = create_app(Settings(data_dir=tmp_path / "data", transfer_prewarm=False))
    try:
        with TestClient(app) as client:
            assert client.get("/healthz").status_code == 200
            first, *older = gc.get_threshold()
        assert first == heap.YOUNG_THRESHOLD > 700
        assert older == list(default[1:])  # the older generations keep Python's thresholds
        before = gc.get_count()[0]
        kept = [[] for _ in range(2_000)]  # more than the default threshold, fewer than ours
        assert gc.get_count()[0] > before + 1_000 > 700  # no young collection emptied it meanwhile
        del kept
    finally:
        gc.unfreeze()
        gc.set_threshold(*default)

"""The web process hands the GIL to its event loop more often than Python's default (app/gil.py)."""

from __future__ import annotations

import sys

from fastapi.testclient import TestClient

from app import gil
from app.main import create_app
from app.settings import Settings


def test_start_up_shortens_how_long_a_thread_keeps_the_gil(tmp_path):
    sys.setswitchinterval(0.005)  # Python's default, whatever an earlier test left
    app = create_app(Settings(data_dir=tmp_path / "data", transfer_prewarm=False))
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert sys.getswitchinterval() == gil.SWITCH_INTERVAL < 0.005

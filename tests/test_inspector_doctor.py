"""python -m app.checkpoint_doctor: the resume audit in a terminal, with its exit statuses, and
the same audit in the page and the JSON API."""

from __future__ import annotations

import json
import os
import pickle
import random
import subprocess
import sys

import pytest
import torch
from fastapi.testclient import TestClient
from torch import nn

from app.main import create_app
from app.settings import Settings
from tests.conftest import REPO


@pytest.fixture
def client(tmp_path):
    """An app with no pretrained models: the inspector needs none."""
    settings = Settings(
        data_dir=tmp_path / "data",
        tutorials_dir=REPO / "tutorials",
        secret_key="t",
        pretrained_dir=tmp_path / "nopre",
    )
    with TestClient(create_app(settings)) as c:
        yield c


def _lesson_checkpoint(path, with_optimizer: bool = True) -> None:
    model = nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(3, 4)).sum().backward()
    opt.step()
    ck = {
        "epoch": 1,
        "model_state_dict": model.state_dict(),
        "rng": {"python": random.getstate(), "torch": torch.get_rng_state()},
    }
    if with_optimizer:
        ck["optimizer_state_dict"] = opt.state_dict()
    torch.save(ck, path)


class Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def doctor(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "app.checkpoint_doctor", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_exit_statuses_of_the_command(tmp_path):
    _lesson_checkpoint(tmp_path / "full.pt")
    ok = doctor(str(tmp_path / "full.pt"))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Resumes exactly" in ok.stdout

    _lesson_checkpoint(tmp_path / "weights.pt", with_optimizer=False)
    finding = doctor(str(tmp_path / "weights.pt"), "--json")
    assert finding.returncode == 1, finding.stdout + finding.stderr
    report = json.loads(finding.stdout)
    assert report["audit"]["verdict"] == "weights_only"
    assert report["audit"]["findings"][0]["code"] == "no_optimizer"
    assert report["audit"]["findings"][0]["text"].startswith("No optimizer state")

    (tmp_path / "notes.txt").write_text("not a checkpoint")
    assert doctor(str(tmp_path / "notes.txt")).returncode == 2
    assert doctor(str(tmp_path / "missing.pt")).returncode == 2


def test_a_hostile_file_is_refused_by_the_command_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump({"x": Payload(marker)}, f, protocol=2)
    r = doctor(str(tmp_path / "evil.pt"), "--lang", "zh")
    assert r.returncode == 2 and "Unsupported global" in r.stdout
    assert not marker.exists()


def test_the_page_and_the_api_show_the_audit(client, tmp_path):
    _lesson_checkpoint(tmp_path / "w.pt", with_optimizer=False)
    data = (tmp_path / "w.pt").read_bytes()
    client.get("/api/session")
    api = client.post(
        "/api/checkpoint-inspector/reports?lang=zh", files={"file": ("my checkpoint.pth.tar", data)}
    )
    assert api.status_code == 201, api.text
    audit = api.json()["report"]["audit"]
    assert audit["verdict"] == "weights_only" and audit["headline"].startswith("只有权重")
    html = client.post(
        "/components/checkpoint-inspector/upload",
        params={"lang": "en"},
        headers={"HX-Request": "true"},
        files={"file": ("ckpt.pt", data)},
    )
    assert html.status_code == 200
    text = html.text
    assert 'data-verdict="weights_only"' in text and "Weights only: no optimizer state" in text
    # The finding links to its chapter section, found in the chapter's own table of contents.
    assert 'data-code="no_optimizer"' in text and 'href="/en/' in text and "#633-" in text


def test_a_truncated_upload_says_truncated_and_links_to_atomic_writes(client, tmp_path):
    _lesson_checkpoint(tmp_path / "latest.pt")
    cut = (tmp_path / "latest.pt").read_bytes()[:2000]
    client.get("/api/session")
    html = client.post(
        "/components/checkpoint-inspector/upload",
        params={"lang": "en"},
        headers={"HX-Request": "true"},
        files={"file": ("latest.pt", cut)},
    )
    assert 'data-stage="truncated"' in html.text and "The file is truncated" in html.text
    assert "#632-" in html.text


def test_a_file_refused_for_numpy_shows_where_and_the_allowlist_that_loads_it(client, tmp_path):
    import numpy as np

    torch.save({"epoch": 1, "rng": {"numpy": np.random.RandomState(0).get_state()}}, tmp_path / "np.pt")
    client.get("/api/session")
    html = client.post(
        "/components/checkpoint-inspector/upload",
        params={"lang": "en"},
        headers={"HX-Request": "true"},
        files={"file": ("np.pt", (tmp_path / "np.pt").read_bytes())},
    ).text
    assert 'data-safe="false"' in html and "rng.numpy.1" in html
    assert "torch.serialization.safe_globals([" in html and "numpy.dtypes.UInt32DType" in html
    # Per global, torch's own verdict: the array's classes refused, torch's own allowed.
    assert 'data-global="numpy.ndarray" data-allowed="false"' in html
    assert 'data-global="_codecs.encode" data-allowed="true"' in html

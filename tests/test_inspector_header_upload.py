"""A file above UPLOAD_MAX_MB is read from its header: the page (or an API client) sends its head
and tail with its real size, the server rebuilds a sparse file of that size and the sandbox reads
it as it reads a big file on disk, without tensor data. Oversize parts are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from app.components.checkpoint_inspector.upload import HEAD_MAX_BYTES, TAIL_MAX_BYTES
from app.ml.labs.inspector import inspect_file

LIMIT_MB = 1
API = "/api/checkpoint-inspector/reports"
HTML = "/components/checkpoint-inspector/upload"
HX = {"HX-Request": "true"}


@pytest.fixture(scope="module")
def small_client(tmp_path_factory):
    """An app whose upload limit (1 MiB) is far below the checkpoints made here."""
    from fastapi.testclient import TestClient

    from app.main import create_app
    from app.settings import Settings
    from tests.conftest import REPO

    data = tmp_path_factory.mktemp("hdr") / "data"
    settings = Settings(
        data_dir=data,
        tutorials_dir=REPO / "tutorials",
        secret_key="t",
        pretrained_dir=tmp_path_factory.mktemp("nopre"),
        upload_max_mb=LIMIT_MB,
    )
    with TestClient(create_app(settings)) as client:
        client.data_dir = data
        assert client.get("/api/session").json() == {"established": True}
        yield client


def training_checkpoint(path: Path, legacy: bool = False) -> Path:
    """A real model, AdamW after one step, a scheduler, counters and the RNG: ~24 MB."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(1000, 1000), torch.nn.ReLU(), torch.nn.Linear(1000, 1000))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(4, 1000)).sum().backward()
    opt.step()
    sched = torch.optim.lr_scheduler.StepLR(opt, 10)
    ckpt = {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "epoch": 3,
        "step": 120,
        "rng_state": torch.get_rng_state(),
    }
    torch.save(ckpt, path, _use_new_zipfile_serialization=not legacy)
    return path


@pytest.fixture(scope="module")
def big_file(tmp_path_factory) -> Path:
    path = training_checkpoint(tmp_path_factory.mktemp("ck") / "run-epoch3.pt")
    assert path.stat().st_size > HEAD_MAX_BYTES + TAIL_MAX_BYTES + LIMIT_MB * 1024 * 1024
    return path


def parts(path: Path, head: int = HEAD_MAX_BYTES, tail: int = TAIL_MAX_BYTES) -> tuple[dict, dict]:
    """What the page's script sends: the file's head and tail and, as a field, its real size."""
    data = path.read_bytes()
    files = {
        "head": (path.name, data[:head], "application/octet-stream"),
        "tail": (path.name, data[len(data) - tail :], "application/octet-stream"),
    }
    return files, {"size": str(len(data))}


def uploads_left(client) -> list:
    root = client.data_dir / "uploads"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_head_and_tail_read_as_the_whole_file_read_from_its_header(small_client, big_file):
    files, fields = parts(big_file)
    r = small_client.post(API, files=files, data=fields)
    assert r.status_code == 201, r.text
    got = r.json()["report"]
    # The whole file, read header-only on disk by the same code the command uses.
    full = json.loads(
        json.dumps(inspect_file(str(big_file), big_file.name, {"max_file_bytes": LIMIT_MB * 1024 * 1024}))
    )
    assert full["ok"] and full["reading"] == "header"
    assert got["reading"] == "header" and got["sent"] == {"head": HEAD_MAX_BYTES, "tail": TAIL_MAX_BYTES}
    assert got["bytes"] == big_file.stat().st_size and got["filename"] == big_file.name
    assert got["kind"] == full["kind"] == "training_dict"
    shapes = lambda rep: [(leaf["path"], leaf["shape"], leaf["dtype"]) for leaf in rep["tree"]]  # noqa: E731
    assert shapes(got) == shapes(full) and ("model.0.weight", [1000, 1000], "float32") in shapes(got)
    assert got["verdict"]["safe"] is True and got["verdict"]["globals"] == full["verdict"]["globals"]
    assert got["audit"]["verdict"] == full["audit"]["verdict"]
    codes = lambda rep: [f["code"] for f in rep["audit"]["findings"]]  # noqa: E731
    assert codes(got) == codes(full)
    pieces = lambda rep: sorted(p["piece"] for p in rep["audit"]["pieces"] if p["where"])  # noqa: E731
    assert {"weights", "optimizer", "scheduler"} <= set(pieces(got)) and pieces(got) == pieces(full)
    # No tensor values: a header-only reading has no statistics to give.
    assert all(leaf["stats"] is None for leaf in got["tree"] if leaf["kind"] == "tensor")
    assert not uploads_left(small_client)


@pytest.mark.parametrize(
    "change,status,code",
    [
        ({"head": HEAD_MAX_BYTES + 1}, 413, "head_too_large"),
        ({"tail": TAIL_MAX_BYTES + 1}, 413, "tail_too_large"),
        ({"size": None}, 422, "header_size"),
        ({"size": "12 GB"}, 422, "header_size"),
        ({"size": str(LIMIT_MB * 1024 * 1024)}, 422, "header_not_needed"),
        ({"size": str(HEAD_MAX_BYTES + 10)}, 422, "header_parts"),
        ({"size": str(2**50)}, 413, "header_too_large"),
        ({"file": True}, 422, "header_mixed"),
    ],
)
def test_parts_beyond_their_allowance_are_refused(small_client, big_file, change, status, code):
    files, fields = parts(big_file, change.get("head", HEAD_MAX_BYTES), change.get("tail", TAIL_MAX_BYTES))
    if "size" in change:
        fields = {} if change["size"] is None else {"size": change["size"]}
    if change.get("file"):
        files["file"] = ("x.pt", b"PK", "application/octet-stream")
    r = small_client.post(API, files=files, data=fields)
    assert r.status_code == status and r.json()["code"] == code, r.text
    html = small_client.post(HTML, params={"lang": "zh"}, headers=HX, files=files, data=fields)
    assert html.status_code == 200 and 'role="alert"' in html.text
    assert "Traceback" not in html.text and "ci.reject" not in html.text
    assert not uploads_left(small_client)


@pytest.mark.parametrize("head,tail", [(300, TAIL_MAX_BYTES), (HEAD_MAX_BYTES, 100)])
def test_a_head_or_tail_too_short_for_the_zip_says_so(small_client, big_file, head, tail):
    """data.pkl cut by a short head, or the zip's directory by a short tail: not "truncated"."""
    files, fields = parts(big_file, head, tail)
    r = small_client.post(API, files=files, data=fields)
    assert r.status_code == 422 and r.json()["code"] == "limits", r.text
    error = r.json()["report"]["error"]
    assert f"first {head:,} and last {tail:,} bytes that were sent do not hold" in error
    assert not uploads_left(small_client)


def test_a_legacy_file_says_why_it_cannot_be_read_from_its_header(small_client, tmp_path):
    legacy = training_checkpoint(tmp_path / "old.pt", legacy=True)
    files, fields = parts(legacy)
    r = small_client.post(API, files=files, data=fields)
    assert r.status_code == 422 and r.json()["code"] == "no_header"
    report = r.json()["report"]
    assert report["format"] == "torch-legacy" and report["sent"] == {
        "head": HEAD_MAX_BYTES,
        "tail": TAIL_MAX_BYTES,
    }
    assert "old format" in report["error"] and "torch.save it again" in report["error"]
    for lang, words in (("zh", "torch 的旧格式"), ("en", "in a format that cannot be read from its header")):
        html = small_client.post(HTML, params={"lang": lang}, headers=HX, files=files, data=fields)
        assert 'data-stage="no_header"' in html.text and words in html.text


def test_a_big_safetensors_file_is_read_from_its_json_header(small_client, tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(0)
    weights = {f"layers.{i}.weight": torch.randn(1000, 1000) for i in range(3)}
    path = tmp_path / "model.safetensors"
    save_file(weights, path)
    files, fields = parts(path)
    r = small_client.post(API, files=files, data=fields)
    assert r.status_code == 201, r.text
    report = r.json()["report"]
    assert report["reading"] == "header" and report["format"] == "safetensors"
    assert [(leaf["path"], leaf["shape"]) for leaf in report["tree"]] == [
        (k, [1000, 1000]) for k in sorted(weights)
    ]
    # Only the head was needed: a safetensors file's header is at its start.
    files.pop("tail")
    assert small_client.post(API, files=files, data=fields).status_code == 201


@pytest.mark.parametrize(
    "lang,words",
    [
        ("zh", ["只读取了文件头", "前 8\u00a0MiB", "最后 1\u00a0MiB"]),
        ("en", ["Read from its header only", "first 8\u00a0MiB", "last 1\u00a0MiB"]),
    ],
)
def test_the_page_says_it_was_read_from_its_header(small_client, big_file, lang, words):
    files, fields = parts(big_file)
    html = small_client.post(HTML, params={"lang": lang}, headers=HX, files=files, data=fields)
    assert html.status_code == 200 and 'class="notice ci-header-only ci-head-tail"' in html.text
    assert all(w in html.text for w in words), html.text[:2000]
    assert 'data-verdict="exact"' in html.text


def test_without_javascript_a_too_big_file_gets_a_page_that_says_so(small_client, big_file):
    same = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    data = big_file.read_bytes()[: 2 * 1024 * 1024]  # over the 1 MiB limit: refused whole
    r = small_client.post(HTML, params={"lang": "en"}, headers=same, files={"file": ("big.pt", data)})
    assert r.status_code == 413 and r.headers["content-type"].startswith("text/html")
    assert "larger than the 1 MiB upload limit" in r.text and "<html" in r.text
    assert "Back to the lesson" in r.text
    r = small_client.post(HTML, params={"lang": "zh"}, headers=same, files={"file": ("big.pt", data)})
    assert r.status_code == 413 and "上传上限" in r.text
    # A file within the limit gets its report, as a whole page too.
    small = training_checkpoint_small(big_file.parent / "small.pt")
    r = small_client.post(HTML, params={"lang": "en"}, headers=same, files={"file": ("small.pt", small)})
    assert r.status_code == 200 and 'data-safe="true"' in r.text and "<html" in r.text
    assert not uploads_left(small_client)


def training_checkpoint_small(path: Path) -> bytes:
    torch.save({"model": torch.nn.Linear(4, 2).state_dict(), "epoch": 1}, path)
    return path.read_bytes()


def test_a_zip_bomb_uploaded_as_a_checkpoint_folder_is_refused(small_client, tmp_path):
    """Through the API and the sandbox: 64 MiB of zeros in a ~100 KB zip, limit 4 × 1 MiB."""
    import zipfile

    from tests.ml.test_inspector_folder_zip import zipped

    bomb = zipfile.ZipInfo("checkpoint-40/optimizer.pt.bak")
    bomb.compress_type = zipfile.ZIP_DEFLATED
    data = zipped(tmp_path, [(bomb, bytes(64 * 1024 * 1024))]).read_bytes()
    assert len(data) < LIMIT_MB * 1024 * 1024
    r = small_client.post(API, files={"file": ("checkpoint-40.zip", data, "application/zip")})
    assert r.status_code == 422 and r.json()["code"] == "limits", r.text
    assert "Nothing was unpacked" in r.json()["detail"]
    html = small_client.post(HTML, params={"lang": "zh"}, headers=HX, files={"file": ("c.zip", data)})
    assert 'data-stage="limits"' in html.text and "安全限制" in html.text
    assert not uploads_left(small_client)

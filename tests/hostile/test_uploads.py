"""Hostile checkpoint files and uploads: amplification, globals, slow and queued uploads,
bounded reports, downloads of files that vanish. Memory and answers stay bounded."""

from __future__ import annotations

import io
import json
import struct
import time

import httpx
import pytest
import torch

from app.ml.labs.inspector import DEFAULT_LIMITS, inspect_file
from tests.hostile.helpers import (
    HX,
    amplifier_bytes,
    established,
    list_opcode_pickle,
    many_globals_pickle,
    rss_kb,
)


@pytest.mark.parametrize("depth", [20, 50])
def test_amplification_file_makes_a_bounded_report(tmp_path, depth):
    data = amplifier_bytes(depth)
    assert len(data) < 10_000
    (tmp_path / "amp.pt").write_bytes(data)
    r = inspect_file(str(tmp_path / "amp.pt"), "amp.pt")
    size = len(json.dumps(r, ensure_ascii=False).encode())
    assert r["ok"] and r["verdict"]["safe"] is True
    assert size <= DEFAULT_LIMITS["report_bytes"], size
    assert all(len(leaf["path"]) <= DEFAULT_LIMITS["path_chars"] for leaf in r["tree"])
    if depth == 20:
        # Every leaf is accounted for: shown, or counted in "… N more".
        assert len(r["tree"]) + r["more"]["leaves"] == 1900 == r["totals"]["leaves"]
        assert r["more"]["leaves"] > 0 and r["truncated"] is True
        # Long paths are cut in the middle: siblings stay distinct.
        assert len({leaf["path"] for leaf in r["tree"]}) == len(r["tree"])
        assert r["tree"][0]["path"].endswith("….0")
    else:
        assert any("nested deeper" in (leaf["value"] or "") for leaf in r["tree"])


def test_a_tight_byte_budget_is_met_and_counted(tmp_path):
    (tmp_path / "amp.pt").write_bytes(amplifier_bytes(8, leaves=600))
    r = inspect_file(str(tmp_path / "amp.pt"), "amp.pt", limits={"report_bytes": 40_000})
    assert len(json.dumps(r, ensure_ascii=False).encode()) <= 40_000
    assert 0 < len(r["tree"]) < 600 and len(r["tree"]) + r["more"]["leaves"] == 600


def test_globals_are_capped_and_the_rest_counted(tmp_path):
    (tmp_path / "g.pt").write_bytes(many_globals_pickle(500))
    r = inspect_file(str(tmp_path / "g.pt"), "g.pt")
    v = r["verdict"]
    assert v["safe"] is False and r["stage"] == "load"
    assert len(v["globals"]) == DEFAULT_LIMITS["max_globals"] and r["more"]["globals"] == 400
    assert v["globals"][0] == "mod0.fn0"


def test_safetensors_metadata_is_capped(tmp_path):
    meta = {f"key{i}": "v" * 5000 for i in range(500)}
    header = json.dumps(
        {"__metadata__": meta, "w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}
    ).encode()
    (tmp_path / "m.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 4)
    r = inspect_file(str(tmp_path / "m.safetensors"), "m.safetensors")
    assert r["ok"] and len(r["metadata"]) == DEFAULT_LIMITS["max_metadata"] and r["more"]["metadata"] == 450
    assert all(len(v) <= DEFAULT_LIMITS["value_chars"] for v in r["metadata"].values())


def test_a_list_opcode_pickle_is_unsupported_not_unsafe(tmp_path):
    (tmp_path / "l.pt").write_bytes(list_opcode_pickle())
    r = inspect_file(str(tmp_path / "l.pt"), "l.pt")
    assert r["stage"] == "unsupported" and r["verdict"]["safe"] is None and r["ok"] is False
    assert "Unsupported operand" in r["error"]
    # An opcode torch lacks does not whitewash a pickle that also names foreign code.
    evil = b"\x80\x02(K\x01l" + b"cos\nsystem\n0" + b"."
    (tmp_path / "e.pt").write_bytes(evil)
    r = inspect_file(str(tmp_path / "e.pt"), "e.pt")
    assert r["verdict"]["safe"] is False and "os.system" in r["verdict"]["globals"]


# ------------------------------------------------------------------ over HTTP, on a real server


def test_amplification_uploads_keep_server_memory_and_answers_bounded(server_factory):
    server = server_factory()
    data = amplifier_bytes(20)
    with httpx.Client(base_url=server.url, timeout=60) as client:
        established(client)
        small = io.BytesIO()
        torch.save({"w": torch.ones(3)}, small)
        # Warm up every code path once (templates, sandbox, the report store) before measuring.
        assert (
            client.post(
                "/api/checkpoint-inspector/reports", files={"file": ("w.pt", small.getvalue())}
            ).status_code
            == 201
        )
        assert (
            client.post(
                "/components/checkpoint-inspector/upload",
                params={"lang": "en"},
                headers=HX,
                files={"file": ("w.pt", small.getvalue())},
            ).status_code
            == 200
        )
        before = rss_kb(server.proc.pid)
        ids = []
        for i in range(6):
            api = client.post("/api/checkpoint-inspector/reports", files={"file": (f"amp{i}.pt", data)})
            assert api.status_code == 201, api.text[:300]
            assert len(api.content) < 600_000, len(api.content)
            ids.append(api.json()["id"])
            page = client.post(
                "/components/checkpoint-inspector/upload",
                params={"lang": "zh"},
                headers=HX,
                files={"file": (f"amp{i}.pt", data)},
            )
            assert page.status_code == 200 and len(page.content) < 1_000_000, len(page.content)
            assert "个 key 没有显示" in page.text  # "… N more keys", in the page's language
        after = rss_kb(server.proc.pid)
        print(f"server RSS {before} kB -> {after} kB after 12 amplification uploads")
        assert after - before < 40_000, (before, after)  # kB: the 91 MB reports of old are gone
        listed = client.get("/api/checkpoint-inspector/reports").json()["reports"]
        assert len(listed) == 5  # REPORTS_PER_SESSION
        kept = client.get(f"/api/checkpoint-inspector/reports/{ids[-1]}")
        assert kept.status_code == 200 and kept.json()["report"]["more"]["leaves"] == 900
    # Reports are on disk, not in the web process: a restart keeps them.
    reports = list((server.data_dir / "reports").rglob("*.json"))
    assert reports and sum(p.stat().st_size for p in reports) < 5 * 2 * 600_000
    server.kill()
    server.start()
    with httpx.Client(base_url=server.url, timeout=60, cookies=client.cookies) as again:
        assert again.get(f"/api/checkpoint-inspector/reports/{ids[-1]}").status_code == 200


def test_key_tree_groups_by_module_prefix(server_factory):
    server = server_factory()
    buf = io.BytesIO()
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3), torch.nn.Linear(3, 2))
    torch.save({"epoch": 2, "model": model.state_dict()}, buf)
    with httpx.Client(base_url=server.url, timeout=60) as client:
        established(client)
        html = client.post(
            "/components/checkpoint-inspector/upload",
            params={"lang": "en"},
            headers=HX,
            files={"file": ("m.pt", buf.getvalue())},
        ).text
    # One node per module prefix, with its key count and total tensor bytes.
    assert 'data-prefix="model" data-keys="9"' in html
    assert 'data-prefix="model.1" data-keys="5"' in html
    # Linear(4,3): 15 floats; BatchNorm1d(3): 12 floats and an int64; Linear(3,2): 8 floats.
    assert "9 keys · 9 tensors · 148 B" in html
    assert html.count('class="verdict ') == 1  # one verdict
    # Keys wrap only at a dot: every segment is its own unbreakable span.
    assert "<span>running_mean</span>" in html


# ------------------------------------------------------------------ cross-site requests, Host, HEAD


def _timed_get(url: str, cookies) -> float:
    start = time.monotonic()
    r = httpx.get(url, cookies=cookies, timeout=30)
    assert r.status_code == 200
    return time.monotonic() - start


def _session(url: str) -> dict:
    with httpx.Client(base_url=url, timeout=60) as c:
        established(c)
        return dict(c.cookies)


def test_slow_and_queued_uploads_do_not_starve_other_requests(server_factory, pretrained_dir):
    """44 uploads trickling their bodies in, then 44 complete uploads queued for one sandbox:
    the run list (a thread-pool endpoint) keeps answering within its normal time."""
    import socket
    import threading

    server = server_factory(
        env={"SANDBOXES_MAX": "1", "TRANSFER_PREWARM": "false", "PRETRAINED_DIR": str(pretrained_dir)}
    )
    cookies = _session(server.url)
    runs_url = server.url + "/api/checkpoint-simulator/runs"
    normal = min(_timed_get(runs_url, cookies) for _ in range(3))

    buf = io.BytesIO()
    torch.save({f"layer{i}.weight": torch.randn(64, 64) for i in range(40)}, buf)
    payload = buf.getvalue()
    boundary = "hostileboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="slow.pt"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    body = head + payload + f"\r\n--{boundary}--\r\n".encode()

    def request_head(jar: dict) -> bytes:
        cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
        return (
            f"POST /api/checkpoint-inspector/reports HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {len(body)}\r\n"
            f"Cookie: {cookie}\r\nConnection: close\r\n\r\n"
        ).encode()

    socks = []
    for _ in range(22):  # 22 browsers, two trickling uploads each (UPLOADS_PER_SESSION)
        jar = _session(server.url)
        for _ in range(2):
            s = socket.create_connection(("127.0.0.1", server.port))
            s.sendall(request_head(jar) + body[:100])  # then silence: a body that trickles in
            socks.append(s)
    # A third upload of one of those browsers is refused at once, not queued behind its own.
    third = httpx.post(
        server.url + "/api/checkpoint-inspector/reports", cookies=jar, files={"file": ("t.pt", payload)}
    )
    assert third.status_code == 429
    slow_worst = max(_timed_get(runs_url, cookies) for _ in range(5))

    # Now 44 other browsers upload complete files at once: SANDBOXES_MAX inspect,
    # INSPECT_WAITING_MAX wait (holding no thread), the rest are told to come back later.
    jars = [_session(server.url) for _ in range(44)]
    statuses: list[int] = []

    def upload(jar):
        r = httpx.post(
            server.url + "/api/checkpoint-inspector/reports",
            cookies=jar,
            timeout=180,
            files={"file": ("q.pt", payload)},
        )
        statuses.append(r.status_code)

    threads = [threading.Thread(target=upload, args=(jar,)) for jar in jars]
    for t in threads:
        t.start()
    time.sleep(1.0)
    queued_worst = max(_timed_get(runs_url, cookies) for _ in range(5))
    for t in threads:
        t.join(240)
    for s in socks:
        s.close()
    print(
        f"run list: {normal * 1000:.0f} ms alone, "
        f"worst {slow_worst * 1000:.0f} ms with 44 trickling uploads, "
        f"{queued_worst * 1000:.0f} ms with 44 queued inspections; "
        f"{statuses.count(201)} inspected, {statuses.count(503)} told to retry"
    )
    assert set(statuses) <= {201, 503} and len(statuses) == 44 and statuses.count(201) >= 31
    # Generous bounds that measure starvation, not speed (the issue saw 7.6 s).
    assert slow_worst < 2.0 and queued_worst < 2.0


# ------------------------------------------------------------------ fairness without accounts


def test_reports_on_disk_are_bounded_in_all(tmp_path):
    from app.components.checkpoint_inspector.service import ReportStore

    store = ReportStore(tmp_path / "reports", per_session=2, max_bytes=60_000)

    def entry(i):
        return {
            "id": f"report{i:04d}",
            "filename": "x.pt",
            "bytes": 1,
            "created": time.time(),
            "report": {"ok": True, "verdict": {"safe": True}, "stage": "done", "pad": "x" * 9000},
        }

    for s in range(12):
        for i in range(3):
            store.add(f"session-{s:02d}-xxxxxxxx", entry(s * 10 + i))
            time.sleep(0.01)
    store.sweep(force=True)
    total = sum(p.stat().st_size for p in (tmp_path / "reports").rglob("*") if p.is_file())
    assert total <= 60_000
    assert [e["id"] for e in store.list("session-11-xxxxxxxx")] == ["report0112", "report0111"]  # newest kept
    assert store.list("session-00-xxxxxxxx") == []  # least recently used went first


def test_an_upload_without_a_session_is_told_why_in_the_pages_language(settings):
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(settings)) as fresh:  # no page opened: no cookie
        r = fresh.post(
            "/components/checkpoint-inspector/upload",
            params={"lang": "zh"},
            headers=HX,
            files={"file": ("w.pt", b"x")},
        )
        assert r.status_code == 200 and "请先打开课程页面" in r.text
        r = fresh.post("/api/checkpoint-inspector/reports", files={"file": ("w.pt", b"x")})
        assert r.status_code == 403 and r.json()["code"] == "no_session"
        assert not (settings.data_dir / "uploads").exists() or not any(
            (settings.data_dir / "uploads").rglob("*.upload")
        )


def test_a_download_survives_its_file_being_deleted_meanwhile(tmp_path):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from app.responses import held_file_response

    path = tmp_path / "ckpt-epoch-0001.pt"
    path.write_bytes(b"\x01" * 3_000_000)
    app = FastAPI()

    @app.get("/file")
    def download():
        response = held_file_response(path, "run-ckpt-epoch-0001.pt")
        path.unlink()  # keep-last-N deletes it before the body is sent
        return response

    @app.get("/gone")
    def gone():
        return held_file_response(tmp_path / "never.pt", "x.pt", missing="not on disk")

    with TestClient(app) as c:
        r = c.get("/file")
        assert r.status_code == 200 and r.content == b"\x01" * 3_000_000
        assert (
            r.headers["content-length"] == "3000000"
            and "ckpt-epoch-0001.pt" in r.headers["content-disposition"]
        )
        r = c.get("/gone")
        assert r.status_code == 404 and r.json()["detail"] == "not on disk"

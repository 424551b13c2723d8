"""A hostile classroom client, on loopback only: every payload is built here, in code.

Each test states what an attacker tried and what must hold: bounded memory, bounded answers,
refusals with a clear status, and nothing of one learner visible to another.
"""

from __future__ import annotations

import io
import json
import struct
import time

import httpx
import pytest
import torch

from app.ml.labs.inspector import DEFAULT_LIMITS, inspect_file

HX = {"HX-Request": "true"}


# ------------------------------------------------------------------ payloads


def amplifier(depth: int, leaves: int = 1900, key_chars: int = 1000):
    """A few KB on disk, ~90 MB of dotted key paths once joined: one long key (pickled once,
    then memoised), nested `depth` deep, over a list of small ints."""
    key = "k" * key_chars
    node: object = list(range(leaves))
    for _ in range(depth):
        node = {key: node}
    return node


def amplifier_bytes(depth: int = 20, leaves: int = 1900) -> bytes:
    buf = io.BytesIO()
    torch.save(amplifier(depth, leaves), buf)
    return buf.getvalue()


def many_globals_pickle(n: int) -> bytes:
    """A protocol-2 pickle naming n distinct globals (GLOBAL, then POP): nothing else."""
    body = b"".join(b"cmod%d\nfn%d\n0" % (i, i) for i in range(n))
    return b"\x80\x02" + body + b"N."


def list_opcode_pickle() -> bytes:
    """[1, 2] written with MARK ... LIST: harmless, but torch's weights-only unpickler does not
    implement LIST."""
    return b"\x80\x02(K\x01K\x02l."


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


# ------------------------------------------------------------------ the inspector itself


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


def _established(client: httpx.Client) -> None:
    """What a browser does first: open the chapter page (it sets the session cookie)."""
    assert client.get("/en/06-model-io-checkpoint").status_code == 200


def test_amplification_uploads_keep_server_memory_and_answers_bounded(server_factory):
    server = server_factory()
    data = amplifier_bytes(20)
    with httpx.Client(base_url=server.url, timeout=60) as client:
        _established(client)
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
        _established(client)
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


EVIL = {"Origin": "http://evil.example"}


@pytest.mark.parametrize(
    "method,url,kwargs",
    [
        ("POST", "/api/checkpoint-simulator/runs/abc/crash", {"data": {"x": "1"}}),
        ("POST", "/api/checkpoint-simulator/runs", {"json": {"epochs": 2}}),
        ("DELETE", "/api/checkpoint-simulator/runs/abc", {}),
        ("POST", "/api/checkpoint-inspector/reports", {"files": {"file": ("a.pt", b"x")}}),
        (
            "POST",
            "/components/checkpoint-inspector/upload",
            {"files": {"file": ("a.pt", b"x")}, "headers": HX},
        ),
        ("POST", "/components/checkpoint-simulator/runs", {"data": {"epochs": "2"}, "headers": HX}),
    ],
)
def test_cross_site_state_changes_are_refused(client, method, url, kwargs):
    headers = {**kwargs.pop("headers", {}), **EVIL}
    r = client.request(method, url, headers=headers, **kwargs)
    assert r.status_code == 403, r.text
    r = client.request(method, url, headers={**headers, "Origin": "null"}, **kwargs)
    assert r.status_code == 403
    del headers["Origin"]
    r = client.request(method, url, headers={**headers, "Sec-Fetch-Site": "cross-site"}, **kwargs)
    assert r.status_code == 403


def test_cross_site_refusal_speaks_the_pages_language(client):
    r = client.post(
        "/components/checkpoint-inspector/upload",
        params={"lang": "zh"},
        headers={**HX, **EVIL},
        files={"file": ("a.pt", b"x")},
    )
    assert r.status_code == 403 and "另一个网站" in r.text
    r = client.post("/api/checkpoint-simulator/runs", headers={**EVIL, "Accept-Language": "en"}, json={})
    assert r.status_code == 403 and "another site" in r.json()["detail"]


def test_same_origin_posts_still_work(client):
    client.get("/en/06-model-io-checkpoint")
    same = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    buf = io.BytesIO()
    torch.save({"w": torch.ones(2)}, buf)
    r = client.post(
        "/components/checkpoint-inspector/upload",
        params={"lang": "en"},
        headers={**HX, **same},
        files={"file": ("w.pt", buf.getvalue())},
    )
    assert r.status_code == 200 and 'data-safe="true"' in r.text
    r = client.post(
        "/api/checkpoint-inspector/reports", headers=same, files={"file": ("w.pt", buf.getvalue())}
    )
    assert r.status_code == 201


def test_the_json_api_takes_json_only(client):
    # What an HTML form can send, with or without Origin: refused before any handler runs.
    for ctype in ("application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"):
        r = client.post(
            "/api/checkpoint-simulator/runs/abc/crash", content=b"a=1", headers={"content-type": ctype}
        )
        assert r.status_code == 415, (ctype, r.status_code)
    # The upload is multipart by nature, and JSON there is refused the same way.
    r = client.post("/api/checkpoint-inspector/reports", json={"file": "x"})
    assert r.status_code == 415


def test_redirects_do_not_reflect_the_host_header(client):
    r = client.get("/api/chapters/", headers={"Host": "evil.example"}, follow_redirects=False)
    assert r.status_code in (307, 308)
    assert "evil.example" not in r.headers["location"] and r.headers["location"].startswith("/api/chapters")


def test_allowed_hosts_can_be_restricted(settings):
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(settings.model_copy(update={"allowed_hosts": "testserver, lab.local"}))) as c:
        assert c.get("/healthz").status_code == 200
        assert c.get("/healthz", headers={"Host": "lab.local:8000"}).status_code == 200
        assert c.get("/healthz", headers={"Host": "evil.example"}).status_code == 400


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/en/06-model-io-checkpoint",
        "/api/chapters",
        "/healthz",
        "/openapi.json",
        "/components/checkpoint-inspector/recent?lang=en",
    ],
)
def test_head_answers_wherever_get_does(client, url):
    get = client.get(url)
    head = client.head(url)
    assert head.status_code == get.status_code == 200
    assert head.content == b"" and head.headers["content-type"] == get.headers["content-type"]


def test_no_server_path_in_a_fine_tune_run(client, settings):
    client.get("/en/06-model-io-checkpoint")
    r = client.post("/api/transfer/finetune", json={"num_classes": 3, "shots": 2, "epochs": 2, "seed": 0})
    assert r.status_code == 201, r.text
    run_id = r.json()["id"]
    deadline = time.monotonic() + 120
    while (state := client.get(f"/api/transfer/finetune/{run_id}")).json()["status"] in ("queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert state.json()["status"] == "done", state.text[:500]  # the worker found the file by its name
    for text in (r.text, state.text):
        assert str(settings.pretrained_path) not in text and str(settings.data_dir) not in text
        assert "/tmp/" not in text and str(settings.data_dir.parent) not in text


# ------------------------------------------------------------------ waiting costs no thread


def _timed_get(url: str, cookies) -> float:
    start = time.monotonic()
    r = httpx.get(url, cookies=cookies, timeout=30)
    assert r.status_code == 200
    return time.monotonic() - start


def _session(url: str) -> dict:
    with httpx.Client(base_url=url, timeout=60) as c:
        _established(c)
        return dict(c.cookies)


def test_slow_and_queued_uploads_do_not_starve_other_requests(server_factory, pretrained_dir):
    """44 uploads trickling their bodies in, then 44 complete uploads queued for one sandbox:
    the run list (a thread-pool endpoint) keeps answering within its normal time."""
    import socket
    import threading

    server = server_factory(
        env={"INSPECT_AT_ONCE": "1", "TRANSFER_PREWARM": "false", "PRETRAINED_DIR": str(pretrained_dir)}
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

    # Now 44 other browsers upload complete files at once: INSPECT_AT_ONCE inspect,
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
        f"run list: {normal * 1000:.0f} ms alone, worst {slow_worst * 1000:.0f} ms with 44 trickling uploads, "
        f"{queued_worst * 1000:.0f} ms with 44 queued inspections; "
        f"{statuses.count(201)} inspected, {statuses.count(503)} told to retry"
    )
    assert set(statuses) <= {201, 503} and len(statuses) == 44 and statuses.count(201) >= 31
    # Generous bounds that measure starvation, not speed (the issue saw 7.6 s).
    assert slow_worst < 2.0 and queued_worst < 2.0


# ------------------------------------------------------------------ fairness without accounts

SIM = "/api/checkpoint-simulator"
SLOW_RUN = {"epochs": 200, "checkpoint_every": 50, "pace_ms": 400}


@pytest.fixture
def fair_app(settings):
    """One worker and no paced places, a small per-address cap: a busy worker keeps every later
    run queued."""
    from fastapi.testclient import TestClient

    from app.main import create_app

    app = create_app(
        settings.model_copy(
            update={
                "max_workers": 1,
                "paced_workers": 0,
                "queue_per_address": 4,
                "new_sessions_per_minute": 30,
            }
        )
    )
    with TestClient(app, client=("10.0.0.9", 4000)) as owner:
        owner.get("/api/session")
        busy = owner.post(f"{SIM}/runs", json=SLOW_RUN)
        assert busy.status_code == 201, busy.text
        app.busy_run = busy.json()["id"]
        yield app


def browser_at(app, address: str):
    from fastapi.testclient import TestClient

    c = TestClient(app, client=(address, 5000))
    assert c.get("/api/session").json() == {"established": True}
    return c


def test_cookieless_posts_are_refused_and_a_real_learner_gets_a_place(fair_app):
    from fastapi.testclient import TestClient

    flood = TestClient(fair_app, client=("10.0.0.66", 6000))
    for _ in range(300):
        r = flood.post(f"{SIM}/runs", json=SLOW_RUN)
        assert r.status_code == 403 and "session" in r.json()["detail"]
        flood.cookies.clear()
    jobs = fair_app.state.jobs
    assert len(jobs._queue) == 0  # the flood took no place
    learner = browser_at(fair_app, "10.0.0.1")
    assert learner.post(f"{SIM}/runs", json=SLOW_RUN).status_code == 201


def test_new_sessions_are_rate_limited_per_address(fair_app):
    from fastapi.testclient import TestClient

    hoarder = TestClient(fair_app, client=("10.0.0.77", 7000))
    established = []
    for _ in range(40):
        hoarder.cookies.clear()
        established.append(hoarder.get("/api/session").json()["established"])
    assert established.count(True) == 30 and established[-1] is False  # NEW_SESSIONS_PER_MINUTE
    # Past the limit the pages still load, but nothing can be started.
    assert hoarder.get("/en/06-model-io-checkpoint").status_code == 200
    assert hoarder.post(f"{SIM}/runs", json=SLOW_RUN).status_code == 403
    # Another address is not affected.
    assert browser_at(fair_app, "10.0.0.2").get("/api/session").json()["established"] is True


def test_queued_places_are_capped_per_address(fair_app):
    # Sessions from one address (one NAT, or one script with many cookies) fill its share...
    results = []
    for _ in range(3):
        c = browser_at(fair_app, "10.0.0.50")
        for _ in range(2):
            results.append(c.post(f"{SIM}/runs", json=SLOW_RUN).status_code)
    assert results.count(201) == 4 and results[-1] == 429  # QUEUE_PER_ADDRESS
    # ...and a learner elsewhere still gets a place.
    assert browser_at(fair_app, "10.0.0.3").post(f"{SIM}/runs", json=SLOW_RUN).status_code == 201


def test_the_queue_is_served_round_robin_across_sessions(fair_app):
    jobs = fair_app.state.jobs
    a = browser_at(fair_app, "10.0.1.1")
    b = browser_at(fair_app, "10.0.1.2")
    c = browser_at(fair_app, "10.0.1.3")
    a_runs = [a.post(f"{SIM}/runs", json=SLOW_RUN).json()["id"] for _ in range(3)]
    b_run = b.post(f"{SIM}/runs", json=SLOW_RUN).json()["id"]
    c_run = c.post(f"{SIM}/runs", json=SLOW_RUN).json()["id"]
    # First come first served would be a, a, a, b, c: b and c wait behind a's whole pile.
    assert list(jobs._queue) == [a_runs[0], b_run, c_run, a_runs[1], a_runs[2]]
    assert a.get(f"{SIM}/runs/{c_run}").status_code == 404  # and nobody sees another's runs


def test_a_learner_can_cancel_their_own_queued_run(fair_app):
    jobs = fair_app.state.jobs
    me = browser_at(fair_app, "10.0.2.1")
    other = browser_at(fair_app, "10.0.2.2")
    first = me.post(f"{SIM}/runs", json=SLOW_RUN).json()["id"]
    second = me.post(f"{SIM}/runs", json=SLOW_RUN).json()["id"]
    assert other.post(f"{SIM}/runs/{first}/crash").status_code == 404  # not theirs to cancel
    r = me.post(f"{SIM}/runs/{first}/crash")
    assert r.status_code in (200, 202, 204), r.text
    assert first not in jobs._queue and me.get(f"{SIM}/runs/{first}").json()["status"] == "interrupted"
    # Deleting a waiting run cancels it too.
    assert me.delete(f"{SIM}/runs/{second}").status_code == 204
    assert second not in jobs._queue and me.get(f"{SIM}/runs/{second}").status_code == 404


# ------------------------------------------------------------------ races


def test_live_views_never_fail_while_a_run_saves_every_epoch(server_factory):
    """The atomic writer renames temp files and keep-last 1 deletes the previous checkpoint at
    every epoch; the views list that folder meanwhile, from three browsers at once."""
    import threading

    server = server_factory()
    with httpx.Client(base_url=server.url, timeout=30) as owner:
        _established(owner)
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
        config = {
            "epochs": 3,
            "lr": 0.02,
            "optimizer": "adam",
            "scheduler": True,
            "checkpoint_every": 1,
            "keep_last": 2,
            "seed": 0,
            "batch_size": 64,
        }
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


def test_crash_classification_does_not_depend_on_which_signal_came_first(tmp_path):
    """The two racing signals of a planned crash: its announcement on the pipe and the exit
    status from the forkserver. Either is enough; neither alone may turn it into 'failed'."""
    from app.jobs.manager import JobManager, _Worker
    from app.settings import Settings

    jobs = JobManager(Settings(data_dir=tmp_path / "data"))
    config = {
        "epochs": 3,
        "lr": 0.02,
        "optimizer": "adam",
        "scheduler": True,
        "checkpoint_every": 1,
        "keep_last": 2,
        "seed": 0,
        "batch_size": 64,
    }
    planned = jobs.submit_train("s", config, {"crash_while_saving_at": 2})
    plain = jobs.submit_train("t", config, {})
    announced = {"how": "while_saving", "epoch": 2, "step": 9}
    # Announcement read, exit status not known (the forkserver says 255): a crash.
    assert jobs._crash_info(_Worker(planned.id, None, None, crash=announced), 255) == announced
    # Exit by SIGKILL, announcement lost with the process: still the planned crash.
    assert jobs._crash_info(_Worker(planned.id, None, None), -9)["how"] == "while_saving"
    # A run that was never told to crash and died of SIGKILL (the OOM killer): a failure.
    assert jobs._crash_info(_Worker(plain.id, None, None), -9) is None
    # A worker that raised: a failure, whatever it announced.
    assert jobs._crash_info(_Worker(planned.id, None, None, crash=announced, error="boom"), 1) is None


# ------------------------------------------------------------------ expiry and stream caps


def test_idle_sessions_runs_and_files_expire(tmp_path):
    from app.jobs.manager import JobManager
    from app.settings import Settings

    jobs = JobManager(Settings(data_dir=tmp_path / "data", session_ttl_days=3))
    config = {
        "epochs": 3,
        "lr": 0.02,
        "optimizer": "adam",
        "scheduler": True,
        "checkpoint_every": 1,
        "keep_last": 2,
        "seed": 0,
        "batch_size": 64,
    }
    now = time.time()
    old = jobs.submit_train("left-last-week", config, {})
    fresh = jobs.submit_train("here-today", config, {})
    leftover = jobs.submit_train("cookieless-1", config, {})
    for run, age_days in ((old, 5), (fresh, 0.1), (leftover, 4)):
        jobs.cancel(run.id)  # never started: "interrupted", as a killed server leaves them
        jobs.store.update(run.id, created=now - age_days * 86400, finished=now - age_days * 86400)
        jobs.run_dir(run.id).mkdir(parents=True, exist_ok=True)
        (jobs.run_dir(run.id) / "final.pt").write_bytes(b"x")
    busy = jobs.submit_train("old-but-waiting", config, {})
    jobs.store.update(busy.id, created=now - 9 * 86400)

    assert jobs.expire_idle(now) == 2
    assert jobs.store.get(old.id) is None and not jobs.run_dir(old.id).exists()
    assert jobs.store.get(leftover.id) is None
    assert jobs.store.get(fresh.id) is not None and jobs.run_dir(fresh.id).exists()
    assert jobs.store.get(busy.id).status == "queued"  # a waiting run keeps its session alive


def _first_event(client: httpx.Client, url: str, read: float = 5.0) -> str | None:
    with client.stream("GET", url, timeout=httpx.Timeout(10, read=read)) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("event:"):
                return line.split(":", 1)[1].strip()
    return None


def test_event_streams_are_capped_per_session_and_in_total(server_factory, pretrained_dir):
    import contextlib

    server = server_factory(
        env={
            "STREAMS_PER_SESSION": "2",
            "STREAMS_MAX": "3",
            "TRANSFER_PREWARM": "false",
            "PRETRAINED_DIR": str(pretrained_dir),
        }
    )
    url = "/components/checkpoint-simulator/events?lang=en"
    with contextlib.ExitStack() as stack:
        one = stack.enter_context(httpx.Client(base_url=server.url, timeout=30))
        _established(one)
        held = []  # the line iterators too: a dropped one closes its response
        for _ in range(2):
            r = stack.enter_context(one.stream("GET", url, timeout=httpx.Timeout(10, read=10)))
            lines = r.iter_lines()
            assert next(line for line in lines if line.startswith("event:")) == "event: view"
            held.append(lines)
        # A third tab of the same browser: told to come back later, the stream ends.
        assert _first_event(one, url) == "busy"
        two = stack.enter_context(httpx.Client(base_url=server.url, timeout=30))
        _established(two)
        assert _first_event(two, url, read=2.0) == "view"  # the third stream in all...
        three = stack.enter_context(httpx.Client(base_url=server.url, timeout=30))
        _established(three)
        r = stack.enter_context(two.stream("GET", url, timeout=httpx.Timeout(10, read=10)))
        held.append(r.iter_lines())
        assert next(line for line in held[-1] if line.startswith("event:")) == "event: view"
        assert _first_event(three, url) == "busy"  # ...and past STREAMS_MAX nobody gets one
    # Closed streams give their places back.
    with httpx.Client(base_url=server.url, timeout=30) as four:
        _established(four)
        deadline = time.monotonic() + 20
        while _first_event(four, url, read=2.0) != "view":
            assert time.monotonic() < deadline


# ------------------------------------------------------------------ the schema and OPTIONS


def test_options_and_405_agree_with_the_schema(client):
    schema = client.get("/openapi.json").json()
    for path, item in schema["paths"].items():
        concrete = path.replace("{", "").replace("}", "").replace(":path", "")
        documented = {m.upper() for m in item if m in ("get", "post", "put", "patch", "delete")}
        r = client.options(concrete)
        assert r.status_code == 204, (path, r.status_code)
        allow = {m.strip() for m in r.headers["allow"].split(",")}
        assert documented <= allow and "OPTIONS" in allow, (path, allow)
        assert ("HEAD" in allow) == ("GET" in documented), (path, allow)
    r = client.put("/api/chapters")
    assert r.status_code == 405 and {m.strip() for m in r.headers["allow"].split(",")} == {
        "GET",
        "HEAD",
        "OPTIONS",
    }


def test_every_api_operation_documents_the_shared_refusals(client):
    schema = client.get("/openapi.json").json()
    for path, item in schema["paths"].items():
        for method, op in item.items():
            codes = set(op["responses"])
            if method in ("post", "put", "patch", "delete"):
                assert {"403", "415"} <= codes, (method, path, codes)
            if "{" in path:
                assert "404" in codes, (method, path, codes)


# ------------------------------------------------------------------ the "inside a checkpoint" view


def test_the_inside_view_starts_one_sandbox_per_file_version(client, monkeypatch):
    from app.jobs import processes
    from tests.simulator_helpers import start, wait_finished

    run = wait_finished(client, start(client, epochs=2, checkpoint_every=1)["id"])
    assert run["status"] == "done"
    calls = []
    real = processes.call_limited

    def counting(*args, **kwargs):
        calls.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(processes, "call_limited", counting)
    url = f"/components/checkpoint-simulator/runs/{run['id']}/inside?lang=en&file=ckpt-epoch-0001.pt"
    pages = [client.get(url) for _ in range(5)]
    assert all(p.status_code == 200 for p in pages) and len({p.text for p in pages}) == 1
    assert len(calls) == 1  # four answers came from the cache
    client.get(url.replace("0001", "0002"))
    assert len(calls) == 2


def test_the_inside_cache_is_bounded(tmp_path, monkeypatch):
    from app.jobs import processes
    from app.settings import Settings

    monkeypatch.setattr(processes, "call_limited", lambda settings, fn, path, *a: {"path": path})
    monkeypatch.setattr(processes, "CACHE_SIZE", 10)
    settings = Settings(data_dir=tmp_path)
    for i in range(30):
        f = tmp_path / f"{i}.pt"
        f.write_bytes(b"x")
        assert processes.call_cached(settings, len, str(f)) == {"path": str(f)}
    assert len(processes._cache) <= 10


def test_no_response_names_a_server_path(client, settings):
    """After a run, a resume, an inspection and their views: no answer carries a path of the
    server's disk (the data folder, the repository, the temp folder)."""
    from tests.conftest import REPO
    from tests.simulator_helpers import start, wait_finished

    run = wait_finished(client, start(client, epochs=2, checkpoint_every=1)["id"])
    r = client.post(
        f"{SIM}/runs/{run['id']}/resume", json={"file": "ckpt-epoch-0001.pt", "restore": "everything"}
    )
    assert r.status_code == 201, r.text
    resumed = wait_finished(client, r.json()["id"])
    buf = io.BytesIO()
    torch.save({"w": torch.ones(2)}, buf)
    rep = client.post("/api/checkpoint-inspector/reports", files={"file": ("w.pt", buf.getvalue())}).json()
    cut = client.post("/api/checkpoint-inspector/reports", files={"file": ("cut.pt", buf.getvalue()[:200])})
    urls = [
        f"{SIM}/runs",
        f"{SIM}/runs/{run['id']}",
        f"{SIM}/runs/{resumed['id']}",
        f"{SIM}/runs/{run['id']}/checkpoints",
        f"{SIM}/runs/{run['id']}/ledger",
        "/api/checkpoint-inspector/reports",
        f"/api/checkpoint-inspector/reports/{rep['id']}",
        f"/api/checkpoint-inspector/reports/{cut.json()['id']}",
        f"/components/checkpoint-simulator/live?lang=en&run={run['id']}",
        f"/components/checkpoint-simulator/runs/{run['id']}/inside?lang=en&file=naive/latest.pt",
        f"/components/checkpoint-inspector/reports/{rep['id']}?lang=en",
        "/api/chapters",
        "/openapi.json",
    ]
    secrets = [str(settings.data_dir), str(REPO), str(settings.data_dir.parent)]
    for url in urls:
        text = client.get(url).text
        for secret in secrets:
            assert secret not in text, (url, secret)


def test_reports_on_disk_are_bounded_in_all(tmp_path):
    from app.components.checkpoint_inspector.service import ReportStore

    store = ReportStore(tmp_path / "reports", per_session=2, max_bytes=60_000)
    entry = lambda i: {
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


def test_sandboxes_at_once_are_bounded_in_the_whole_server(tmp_path, monkeypatch):
    import threading

    from app.jobs import processes
    from app.settings import Settings

    running, peak, lock = [0], [0], threading.Lock()

    def slow(fn, *args, **kwargs):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.3)
        with lock:
            running[0] -= 1
        return "ok"

    monkeypatch.setattr(processes, "call_in_sandbox", slow)
    settings = Settings(data_dir=tmp_path, sandboxes_max=2, inspect_timeout_s=5)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(processes.call_limited(settings, len, "x")))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["ok"] * 8 and peak[0] == 2
    # Waiting is bounded too: past the inspection timeout the caller is told the class is busy.
    impatient = Settings(data_dir=tmp_path, sandboxes_max=1, inspect_timeout_s=0.05)
    holder = threading.Thread(target=processes.call_limited, args=(impatient, len, "x"))
    holder.start()
    time.sleep(0.05)
    with pytest.raises(processes.SandboxError):
        processes.call_limited(impatient, len, "x")
    holder.join()


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

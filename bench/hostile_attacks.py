"""The attacks of the hardening issue, against a real server on loopback (used by bench hostile):
malicious pickles uploaded to the inspector, path traversal on every file route, tampered session
cookies, and one learner reaching for another's runs. Each returns (tried, refused, [what got
through]); a payload that gets through is named, never hidden in a count."""

from __future__ import annotations

import io
import os
import pickle
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import API

INSPECT = "/api/checkpoint-inspector/reports"


class _Reduce:
    """An object whose unpickling calls fn(*args): the classic pickle payload."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def _payloads(marker: Path) -> list[tuple[str, object]]:
    import builtins
    import functools
    import shutil
    import subprocess

    touch = f"touch {marker}"
    write = f"open({str(marker)!r}, 'w').write('x')"
    return [
        ("os.system", _Reduce(os.system, touch)),
        ("os.popen", _Reduce(os.popen, touch)),
        ("subprocess.Popen", _Reduce(subprocess.Popen, ["touch", str(marker)])),
        ("subprocess.call", _Reduce(subprocess.call, ["touch", str(marker)])),
        ("builtins.eval", _Reduce(builtins.eval, write)),
        ("builtins.exec", _Reduce(builtins.exec, write)),
        ("builtins.open", _Reduce(builtins.open, str(marker), "w")),
        ("functools.partial", _Reduce(functools.partial(os.system, touch))),
        ("shutil.copy", _Reduce(shutil.copy, __file__, str(marker))),
        ("pathlib.Path.touch", _Reduce(Path.touch, marker)),
        ("builtins.getattr", _Reduce(builtins.getattr, marker, "touch")),
        ("builtins.__import__", _Reduce(builtins.__import__, "os")),
    ]


def pickles(url: str) -> tuple[int, int, list[str]]:
    """Each payload as torch.save's zip file and as a plain pickle: refused (unsafe verdict or an
    error), and its marker never made."""
    import torch

    tried, refused, through = 0, 0, []
    with (
        tempfile.TemporaryDirectory(prefix="bench-pickles-") as d,
        httpx.Client(base_url=url, timeout=60) as c,
    ):
        c.get("/api/session")
        marker = Path(d) / "pwned"
        for name, payload in _payloads(marker):
            for form in ("torch-zip", "pickle"):
                if form == "pickle":
                    body = pickle.dumps({"weights": [0.0], "x": payload})
                else:
                    buf = io.BytesIO()
                    torch.save({"weights": torch.zeros(2), "x": payload}, buf)
                    body = buf.getvalue()
                tried += 1
                r = c.post(INSPECT, files={"file": ("evil.pt", body, "application/octet-stream")})
                report = (
                    (r.json().get("report") or {})
                    if r.headers.get("content-type", "").startswith("application/json")
                    else {}
                )
                safe = (report.get("verdict") or {}).get("safe")
                if marker.exists():
                    through.append(f"{name} ({form}) RAN")
                    marker.unlink()
                elif r.status_code in (201, 422) and safe is not True:
                    refused += 1
                else:
                    through.append(f"{name} ({form}): {r.status_code}, safe={safe}")
    return tried, refused, through


TRAVERSALS = [
    "../../../../etc/passwd",
    "..%2f..%2f..%2fetc%2fpasswd",
    "%2e%2e/%2e%2e/etc/passwd",
    "....//....//etc/passwd",
    "/etc/passwd",
    "..\\..\\..\\etc\\passwd",
    "ckpt.pt%00.txt",
    "%252e%252e%252fetc%252fpasswd",
    "..%c0%af..%c0%afetc/passwd",
    "checkpoints/../../../secret.key",
    "../lab.sqlite3",
    "../../teacher.key",
    "latest/../../../../etc/hostname",
]


def _finished_run(c: httpx.Client, epochs: int) -> dict:
    """A short run of this client's learner, trained to its end (a checkpoint every epoch)."""
    run = c.post(f"{API}/runs", json={"epochs": epochs, "checkpoint_every": 1, "pace_ms": 0}).json()
    for _ in range(100):
        if c.get(f"{API}/runs/{run['id']}").json()["status"] not in ("queued", "running"):
            break
        time.sleep(0.1)
    return run


class _Raw:
    """What a GET answered, with the path sent exactly as written (http.client does not resolve
    dot segments; httpx would, on the client's side)."""

    def __init__(self, status_code: int, content: bytes):
        self.status_code, self.content = status_code, content
        self.text = content.decode(errors="replace")


def _raw_get(c: httpx.Client, path: str) -> _Raw:
    import http.client

    url = httpx.URL(str(c.base_url))
    conn = http.client.HTTPConnection(url.host, url.port, timeout=30)
    try:
        cookie = "; ".join(f"{k}={v}" for k, v in c.cookies.items())
        conn.request("GET", path, headers={"Cookie": cookie})
        r = conn.getresponse()
        return _Raw(r.status, r.read())
    finally:
        conn.close()


def traversal(url: str) -> tuple[int, int, list[str]]:
    """Every file route of a learner's own run, asked for files outside it."""
    tried, refused, through = 0, 0, []
    with httpx.Client(base_url=url, timeout=30) as c:
        c.get("/api/session")
        run = _finished_run(c, epochs=2)
        routes = [
            f"{API}/runs/{run['id']}/checkpoints/{{f}}",
            f"/components/checkpoint-simulator/runs/{run['id']}/files/{{f}}",
        ]
        for t in TRAVERSALS:
            for route in routes:
                tried += 1
                r = _raw_get(c, route.replace("{f}", t))
                leaked = "root:" in r.text or "BEGIN" in r.text or r.content[:16].startswith(b"SQLite format")
                (
                    through.append(f"{route.split('/runs/')[0]} {t}: {r.status_code}")
                    if leaked or r.status_code < 400
                    else None
                )
                refused += not leaked and r.status_code >= 400
            tried += 1
            r = c.get(
                f"/components/checkpoint-simulator/runs/{run['id']}/inside", params={"file": t, "lang": "en"}
            )
            leaked = "root:" in r.text
            if leaked or (r.status_code < 400 and "not" not in r.text.lower()):
                through.append(f"inside {t}: {r.status_code}")
            else:
                refused += 1
    return tried, refused, through


def cookies(url: str) -> tuple[int, int, list[str]]:
    """A victim's session cookie, tampered with: never the victim's runs, never a crash of them."""
    tried, refused, through = 0, 0, []
    with httpx.Client(base_url=url, timeout=30) as victim:
        victim.get("/api/session")
        run = victim.post(f"{API}/runs", json={"epochs": 200, "checkpoint_every": 5, "pace_ms": 30}).json()
        name, value = next(iter(victim.cookies.items()))
        payload, _, signature = value.rpartition(".")
        variants = {
            "signature flipped": (
                f"{payload}.{signature[:-2]}{'A' if signature[-2] != 'A' else 'B'}{signature[-1]}"
            ),
            "payload changed": f"{payload[:-3]}AAA.{signature}",
            "signature dropped": payload,
            "truncated": value[: len(value) // 2],
            "empty": "",
            "another secret": (
                "eyJzaWQiOiAiYWFhYWFhYWFhYWFhYWFhYWFhYWEifQ==.Z0000000.aaaaaaaaaaaaaaaaaaaaaaaaaaa"
            ),
            "64 KiB of junk": "x" * 65536,
        }
        for what, tampered in variants.items():
            tried += 1
            with httpx.Client(base_url=url, timeout=30, cookies={name: tampered}) as c:
                try:
                    listed = c.get(f"{API}/runs")
                    crash = c.post(f"{API}/runs/{run['id']}/crash")
                except httpx.HTTPError:
                    refused += 1  # the server closed a connection with an absurd header: refused too
                    continue
                sees = run["id"] in listed.text
                if sees or crash.status_code < 400:
                    through.append(
                        f"{what}: list {listed.status_code} sees={sees}, crash {crash.status_code}"
                    )
                else:
                    refused += 1
        victim.post(f"{API}/runs/{run['id']}/crash")
    return tried, refused, through


def cross_session(url: str) -> tuple[int, int, list[str]]:
    """Learner B, with a session of its own, at every route of learner A's run."""
    tried, refused, through = 0, 0, []
    with httpx.Client(base_url=url, timeout=30) as a, httpx.Client(base_url=url, timeout=30) as b:
        a.get("/api/session")
        b.get("/api/session")
        run = _finished_run(a, epochs=3)
        rid = run["id"]
        asks = [
            ("GET", f"{API}/runs/{rid}", None),
            ("GET", f"{API}/runs/{rid}/reference", None),
            ("GET", f"{API}/runs/{rid}/ledger", None),
            ("GET", f"{API}/runs/{rid}/data-order", None),
            ("GET", f"{API}/runs/{rid}/checkpoints", None),
            ("GET", f"{API}/runs/{rid}/checkpoints/ckpt-epoch-0001.pt", None),
            ("POST", f"{API}/runs/{rid}/crash", None),
            ("POST", f"{API}/runs/{rid}/resume", {"file": "ckpt-epoch-0001.pt", "restore": "everything"}),
            ("POST", f"{API}/runs/{rid}/resume-all", {"file": "ckpt-epoch-0001.pt"}),
            ("DELETE", f"{API}/runs/{rid}", None),
            ("GET", f"/components/checkpoint-simulator/runs/{rid}/files/ckpt-epoch-0001.pt", None),
            ("GET", f"/components/checkpoint-simulator/runs/{rid}/inside?file=ckpt-epoch-0001.pt", None),
            ("GET", f"/components/checkpoint-simulator/live?run={rid}", None),
        ]
        report = a.post(INSPECT, files={"file": ("w.pt", _tensor_file(), "application/octet-stream")}).json()
        asks += [
            ("GET", f"{INSPECT}/{report['id']}", None),
            ("GET", f"/components/checkpoint-inspector/reports/{report['id']}", None),
        ]
        for method, path, body in asks:
            tried += 1
            r = b.request(
                method,
                path,
                json=body,
                headers={"HX-Request": "true"} if path.startswith("/components") else None,
            )
            if r.status_code in (403, 404) or (path.endswith(f"run={rid}") and rid not in r.text):
                refused += 1
            else:
                through.append(f"{method} {path}: {r.status_code}")
        still = a.get(f"{API}/runs/{rid}").json()
        if still.get("status") not in ("done",):
            through.append(f"A's run changed: {still.get('status')}")
    return tried, refused, through


def _tensor_file() -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save({"w": torch.zeros(3)}, buf)
    return buf.getvalue()

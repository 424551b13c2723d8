"""Cross-site requests: state changes from another origin are refused, in the page's language;
same-origin posts still work."""

from __future__ import annotations

import io

import pytest
import torch

from tests.hostile.helpers import (
    HX,
)

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

"""The HTTP surface under probing: JSON only, Host headers, HEAD and OPTIONS, documented refusals,
and no server path in any answer."""

from __future__ import annotations

import io
import time

import pytest
import torch

from tests.hostile.helpers import SIM


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

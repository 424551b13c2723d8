"""The CheckpointSimulator through its JSON API, with real worker processes and real torch."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
import torch

from tests.simulator_helpers import API, get, start, wait_event, wait_finished, wait_for


@pytest.fixture(params=["local", "celery"])
def settings(request, settings):
    """Every test here runs on both job backends: this machine's forkserver pool, and two Celery
    worker nodes reached through Redis (tests/conftest.py starts them)."""
    if request.param == "celery":
        cluster = request.getfixturevalue("celery_cluster")
        cluster.revive()
        return settings.model_copy(update=cluster.settings_update)
    return settings


def test_crash_at_epoch_kills_the_worker_and_full_resume_matches_the_reference(client):
    run = start(client, epochs=12, checkpoint_every=3, crash="at_epoch", crash_epoch=8)
    run = wait_finished(client, run["id"])
    assert run["status"] == "crashed"
    assert run["crash"]["how"] == "at_epoch" and run["crash"]["epoch"] == 8
    # Killed midway through epoch 8: seven epochs were recorded, 3 and 6 were checkpointed.
    assert [e["epoch"] for e in run["epochs"]] == list(range(1, 8))
    assert [c["epoch"] for c in run["checkpoints"]] == [3, 6]
    survivors = wait_event(client, run["id"], "survivors")["survivors"]
    assert all(f["ok"] for f in survivors["files"]), survivors

    r = client.post(
        f"{API}/runs/{run['id']}/resume", json={"file": "ckpt-epoch-0006.pt", "restore": "everything"}
    )
    assert r.status_code == 201, r.text
    resumed = wait_finished(client, r.json()["id"])
    assert resumed["status"] == "done", resumed["error"]
    assert [e["epoch"] for e in resumed["epochs"]] == list(range(7, 13))
    comparison = wait_event(client, resumed["id"], "comparison")["comparison"]
    assert comparison["identical"] is True
    assert comparison["max_abs_diff"] == 0.0
    assert comparison["hash"] == comparison["reference_hash"]
    reference = client.get(f"{API}/runs/{run['id']}/reference").json()
    ref_losses = {e["epoch"]: e["loss"] for e in reference["epochs"]}
    assert all(e["loss"] == ref_losses[e["epoch"]] for e in resumed["epochs"])


def test_weights_only_resume_spikes_and_differs(client):
    run = start(client, epochs=14, lr=0.03, checkpoint_every=10, crash="at_epoch", crash_epoch=12)
    run = wait_finished(client, run["id"])
    r = client.post(
        f"{API}/runs/{run['id']}/resume", json={"file": "ckpt-epoch-0010.pt", "restore": "weights"}
    )
    resumed = wait_finished(client, r.json()["id"])
    comparison = wait_event(client, resumed["id"], "comparison")["comparison"]
    assert comparison["identical"] is False and comparison["max_abs_diff"] > 0
    reference = client.get(f"{API}/runs/{run['id']}/reference").json()
    ref11 = next(e for e in reference["epochs"] if e["epoch"] == 11)
    first = resumed["epochs"][0]
    assert first["epoch"] == 11
    # Fresh Adam moments and a fresh schedule: the LR jumps back and the loss spikes.
    assert first["lr"] == pytest.approx(0.03) and ref11["lr"] == pytest.approx(0.015)
    assert first["loss"] > 1.1 * ref11["loss"]


def test_resume_without_rng_replays_the_first_epochs_data_order(client):
    run = wait_finished(
        client, start(client, epochs=8, checkpoint_every=4, crash="at_epoch", crash_epoch=6)["id"]
    )
    r = client.post(
        f"{API}/runs/{run['id']}/resume", json={"file": "ckpt-epoch-0004.pt", "restore": "no_rng"}
    )
    resumed = wait_finished(client, r.json()["id"])
    comparison = wait_event(client, resumed["id"], "comparison")["comparison"]
    reference = client.get(f"{API}/runs/{run['id']}/reference").json()
    ref5 = next(e for e in reference["epochs"] if e["epoch"] == 5)
    first = resumed["epochs"][0]
    assert first["epoch"] == 5 and first["order_head"] != ref5["order_head"]
    assert first["order_head"] == run["epochs"][0]["order_head"]  # epoch 1's order, replayed
    assert first["lr"] == ref5["lr"]  # the scheduler was restored
    assert comparison["identical"] is False


def test_crash_button_sigkills_a_running_worker(client):
    run = start(client, epochs=60, pace_ms=100)
    wait_for(client, run["id"], lambda r: len(r["epochs"]) >= 2)
    assert client.post(f"{API}/runs/{run['id']}/crash").status_code == 200
    run = wait_finished(client, run["id"], timeout=20)
    assert run["status"] == "crashed" and run["crash"]["how"] == "button"
    assert len(run["epochs"]) < 60
    # A finished run cannot crash again.
    assert client.post(f"{API}/runs/{run['id']}/crash").status_code == 409


def test_progress_shows_epoch_step_loss_accuracy_and_lr(client):
    run = start(client, epochs=60, pace_ms=100)
    running = wait_for(client, run["id"], lambda r: len(r["epochs"]) >= 2 and r["live"])
    live, last = running["live"], running["epochs"][-1]
    assert live["epoch"] >= 2 and live["step"] >= last["step"] and 0 <= live["acc"] <= 1
    assert live["loss"] > 0 and live["lr"] > 0
    html = client.get(f"/components/checkpoint-simulator/live?lang=en&run={run['id']}").text
    client.post(f"{API}/runs/{run['id']}/crash")
    now = html.split('id="cs-now"', 1)[1].split("</p>", 1)[0]
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", now))
    found = re.search(r"Training: epoch (\d+) of 60 · Val\. loss ([0-9.]+) · Val\. accuracy ([0-9.]+)%", text)
    assert found, text
    assert (
        int(found.group(1)) >= last["epoch"]
        and float(found.group(2)) > 0
        and 0 <= float(found.group(3)) <= 100
    )


def test_crash_while_saving_leaves_a_broken_naive_file_and_an_intact_atomic_one(client):
    run = start(client, epochs=10, checkpoint_every=2, crash="while_saving", crash_epoch=6)
    run = wait_finished(client, run["id"])
    assert run["status"] == "crashed" and run["crash"]["how"] == "while_saving"
    survivors = {f["file"]: f for f in wait_event(client, run["id"], "survivors")["survivors"]["files"]}
    naive = survivors["naive/latest.pt"]
    # Whatever torch.load says about a truncated zip is shown as it is; it must refuse the file.
    assert not naive["ok"] and naive["error"], naive
    assert survivors["checkpoints/ckpt-epoch-0004.pt"]["ok"]
    assert "checkpoints/ckpt-epoch-0006.pt" not in survivors
    assert run["temp_files"], "the atomic writer's half-written temp file is shown"
    latest = next(c for c in run["checkpoints"] if c["latest"])
    assert latest["epoch"] == 4
    # torch.load already refused the naive file: a resume from it is refused with torch's own words,
    # and no run is created for it; nothing else is touched.
    r = client.post(
        f"{API}/runs/{run['id']}/resume", json={"file": "naive/latest.pt", "restore": "everything"}
    )
    assert r.status_code == 409 and naive["error"] in r.json()["detail"]
    assert client.get(f"{API}/runs").json()[0]["resumes"] == []
    assert [c["file"] for c in get(client, run["id"])["checkpoints"]] == [
        c["file"] for c in run["checkpoints"]
    ]
    # The intact atomic checkpoint still resumes.
    r = client.post(
        f"{API}/runs/{run['id']}/resume", json={"file": "ckpt-epoch-0004.pt", "restore": "everything"}
    )
    assert r.status_code == 201, r.text


def test_checkpoint_download_opens_with_weights_only(client):
    run = wait_finished(client, start(client, epochs=4, checkpoint_every=2)["id"])
    assert run["status"] == "done"
    r = client.get(f"{API}/runs/{run['id']}/checkpoints/ckpt-epoch-0004.pt")
    assert r.status_code == 200
    assert zipfile.is_zipfile(io.BytesIO(r.content))
    ckpt = torch.load(io.BytesIO(r.content), map_location="cpu", weights_only=True)
    assert ckpt["epoch"] == 4
    assert {"model_state_dict", "optimizer_state_dict", "scheduler_state_dict", "rng"} <= set(ckpt)


def test_runs_are_private_to_their_session(client):
    mine = start(client, epochs=3, checkpoint_every=1)
    wait_finished(client, mine["id"])
    cookies = dict(client.cookies)
    client.cookies.clear()  # a different browser
    assert client.get(f"{API}/runs").json() == []
    for method, url in [
        ("get", f"{API}/runs/{mine['id']}"),
        ("post", f"{API}/runs/{mine['id']}/crash"),
        ("get", f"{API}/runs/{mine['id']}/checkpoints/ckpt-epoch-0001.pt"),
        ("delete", f"{API}/runs/{mine['id']}"),
    ]:
        assert getattr(client, method)(url).status_code == 404, url
    client.cookies.update(cookies)
    assert [r["id"] for r in client.get(f"{API}/runs").json()] == [mine["id"]]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"epochs": 0}, "epochs"),
        ({"epochs": 100000}, "epochs"),
        ({"lr": "fast"}, "lr"),
        ({"lr": -1}, "lr"),
        ({"optimizer": "lbfgs"}, "optimizer"),
        ({"checkpoint_every": 50, "epochs": 10}, None),
        ({"crash": "at_epoch"}, None),
        ({"crash": "while_saving", "crash_epoch": 7, "checkpoint_every": 5}, None),
    ],
)
def test_bad_settings_are_422(client, body, field):
    r = client.post(f"{API}/runs", json=body)
    assert r.status_code == 422
    if field:
        assert any(field in e["loc"] for e in r.json()["detail"])
    assert client.get(f"{API}/runs").json() == []


def test_unknown_runs_and_files_are_404(client):
    assert client.get(f"{API}/runs/nope").status_code == 404
    run = wait_finished(client, start(client, epochs=2, checkpoint_every=1)["id"])
    for name in ["../../lab.sqlite3", "ckpt-epoch-9999.pt", "%2e%2e/secret.key", "final.pt"]:
        assert client.get(f"{API}/runs/{run['id']}/checkpoints/{name}").status_code == 404
    r = client.post(f"{API}/runs/{run['id']}/resume", json={"file": "../../secret.key"})
    assert r.status_code == 404


def test_chapter_page_is_the_same_for_every_learner_and_runs_load_into_it(client):
    run = wait_finished(client, start(client, epochs=2, checkpoint_every=1)["id"])
    mine = client.get("/en/06-model-io-checkpoint")
    live = client.get("/components/checkpoint-simulator/live?lang=en").text
    assert run["id"] in live
    cookies = dict(client.cookies)
    client.cookies.clear()
    theirs = client.get("/en/06-model-io-checkpoint")
    assert "lab_session" in theirs.cookies  # a new learner gets a session with the page
    assert mine.text == theirs.text and run["id"] not in theirs.text
    assert 'hx-get="/components/checkpoint-simulator/live?lang=en"' in theirs.text
    assert run["id"] not in client.get("/components/checkpoint-simulator/live?lang=en").text
    client.cookies.update(cookies)


def test_a_finished_runs_final_checkpoint_is_refused_with_what_to_do_instead(client):
    """Resumed from its last epoch, a finished run would train nothing and look perfect."""
    run = wait_finished(client, start(client, epochs=4, checkpoint_every=2)["id"])
    for path, body in (
        ("resume", {"file": "ckpt-epoch-0004.pt"}),
        ("resume-all", {"file": "ckpt-epoch-0004.pt"}),
    ):
        r = client.post(f"{API}/runs/{run['id']}/{path}", json=body)
        assert r.status_code == 409 and "planned crash" in r.json()["detail"], r.text
    # An earlier checkpoint of the same run has epochs left to train: it still resumes.
    r = client.post(
        f"{API}/runs/{run['id']}/resume", json={"file": "ckpt-epoch-0002.pt", "restore": "weights"}
    )
    assert r.status_code == 201
    wait_finished(client, r.json()["id"])

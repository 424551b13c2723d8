"""Crash mid-epoch, resume mid-epoch, through the app: real worker processes, a real SIGKILL, the
JSON API's data order, the ledger's words and the live view's strips."""

from __future__ import annotations

import time

from app.components.checkpoint_simulator import ledger
from tests.simulator_helpers import API, start, wait_event, wait_finished

MID = "ckpt-epoch-0010-batch-0019.pt"  # 10 epochs done, 19 of the 11th's 38 batches


def wait_ledger(client, run_id: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        book = client.get(f"{API}/runs/{run_id}/ledger?lang=en").json()
        if book["complete"] or time.monotonic() > deadline:
            return book
        time.sleep(0.3)


def test_a_run_crashed_mid_epoch_resumes_mid_epoch_five_ways(client):
    # Crash in epoch 11, after the first LR decay: a fresh scheduler shows too.
    run = start(client, epochs=12, checkpoint_every=4, crash="at_epoch", crash_epoch=11, mid_epoch=True)
    assert run["config"]["mid_epoch_checkpoint"] is True
    run = wait_finished(client, run["id"])
    assert run["status"] == "crashed"
    wait_event(client, run["id"], "survivors")
    names = [c["file"] for c in run["checkpoints"]]
    # keep_last 3: the newest three files, the mid-epoch checkpoint of epoch 3 the last one.
    assert names[-1] == MID and [c["batch"] for c in run["checkpoints"]][-1] == 19

    empty = client.get(f"{API}/runs/{run['id']}/data-order").json()
    assert empty["epoch"] is None and empty["rows"] == []

    r = client.post(f"{API}/runs/{run['id']}/resume-all", json={"file": MID})
    assert r.status_code == 201, r.text
    book = wait_ledger(client, run["id"])
    assert book["complete"], book
    rows = {r["mode"]: r for r in book["rows"]}
    assert rows["everything"]["identical"] is True and rows["everything"]["loss_change"] == 0
    assert (rows["everything"]["samples_twice"], rows["everything"]["samples_never"]) == (0, 0)
    # Without the place in the epoch: the epoch again, the 19 batches done before the crash twice.
    for mode in ("weights", "weights_optimizer"):
        assert (rows[mode]["samples_twice"], rows[mode]["samples_never"]) == (19 * 64, 0), mode
        assert "in epoch 11, 1216 samples were trained twice and 0 never" in rows[mode]["cost"], rows[mode][
            "cost"
        ]
    # The place without the order: the wrong samples skipped.
    assert rows["no_rng"]["samples_twice"] == rows["no_rng"]["samples_never"] > 300
    for mode in ("weights", "weights_optimizer", "no_scheduler", "no_rng"):
        assert rows[mode]["identical"] is False, mode
    assert rows["no_scheduler"]["lr_ok"] is False and rows["no_scheduler"]["order_same"] is True
    assert rows["everything"]["restored"]["position"] and not rows["weights"]["restored"]["position"]
    assert book["conclusion"].startswith("Only “Everything”") and "sampler" in book["conclusion"]

    order = client.get(f"{API}/runs/{run['id']}/data-order?lang=en").json()
    assert (order["epoch"], order["before"], order["batches"], order["samples"]) == (11, 19, 38, 2400)
    assert order["reference_same_order"] is True  # the reference trained epoch 11 in the interrupted order
    by_mode = {r["mode"]: r for r in order["rows"]}
    assert list(by_mode) == list(ledger.MODES)
    assert by_mode["everything"]["kind"] == "continued" and by_mode["everything"]["steps"] == 38
    assert by_mode["no_scheduler"]["kind"] == "continued"
    assert by_mode["weights"]["kind"] == "restarted" and by_mode["weights"]["steps"] == 57
    assert by_mode["no_rng"]["kind"] == "skipped" and by_mode["no_rng"]["start"] == 19
    skipped = by_mode["no_rng"]
    assert sum(t for t, _ in skipped["per_batch"]) == skipped["twice"]
    assert sum(n for _, n in skipped["per_batch"]) == skipped["never"]
    assert (
        f"{skipped['twice']} samples were trained twice and {skipped['never']} never" in skipped["sentence"]
    )
    assert (
        "1216 samples trained before the crash were trained a second time" in by_mode["weights"]["sentence"]
    )
    zh = client.get(f"{API}/runs/{run['id']}/data-order?lang=zh").json()
    assert zh["rows"][0]["label"] == "全部恢复" and "恰好一次" in zh["rows"][0]["sentence"]

    # The live view draws the same facts: one strip per way, the reference's first.
    html = client.get(f"/components/checkpoint-simulator/live?lang=en&run={run['id']}").text
    assert 'id="cs-order"' in html and 'data-before="19"' in html
    assert html.count('class="order-strip"') == 1 + len(ledger.MODES)
    assert f'data-mode="no_rng" data-twice="{skipped["twice"]}" data-never="{skipped["never"]}"' in html
    assert "mid-epoch 11: after batch 19/38" in html


def test_an_epoch_end_resume_shows_no_data_order(client):
    run = wait_finished(
        client,
        start(client, epochs=3, checkpoint_every=1, crash="at_epoch", crash_epoch=2, mid_epoch=True)["id"],
    )
    wait_event(client, run["id"], "survivors")
    r = client.post(
        f"{API}/runs/{run['id']}/resume", json={"file": "ckpt-epoch-0001.pt", "restore": "weights"}
    )
    assert r.status_code == 201, r.text
    resumed = wait_finished(client, r.json()["id"])
    assert resumed["status"] == "done" and resumed["epoch_order"] is None
    assert client.get(f"{API}/runs/{run['id']}/data-order").json()["rows"] == []

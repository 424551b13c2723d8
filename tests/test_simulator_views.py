"""The simulator's htmx answers: each fragment has its own route; an action answers with the
fragment it changed, and names the others it touched (HX-Trigger)."""

from __future__ import annotations

import json
import re
import time

from tests.simulator_helpers import get, start, wait_finished

HX = {"HX-Request": "true"}
SIM = "/components/checkpoint-simulator"
PARTS = ("now", "timeline", "checkpoints", "ledger", "compare", "disk")


def wait_running_with_an_epoch(client, run_id: str) -> None:
    deadline = time.monotonic() + 60
    while (run := get(client, run_id))["status"] != "running" or not run["epochs"]:
        assert time.monotonic() < deadline, run["status"]
        time.sleep(0.05)


def test_the_live_region_holds_every_fragment_each_with_its_route_and_trigger(client):
    run = start(client, epochs=3, checkpoint_every=1)
    wait_finished(client, run["id"])
    html = client.get(f"{SIM}/live?lang=en").text
    for part in PARTS:
        tag = re.search(rf'<div [^>]*hx-get="{SIM}/runs/{run["id"]}/{part}\?lang=en"[^>]*>', html)
        assert tag, part
        assert 'hx-trigger="cs-' in tag.group(0) and f'data-cs-run="{run["id"]}"' in tag.group(0)
        assert 'hx-sync="this:queue last"' in tag.group(0)
        fragment = client.get(f"{SIM}/runs/{run['id']}/{part}?lang=en")
        assert fragment.status_code == 200 and "<html" not in fragment.text
    now = client.get(f"{SIM}/runs/{run['id']}/now?lang=zh").text
    assert f'data-run-id="{run["id"]}"' in now and 'data-status="done"' in now and "已完成" in now
    # The screen reader's sentence rides along with the status line, out of band.
    assert 'id="cs-announce"' in now and "Run finished" not in now


def test_a_fragment_of_someone_elses_run_is_not_found(client, settings):
    from fastapi.testclient import TestClient

    run = start(client, epochs=2, checkpoint_every=1)
    other = TestClient(client.app)
    other.get("/api/session")
    for part in PARTS:
        assert other.get(f"{SIM}/runs/{run['id']}/{part}?lang=en").status_code == 404
    wait_finished(client, run["id"])


def test_start_answers_with_the_new_lineage_and_moves_focus_to_it(client):
    r = client.post(
        f"{SIM}/runs?lang=en", headers=HX, data={"epochs": "3", "checkpoint_every": "1", "pace_ms": "0"}
    )
    assert r.status_code == 200
    assert json.loads(r.headers["hx-trigger-after-settle"]) == {"cs-focus": {"target": "#cs-now"}}
    assert 'id="cs-message"' in r.text  # the last message is cleared, out of band
    root = re.search(r'id="cs-now"[^>]* data-run-id="([^"]+)"', r.text).group(1)
    assert f'id="cs-pick-{root}"' in r.text and 'aria-current="true"' in r.text
    wait_finished(client, root)


def test_crash_answers_with_the_status_line_crashed_and_refreshes_the_rest(client):
    run = start(client, epochs=200, checkpoint_every=5, pace_ms=50)
    wait_running_with_an_epoch(client, run["id"])
    running = client.get(f"{SIM}/runs/{run['id']}/now?lang=en").text
    assert f'id="cs-crash-{run["id"]}"' in running and "first checkpoint is saved after epoch 5" in running
    r = client.post(f"{SIM}/runs/{run['id']}/crash?lang=en", headers=HX)
    assert r.status_code == 200
    assert 'data-status="crashed"' in r.text and "autofocus" in r.text
    assert "Run crashed in epoch" in r.text  # the announcement, out of band
    triggers = json.loads(r.headers["hx-trigger"])
    assert triggers["cs-checkpoint"] == {"target": "#cs-ckpts"}
    assert triggers["cs-ledger"] == {"target": "#cs-ledger-box"}
    assert get(client, run["id"])["status"] == "crashed"
    # Crashed again: the refusal is a message in the page, not an error page.
    again = client.post(f"{SIM}/runs/{run['id']}/crash?lang=en", headers=HX)
    assert again.status_code == 200 and 'role="alert"' in again.text


def test_a_crash_before_any_checkpoint_says_there_is_nothing_to_resume_from(client):
    run = start(client, epochs=10, checkpoint_every=5, crash="at_epoch", crash_epoch=2)
    wait_finished(client, run["id"])
    now = client.get(f"{SIM}/runs/{run['id']}/now?lang=en").text
    assert "Nothing to resume from" in now and "This is why you checkpoint" in now
    checkpoints = client.get(f"{SIM}/runs/{run['id']}/checkpoints?lang=en").text
    assert "crashed before its first checkpoint" in checkpoints and "cs-resume-menu" not in checkpoints
    ledger = client.get(f"{SIM}/runs/{run['id']}/ledger?lang=zh").text
    assert "磁盘上没有 checkpoint" in ledger and "先让训练崩溃" not in ledger


def test_a_finished_run_offers_no_resume_from_its_final_checkpoint(client):
    run = start(client, epochs=4, checkpoint_every=2)
    wait_finished(client, run["id"])
    checkpoints = client.get(f"{SIM}/runs/{run['id']}/checkpoints?lang=en").text
    assert "cs-resume-menu-4" not in checkpoints and "cs-resume-menu-2" in checkpoints
    ledger = client.get(f"{SIM}/runs/{run['id']}/ledger?lang=en").text
    assert "planned crash" in ledger and "Resume all five from epoch 4" not in ledger
    # Asked anyway (an old page, a script): refused in words, nothing queued.
    r = client.post(
        f"{SIM}/resume-all?lang=en", headers=HX, data={"from_run": run["id"], "file": "ckpt-epoch-0004.pt"}
    )
    assert r.status_code == 200 and "start a run with a planned crash" in r.text.lower()
    assert client.get("/api/checkpoint-simulator/runs").json()[0]["resumes"] == []


def test_the_guess_is_open_above_the_button_and_the_scenario_is_one_click(client):
    run = start(client, epochs=6, checkpoint_every=2, crash="at_epoch", crash_epoch=5)
    wait_finished(client, run["id"])
    ledger = client.get(f"{SIM}/runs/{run['id']}/ledger?lang=en").text
    assert re.search(r'<details class="cs-predict" id="cs-predict" open', ledger)
    assert ledger.index('id="cs-predict"') < ledger.index('id="cs-resume-all"')
    page = client.get("/en/06-model-io-checkpoint").text
    form = re.search(r'<form class="cs-scenario-form".*?</form>', page, re.S).group(0)
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form))
    assert fields["optimizer"] == "sgd" and float(fields["lr"]) >= 0.1 and fields["crash"] == "at_epoch"

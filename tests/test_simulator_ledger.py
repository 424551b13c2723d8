"""The state ledger: its numbers against a hand-computed case, its words, and the whole ledger
from real runs through the JSON API (resume all five from one checkpoint)."""

from __future__ import annotations

import time

import pytest

from app.components.checkpoint_simulator import ledger, words
from app.jobs.manager import JobManager, NotAllowed
from app.jobs.store import EpochRow
from app.settings import Settings
from tests.simulator_helpers import API, start, train_config, wait_event, wait_finished


def row_of(epoch, loss, val_loss, lr=0.01, order=(1, 2, 3), acc=0.9):
    return EpochRow(epoch, loss, acc, lr, 0.1, epoch * 10, [], list(order), val_loss)


REFERENCE = [
    row_of(11, 0.20, 0.20),
    row_of(12, 0.18, 0.19),
    row_of(13, 0.17, 0.18),
    row_of(14, 0.16, 0.17),
    row_of(15, 0.15, 0.16, acc=0.95),
]


def test_measure_against_a_hand_computed_case():
    # Resumed from epoch 10 with a fresh optimizer and the LR back at base for epochs 11-12.
    resumed = [
        row_of(11, 0.30, 0.26, lr=0.02, order=(9, 8, 7)),
        row_of(12, 0.22, 0.23, lr=0.02),
        row_of(13, 0.18, 0.197),
        row_of(14, 0.16, 0.18),
        row_of(15, 0.15, 0.20, acc=0.93),
    ]
    row = ledger.Row("weights", dict(zip(ledger.PIECES, ledger.RESTORED["weights"], strict=True)))
    ledger.measure(row, resumed, REFERENCE, reference_done=True, resumed_done=True)
    assert row.first_epoch == 11
    assert row.loss_change == pytest.approx(0.30 / 0.20 - 1)  # +50 %
    assert row.spike is True
    assert (row.lr_ok, row.lr_epoch, row.lr_got, row.lr_expected) == (False, 11, 0.02, 0.01)
    assert row.order_same is False
    # |0.26-0.20| = 0.06 > 0.02, |0.23-0.19| = 0.04 > 0.019, |0.197-0.18| = 0.017 <= 0.018:
    # back after 2 epochs.
    assert (row.recovered, row.recovery_epochs) == (True, 2)
    # 0.20 vs 0.16 is +25 %: worse, beyond the 10 % margin.
    assert (row.final_val_loss, row.reference_final_val_loss, row.final) == (0.20, 0.16, "worse")
    assert (row.final_val_acc, row.reference_final_val_acc) == (0.93, 0.95)


def test_measure_when_nothing_differs_and_when_never_back():
    same = ledger.Row("everything", {})
    ledger.measure(same, REFERENCE, REFERENCE, True, True)
    assert (same.spike, same.lr_ok, same.order_same, same.recovery_epochs, same.final) == (
        False,
        True,
        True,
        0,
        "same",
    )
    off = ledger.Row("no_scheduler", {})
    far = [row_of(e.epoch, e.loss, e.val_loss * 1.5) for e in REFERENCE]
    ledger.measure(off, far, REFERENCE, True, True)
    assert off.recovered is False and off.recovery_epochs is None and off.final == "worse"
    # While the reference still runs, nothing final is claimed.
    early = ledger.Row("no_rng", {})
    ledger.measure(early, REFERENCE[:2], REFERENCE[:3], reference_done=False, resumed_done=False)
    assert early.final is None and early.final_val_loss is None and early.recovery_epochs == 0


def test_cost_sentence_says_only_what_was_measured():
    row = ledger.Row(
        "weights",
        {},
        status="done",
        loss_change=0.5,
        spike=True,
        lr_ok=False,
        lr_epoch=11,
        lr_got=0.02,
        lr_expected=0.01,
        order_same=False,
        recovered=True,
        recovery_epochs=2,
        final="worse",
        final_val_loss=0.2,
        reference_final_val_loss=0.16,
        identical=False,
        max_abs_diff=0.031,
    )
    en = words.cost(row, "en", ledger.MARGIN)
    assert en == (
        "The first epoch back had a train loss 50% above the reference; the LR in epoch 11 was 0.02 "
        "where the plan had 0.01; the data came in a different order; validation loss was back within "
        "±10% of the reference after 2 epochs; the final model is worse (val. loss 0.2, reference 0.16); "
        "not reproducible: the final weights differ (max |Δw| = 0.031)."
    )
    zh = words.cost(row, "zh", ledger.MARGIN)
    assert "50%" in zh and "0.02" in zh and zh.endswith("。")
    assert words.cost(ledger.Row("everything", {}, status="done", identical=True), "en", 0.1).startswith(
        "Nothing lost"
    )
    assert words.cost(ledger.Row("no_rng", {}), "en", 0.1) == "not tried yet"


def test_conclusion_only_when_the_runs_show_it():
    def book(identical: dict) -> ledger.Ledger:
        return ledger.Ledger(
            [ledger.Row(m, {}, status="done", identical=identical.get(m)) for m in ledger.MODES], True
        )

    full = book({m: m == "everything" for m in ledger.MODES})
    assert words.conclusion(full, "en").startswith("Only “Everything”")
    # Had a partial restore come back identical too, the page would not claim the lesson.
    odd = book({m: m in ("everything", "no_rng") for m in ledger.MODES})
    assert (
        words.conclusion(odd, "en")
        == "5 of 5 ways compared; bit-identical: Everything, Everything but the RNG state."
    )
    assert words.conclusion(book({}), "en") is None


def test_resume_all_fills_the_ledger_from_real_runs(client):
    run = start(client, epochs=12, checkpoint_every=4, crash="at_epoch", crash_epoch=10)
    run = wait_finished(client, run["id"])
    wait_event(client, run["id"], "survivors")
    guesses = {"everything": {"identical": True, "spike": False}, "weights": {"identical": True}}
    r = client.post(
        f"{API}/runs/{run['id']}/resume-all", json={"file": "ckpt-epoch-0008.pt", "predictions": guesses}
    )
    assert r.status_code == 201, r.text
    runs = r.json()["runs"]
    assert [x["restore"] for x in runs] == list(ledger.MODES)
    # Three fit under the learner's limit now; the other two wait without holding a place in line.
    assert [x["status"] for x in runs] == ["queued"] * 3 + ["planned"] * 2
    # A second set while one waits is refused: one learner cannot fill the queue.
    again = client.post(f"{API}/runs/{run['id']}/resume-all", json={"file": "ckpt-epoch-0008.pt"})
    assert again.status_code == 429

    deadline = time.monotonic() + 180
    while True:
        book = client.get(f"{API}/runs/{run['id']}/ledger?lang=en").json()
        if book["complete"] or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert book["complete"], book
    rows = {r["mode"]: r for r in book["rows"]}
    assert rows["everything"]["identical"] is True and rows["everything"]["final"] == "same"
    assert (
        rows["everything"]["loss_change"] == 0
        and rows["everything"]["lr_ok"]
        and rows["everything"]["order_same"]
    )
    for mode in ("weights", "weights_optimizer", "no_scheduler", "no_rng"):
        assert rows[mode]["identical"] is False, mode
        assert rows[mode]["cost"].startswith("The first epoch back"), rows[mode]["cost"]
    # What each omission measurably changed on this task:
    for mode in ("weights", "weights_optimizer", "no_scheduler"):
        assert rows[mode]["lr_ok"] is False and rows[mode]["lr_got"] == pytest.approx(0.02), mode
    assert rows["no_rng"]["lr_ok"] is True and rows["no_rng"]["order_same"] is False
    assert rows["no_scheduler"]["order_same"] is True
    assert rows["weights"]["restored"] == {
        "weights": True,
        "optimizer": False,
        "scheduler": False,
        "rng": False,
        "position": False,
    }
    # The guesses were recorded and judged against what happened.
    assert rows["everything"]["prediction_right"] == {"identical": True, "spike": True}
    assert rows["weights"]["prediction_right"] == {"identical": False}
    assert book["conclusion"].startswith("Only “Everything”")
    zh = client.get(f"{API}/runs/{run['id']}/ledger?lang=zh").json()
    assert zh["rows"][0]["label"] == "全部恢复" and zh["conclusion"].startswith("只有")


def test_the_shared_reference_appears_only_once_this_learner_resumes(client, settings):
    from fastapi.testclient import TestClient

    body = {"epochs": 4, "checkpoint_every": 2, "crash": "at_epoch", "crash_epoch": 3}
    first = wait_finished(client, start(client, **body)["id"])
    wait_event(client, first["id"], "survivors")
    r = client.post(f"{API}/runs/{first['id']}/resume", json={"file": "ckpt-epoch-0002.pt"})
    wait_finished(client, r.json()["id"])
    assert client.get(f"{API}/runs/{first['id']}/reference").status_code == 200
    # Another learner with the same settings: the reference exists, but not for them until they resume.
    other = TestClient(client.app, base_url=str(client.base_url))
    other.get("/api/session")
    theirs = wait_finished(other, start(other, **body)["id"])
    assert other.get(f"{API}/runs/{theirs['id']}/reference").status_code == 404
    html = other.get(f"/components/checkpoint-simulator/live?lang=en&run={theirs['id']}").text
    assert "never crashed" not in html.split('id="cs-now"', 1)[1].split('class="cs-ledger"', 1)[0]


def test_a_file_torch_load_rejected_cannot_be_resumed_as_a_set(client):
    run = wait_finished(
        client, start(client, epochs=6, checkpoint_every=2, crash="while_saving", crash_epoch=4)["id"]
    )
    wait_event(client, run["id"], "survivors")
    r = client.post(f"{API}/runs/{run['id']}/resume-all", json={"file": "naive/latest.pt"})
    assert r.status_code == 409 and "torch.load rejected" in r.json()["detail"]
    assert client.get(f"{API}/runs").json()[0]["resumes"] == []


def test_planned_resumes_survive_a_restart_and_then_run(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", max_workers=1)
    first = JobManager(settings)
    first.start()
    config = train_config(epochs=4, checkpoint_every=2)
    root = first.submit_train("learner", config, {"pace_ms": 0})
    _wait(first, root.id, "done")
    path = first.run_dir(root.id) / "checkpoints" / "ckpt-epoch-0002.pt"
    runs = first.submit_resume_all("learner", first.store.get(root.id), path, 2, list(ledger.MODES))
    planned = [r.id for r in runs if r.status == "planned"]
    assert len(planned) == 2
    first.stop()  # the server goes away before any planned run started

    second = JobManager(settings)
    second.start()
    try:
        for run_id in planned:
            assert _wait(second, run_id, "done").status == "done"
    finally:
        second.stop()


def _wait(jobs: JobManager, run_id: str, status: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = jobs.store.get(run_id)
        if run.status == status:
            return run
        time.sleep(0.1)
    raise AssertionError(f"{run_id} is {jobs.store.get(run_id).status}, not {status}")


def test_a_planned_resume_can_be_cancelled_and_its_lineage_deleted(tmp_path):
    jobs = JobManager(Settings(data_dir=tmp_path / "data", max_workers=1))
    jobs.start()
    try:
        config = train_config(epochs=4, checkpoint_every=2)
        root = jobs.submit_train("learner", config, {"pace_ms": 0})
        _wait(jobs, root.id, "done")
        path = jobs.run_dir(root.id) / "checkpoints" / "ckpt-epoch-0002.pt"
        runs = jobs.submit_resume_all("learner", jobs.store.get(root.id), path, 2, list(ledger.MODES))
        planned = [r for r in runs if r.status == "planned"]
        jobs.crash(planned[0].id)  # Crash on a run that never started: it is called off
        assert jobs.store.get(planned[0].id).status == "interrupted"
        # Whatever still waits goes with the lineage; a run already training must end first.
        deadline = time.monotonic() + 60
        while True:
            try:
                jobs.delete(root.id)
                break
            except NotAllowed:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert jobs.store.lineage(root.id) == []
    finally:
        jobs.stop()

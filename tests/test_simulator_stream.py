"""The simulator's event stream: small named events (runs, status, epoch, checkpoint, ledger)
with the lineage's run id, and queue with the waiting runs' places, each learner hearing of its
own runs only; the page's fragments refresh themselves on them. Every wait here is for a
condition, with a generous deadline; nothing is asserted about how many events came in a time
window."""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from app.components.checkpoint_simulator.stream import Look, changes, events
from app.jobs.manager import JobManager
from app.settings import Settings
from tests.simulator_helpers import API, start, train_config, wait_finished

CONFIG = train_config()
DEADLINE = 60.0


async def _in_thread(fn):
    return await asyncio.to_thread(fn)


def run_scenario(scenario):
    """asyncio.run in a thread of its own: the browser tests' Playwright keeps a loop running here."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, scenario()).result()


class Recorder:
    """Reads a learner's stream in the background, as a page would, keeping every event."""

    def __init__(self, jobs, session: str):
        self.events: list[tuple[str, str]] = []
        self.task = asyncio.create_task(self._read(events(jobs, session, _in_thread)))

    async def _read(self, stream):
        async for event in stream:
            self.events.append((event["event"], event["data"]))

    async def until(self, condition, what: str) -> None:
        deadline = time.monotonic() + DEADLINE
        while not condition():
            assert time.monotonic() < deadline, f"never: {what}; heard {self.events[-20:]}"
            await asyncio.sleep(0.05)

    def heard(self, name: str, run_id: str) -> bool:
        return (name, run_id) in self.events

    def place(self, run_id: str) -> str | None:
        """The last place in line the stream gave this run, as the page shows it."""
        places = [json.loads(data) for name, data in self.events if name == "queue"]
        return next((p[run_id] for p in reversed(places) if run_id in p), None)

    def stop(self) -> None:
        self.task.cancel()


@pytest.fixture
def jobs(tmp_path):
    # One worker: a slow first run holds it and every later run waits in line (paced ones too).
    manager = JobManager(Settings(data_dir=tmp_path / "data", max_workers=1, paced_workers=0))
    manager.start()
    yield manager
    manager.stop()


def _hold_the_worker(jobs):
    busy = jobs.submit_train("busy", CONFIG, {"pace_ms": 300})
    deadline = time.monotonic() + DEADLINE
    while not jobs.is_running(busy.id):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return busy


def test_a_stream_speaks_of_its_own_learners_runs_only(jobs):
    busy = _hold_the_worker(jobs)
    mine = jobs.submit_train("learner-a", CONFIG, {"pace_ms": 0})

    async def scenario():
        a, b = Recorder(jobs, "learner-a"), Recorder(jobs, "learner-b")
        await a.until(lambda: a.events and b.events, "both streams open")
        # The first event of every stream: load the learner's runs.
        assert a.events[0] == ("runs", "") and b.events[0] == ("runs", "")
        # a's run waits in line: its place reaches a's page, named by the run's id.
        await a.until(lambda: a.place(mine.id), "a's place in line")
        assert a.place(mine.id) == "number 1 in the queue"
        theirs = jobs.submit_train("learner-b", CONFIG, {"pace_ms": 0})
        await b.until(lambda: b.heard("runs", "") and len(b.events) > 1, "b's new lineage")
        await b.until(lambda: b.place(theirs.id), "b's place in line")
        assert b.place(theirs.id) == "number 2 in the queue"
        # The worker frees: a's run starts and trains; a hears it, b hears nothing of it.
        jobs.crash(busy.id)
        await a.until(lambda: a.heard("started", mine.id) and a.heard("epoch", mine.id), "a's run training")
        jobs.crash(mine.id)
        await a.until(lambda: jobs.store.get(mine.id).status == "crashed", "a's crash recorded")
        a.stop(), b.stop()
        return a.events, b.events, theirs

    heard_a, heard_b, theirs = run_scenario(scenario)
    # A place in line names its run; every other event the lineage's root.
    assert all(run in ("", mine.id) for name, run in heard_a if name != "queue")
    assert all(run in ("", theirs.id) for name, run in heard_b if name != "queue")
    assert all(set(json.loads(data)) == {mine.id} for name, data in heard_a if name == "queue")
    assert all(set(json.loads(data)) == {theirs.id} for name, data in heard_b if name == "queue")


def test_a_run_reaches_the_page_epoch_by_epoch_and_its_crash_as_a_status(jobs):
    run = jobs.submit_train("learner", {**CONFIG, "epochs": 40}, {"pace_ms": 50})

    async def scenario():
        page = Recorder(jobs, "learner")
        await page.until(lambda: jobs.is_running(run.id), "the run started")
        seen = len(page.events)
        await page.until(lambda: [e for e in page.events[seen:] if e == ("epoch", run.id)][1:], "two epochs")
        await page.until(lambda: page.heard("checkpoint", run.id), "its first checkpoint")
        before = len(page.events)
        jobs.crash(run.id)
        await page.until(lambda: ("status", run.id) in page.events[before:], "the crash, as a status")
        page.stop()

    run_scenario(scenario)


def test_the_shared_reference_moves_only_the_ledgers_that_show_it(tmp_path):
    """A class with the same settings shares one reference run. A lineage shows it once it has a
    resume: only then are the reference's epochs a change ("ledger") to that learner's page."""
    jobs = JobManager(Settings(data_dir=tmp_path / "data", max_workers=1, paced_workers=0, max_epochs=600))
    jobs.start()
    try:
        config = {**CONFIG, "epochs": 600}
        crashed = jobs.submit_train("learner", config, {"pace_ms": 0, "crash_at_epoch": 6})
        deadline = time.monotonic() + DEADLINE
        while jobs.store.get(crashed.id).status in ("queued", "running"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        ref = jobs.ensure_reference(config)  # a crash on an idle pool has already started it

        async def five_reference_epochs() -> list[tuple[str, str]]:
            page = Recorder(jobs, "learner")
            await page.until(lambda: jobs.is_running(ref.id) and page.events, "the reference trains")
            start_epoch, seen = jobs.progress(ref.id).epoch, len(page.events)
            await page.until(lambda: jobs.progress(ref.id).epoch - start_epoch >= 5, "five reference epochs")
            page.stop()
            return page.events[seen:]

        quiet = run_scenario(five_reference_epochs)
        assert not [e for e in quiet if e[0] == "ledger"], quiet
        checkpoint = jobs.run_dir(crashed.id) / "checkpoints" / "ckpt-epoch-0005.pt"
        jobs.submit_resume("learner", jobs.store.get(crashed.id), checkpoint, 5, "everything")

        async def the_ledger_moves() -> None:
            page = Recorder(jobs, "learner")
            await page.until(lambda: page.events.count(("ledger", crashed.id)) >= 3, "ledger events")
            page.stop()

        run_scenario(the_ledger_moves)
        jobs.crash(ref.id)
    finally:
        jobs.stop()


def test_the_stream_caps_streams_per_learner(tmp_path):
    jobs = JobManager(Settings(data_dir=tmp_path / "data", max_workers=1, streams_per_session=1))
    jobs.start()

    async def scenario():
        first = Recorder(jobs, "learner")
        await first.until(lambda: first.events, "the first stream's first event")
        second = [e async for e in events(jobs, "learner", _in_thread)]
        first.stop()
        return second

    try:
        assert [e["event"] for e in run_scenario(scenario)] == ["busy"]
    finally:
        jobs.stop()


def test_the_stream_over_http_follows_a_run_to_its_end(live_server):
    """Through real uvicorn: the session cookie picks the learner; the run's end is a status."""
    http = httpx.Client(base_url=live_server.url, timeout=30)
    run = start(http, epochs=3, checkpoint_every=1)
    seen: list[tuple[str, str]] = []
    with http.stream(
        "GET", "/components/checkpoint-simulator/events", timeout=httpx.Timeout(30, read=20)
    ) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        name = ""
        for line in r.iter_lines():
            if line.startswith("event:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                seen.append((name, line.split(":", 1)[1].strip()))
            if ("status", run["id"]) in seen and http.get(f"{API}/runs/{run['id']}").json()[
                "status"
            ] == "done":
                break
    assert seen[0] == ("runs", "")
    # A stranger's stream: its first event, and nothing of our run.
    stranger = httpx.Client(base_url=live_server.url, timeout=30)
    lines = []
    with stranger.stream(
        "GET", "/components/checkpoint-simulator/events", timeout=httpx.Timeout(30, read=3)
    ) as r:
        try:
            for line in r.iter_lines():
                lines.append(line)
        except httpx.ReadTimeout:
            pass
    assert "event: runs" in lines and run["id"] not in "\n".join(lines)
    wait_finished(http, run["id"])


@pytest.mark.browser
def test_a_run_started_elsewhere_shows_up_and_finishes_through_the_stream(page, live_server):
    page.goto("/en/06-model-io-checkpoint")
    page.wait_for_selector("#cs-live .cs-empty, #cs-live .cs-runs")
    response = page.request.post(
        f"{live_server.url}{API}/runs", data={"epochs": 3, "checkpoint_every": 1, "pace_ms": 0}
    )
    assert response.status == 201
    run_id = response.json()["id"]
    page.wait_for_selector(f"#cs-now[data-run-id='{run_id}'][data-status='done']", timeout=30000)
    page.wait_for_selector(f"#cs-pick-{run_id} .status-done", timeout=30000)


@pytest.mark.browser
@pytest.mark.slow
def test_an_open_page_catches_up_after_the_server_is_killed_and_restarted(browser, server_factory):
    """No reload: the browser's EventSource reconnects to the restarted server, whose first event
    reloads the view, and the page shows the run the kill interrupted."""
    server = server_factory()
    context = browser.new_context(base_url=server.url)
    try:
        page = context.new_page()
        page.goto("/en/06-model-io-checkpoint")
        page.wait_for_selector("#cs-live .cs-empty")
        response = page.request.post(
            f"{server.url}{API}/runs", data={"epochs": 200, "checkpoint_every": 2, "pace_ms": 30}
        )
        run_id = response.json()["id"]
        page.wait_for_selector(f"#cs-now[data-run-id='{run_id}'][data-status='running']", timeout=30000)
        server.kill()
        server.start()  # the same port and data
        page.wait_for_selector(f"#cs-now[data-run-id='{run_id}'][data-status='interrupted']", timeout=30000)
        assert page.locator("#cs-live .cs-now-warn").count() == 1
    finally:
        context.close()


@pytest.mark.browser
def test_the_page_follows_the_lineage_it_shows(page, live_server):
    """Pick an older lineage: its resume, started elsewhere, reaches the page's ledger."""
    page.goto("/en/06-model-io-checkpoint")
    page.wait_for_selector("#cs-live .cs-empty")
    post = lambda path, data: page.request.post(f"{live_server.url}{API}{path}", data=data)  # noqa: E731
    crashing = {"epochs": 6, "checkpoint_every": 2, "pace_ms": 0, "crash": "at_epoch", "crash_epoch": 5}
    first = post("/runs", crashing).json()["id"]
    page.wait_for_selector(f"#cs-now[data-run-id='{first}'][data-status='crashed']", timeout=30000)
    second = post("/runs", {"epochs": 2, "checkpoint_every": 1, "pace_ms": 0}).json()["id"]
    # Nothing picked: the page shows the latest lineage.
    page.wait_for_selector(f"#cs-now[data-run-id='{second}'][data-status='done']", timeout=30000)
    page.click(f"#cs-pick-{first}")
    page.wait_for_selector(f"#cs-now[data-run-id='{first}']")
    assert post(f"/runs/{first}/resume", {"file": "ckpt-epoch-0004.pt", "restore": "weights"}).status == 201
    page.wait_for_selector("#cs-row-weights:not([data-status='untried'])", timeout=30000)
    # A third lineage started elsewhere does not take the picked one off the screen.
    third = post("/runs", {"epochs": 2, "checkpoint_every": 1, "pace_ms": 0}).json()["id"]
    page.wait_for_selector(f"#cs-pick-{third}", timeout=30000)
    assert page.locator(f"#cs-now[data-run-id='{first}']").count() == 1


@pytest.mark.browser
def test_the_chart_view_chosen_is_the_one_every_fragment_asks_for(page, live_server):
    """Per step instead of per epoch (the learner's choice, kept in the browser)."""
    page.goto("/en/06-model-io-checkpoint")
    page.evaluate("() => localStorage.setItem('cs-view', 'steps')")
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/checkpoint-simulator/" in r.url else None)
    page.reload()
    page.wait_for_selector("#cs-live .cs-empty")
    run_id = page.request.post(
        f"{live_server.url}{API}/runs", data={"epochs": 3, "checkpoint_every": 1, "pace_ms": 0}
    ).json()["id"]
    page.wait_for_selector(f"#cs-now[data-run-id='{run_id}'][data-status='done']", timeout=30000)
    fetched = [u for u in asked if "/live" in u or f"/runs/{run_id}/" in u]
    assert fetched and all("view=steps" in u for u in fetched), fetched


def _look(*runs: tuple[str, str, bool], epoch: int = -1, files: tuple = ()) -> Look:
    return Look(runs=runs, verdicts=0, epoch=epoch, checkpoint=(files, 0), ledger=())


def test_a_start_is_its_own_small_event_and_an_end_stands_alone():
    queued = {"r": _look(("r", "queued", False))}
    running = {"r": _look(("r", "running", False), epoch=0)}
    # A start refreshes only what it changes; the first epoch that came with it is its own event.
    assert changes(queued, running) == [("started", "r"), ("epoch", "r")]
    # An end refreshes the whole lineage: its last epoch and files come with that one event.
    done = {"r": _look(("r", "done", True), epoch=9, files=("ckpt-9.pt",))}
    assert changes(running, done) == [("status", "r")]
    # A resume of a crashed run starting changes a status too, but not only a start: a new run.
    crashed = {"r": _look(("r", "crashed", False), epoch=4)}
    resumed = {"r": _look(("r", "crashed", False), ("s", "running", False), epoch=4)}
    assert changes(crashed, resumed) == [("status", "r")]
    # A new lineage: the list of runs first.
    assert changes({}, queued) == [("runs", ""), ("status", "r")]

"""The live view's event stream: the view itself ("view") only when the learner's own runs change,
places in line for waiting runs, and the page following it instead of polling."""

from __future__ import annotations

import asyncio
import json
import math
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sse_starlette import ServerSentEvent

from app.components.checkpoint_simulator.service import lineage_key
from app.components.checkpoint_simulator.stream import CHANGED_GAP, TICK, ViewEvent, Watch, follow
from app.components.checkpoint_simulator.views import live_body
from app.jobs.manager import JobManager
from app.settings import Settings
from tests.simulator_helpers import API, start, wait_finished

CONFIG = {
    "epochs": 200,
    "lr": 0.02,
    "optimizer": "adam",
    "scheduler": True,
    "checkpoint_every": 5,
    "keep_last": 3,
    "seed": 0,
    "batch_size": 64,
}


def _watch(jobs, session: str, lang: str, kind=Watch) -> Watch:
    """A page's watch, drawing the learner's real live view."""
    return kind(jobs, session, lang, draw=lambda: live_body(jobs, session, lang))


async def _in_thread(fn):
    return await asyncio.to_thread(fn)


def run_scenario(scenario):
    """asyncio.run in a thread of its own: the browser tests' Playwright keeps a loop running here."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, scenario()).result()


class Recorder:
    """Reads a stream in the background, as a page would, keeping every event it sends."""

    def __init__(self, events):
        self.events: list[dict] = []
        self.task = asyncio.create_task(self._read(events))

    async def _read(self, events):
        async for event in events:  # dicts, and views as sse_starlette events (encoded once)
            self.events.append(
                event if isinstance(event, dict) else {"event": event.event, "data": event.data}
            )

    async def after(self, seconds: float, until=lambda: True, timeout: float = 30) -> list[dict]:
        """The events that arrive in the next `seconds`, and then until `until()` holds (at most
        `timeout` seconds in all): a window that owes its assertions enough of a run's epochs
        however slowly the machine trains at the moment."""
        start, deadline = len(self.events), time.monotonic() + timeout
        await asyncio.sleep(seconds)
        while not until() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return self.events[start:]

    def stop(self) -> None:
        self.task.cancel()


@pytest.fixture
def jobs(tmp_path):
    # One worker, held by a slow first run: everything after it waits in the queue (paced runs
    # too: no paced places).
    manager = JobManager(Settings(data_dir=tmp_path / "data", max_workers=1, paced_workers=0))
    manager.start()
    yield manager
    manager.stop()


def test_a_view_is_encoded_as_sse_starlette_encodes_any_event():
    """The view's event is encoded in the thread that draws it, by a shortcut: the same bytes."""
    html = (
        '<div id="cs-live">\n  <pre class="torch-error">line one\r\nline two\rthree</pre>\n  训练中\n</div>\n'
    )
    assert ViewEvent(html).encode() == ServerSentEvent(data=html, event="view").encode()
    assert ViewEvent("").encode() == ServerSentEvent(data="", event="view").encode()
    plain = html.replace("\r", "")  # the common case, without a "\r": the other way of splitting
    assert ViewEvent(plain).encode() == ServerSentEvent(data=plain, event="view").encode()
    assert ViewEvent("\n\n").encode() == ServerSentEvent(data="\n\n", event="view").encode()


def test_a_stream_speaks_of_its_own_learner_only(jobs):
    busy = jobs.submit_train("busy", CONFIG, {"pace_ms": 300})
    # The slow run holds the one worker before the learner's run joins the line: until it starts,
    # it is in the line too, and the learner's place would read 2 for an instant.
    while not jobs.is_running(busy.id):
        time.sleep(0.02)
    mine = jobs.submit_train("learner-a", CONFIG, {"pace_ms": 0})

    async def scenario():
        a = Recorder(follow(_watch(jobs, "learner-a", "en"), _in_thread))
        b = Recorder(follow(_watch(jobs, "learner-b", "zh"), _in_thread))
        first_a, first_b = await a.after(1.0), b.events[:]
        # Another learner's run changes: a hears nothing new, b gets its new view.
        jobs.submit_train("learner-b", CONFIG, {"pace_ms": 0})
        later_a, later_b = await a.after(1.5), b.events[len(first_b) :]
        a.stop(), b.stop()
        return first_a, first_b, later_a, later_b

    first_a, first_b, later_a, later_b = run_scenario(scenario)
    # The first event loads the view; a waiting run gets its place in line, in the page's language.
    assert first_a[0]["event"] == "view"
    # The view itself, each learner's own: a's shows its run; b's, in b's language, does not.
    assert f'data-run-id="{mine.id}"' in first_a[0]["data"]
    assert mine.id not in first_b[0]["data"] and "lang=zh" in first_b[0]["data"]
    queue = [json.loads(e["data"]) for e in first_a if e["event"] == "queue"]
    assert queue == [{mine.id: "number 1 in the queue"}]
    assert [e["event"] for e in first_b] == ["view"]
    assert not [e for e in later_a if e["event"] == "view"]
    assert [e["event"] for e in later_b].count("view") == 1
    places = [json.loads(e["data"]) for e in later_b if e["event"] == "queue"]
    assert places and list(places[-1].values()) == ["排队第 2 位"]


def test_the_place_in_line_is_looked_at_less_often_further_back(jobs):
    busy = jobs.submit_train("busy", CONFIG, {"pace_ms": 300})
    while not jobs.is_running(busy.id):
        time.sleep(0.02)
    near, far = _watch(jobs, "near", "en"), _watch(jobs, "far", "en")
    jobs.submit_train("near", CONFIG, {"pace_ms": 0})
    for i in range(28):
        jobs.submit_train(f"filler-{i}", CONFIG, {"pace_ms": 0})
    jobs.submit_train("far", CONFIG, {"pace_ms": 0})
    for w in (near, far):
        w.signature()  # reads the learner's runs, as the stream's first look does
    assert near.queue() and far.queue()
    assert (near.front, far.front) == (1, 30)
    assert near.queue_gap() == 1.0 and far.queue_gap() == 3.0
    jobs.crash(busy.id)


def _epoch(jobs, run_id: str) -> int:
    now = jobs.progress(run_id)
    return now.epoch if now else 0


def owed_changes(epochs: int, seconds: float) -> int:
    """Views a page is owed while a run trains `epochs` epochs in `seconds`: one per
    epoch, at most one per CHANGED_GAP, the doorbell's next look up to a TICK after the gap (~2.2
    a second), less one for where the window falls and a late look on a busy machine. A slow
    machine trains fewer epochs and is owed fewer changes: the test is about the stream, not
    about the machine. A stream that passed progress on once a second would still fail it."""
    return max(1, min(epochs, math.floor(seconds / (CHANGED_GAP + TICK))) - 1)


def test_progress_reaches_the_page_at_the_streams_pace(jobs):
    run = jobs.submit_train("learner", CONFIG, {"pace_ms": 20})

    async def scenario():
        stream = Recorder(follow(_watch(jobs, "learner", "en"), _in_thread))
        while not jobs.is_running(run.id):
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        t0, e0 = time.monotonic(), _epoch(jobs, run.id)
        events = await stream.after(3.0)
        stream.stop()
        return [e for e in events if e["event"] == "view"], time.monotonic() - t0, _epoch(jobs, run.id) - e0

    changed, seconds, epochs = run_scenario(scenario)
    jobs.crash(run.id)
    assert epochs >= 1
    assert len(changed) >= owed_changes(epochs, seconds), (len(changed), epochs, seconds)


class CountingWatch(Watch):
    signatures = nows = 0

    def signature(self):
        self.signatures += 1
        return super().signature()

    def _now(self):
        self.nows += 1
        return super()._now()


def test_a_quiet_page_costs_no_look_at_its_runs(jobs):
    """One doorbell looks at every page's counters; a page whose runs do not change is not woken,
    while the page whose run trains is, several times a second."""
    done = jobs.submit_train("quiet", {**CONFIG, "epochs": 2}, {"pace_ms": 0})
    wait_finished_local(jobs, done.id)
    busy = jobs.submit_train("busy", CONFIG, {"pace_ms": 20})

    async def scenario():
        quiet, trains = _watch(jobs, "quiet", "en", CountingWatch), _watch(jobs, "busy", "en", CountingWatch)
        a, b = Recorder(follow(quiet, _in_thread)), Recorder(follow(trains, _in_thread))
        while not jobs.is_running(busy.id):
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        before, t0, e0 = (quiet.signatures, trains.signatures), time.monotonic(), _epoch(jobs, busy.id)
        await asyncio.sleep(2.0)
        a.stop(), b.stop()
        return (
            quiet.signatures - before[0],
            trains.signatures - before[1],
            _epoch(jobs, busy.id) - e0,
            time.monotonic() - t0,
        )

    quiet_looks, busy_looks, epochs, seconds = run_scenario(scenario)
    jobs.crash(busy.id)
    assert quiet_looks == 0
    # Owed as the stream's pace test owes views: a busy VM hands epochs over in bursts, and a
    # fixed 4 in 2 s (the pace's exact ceiling) failed once on such a machine with 3.
    assert epochs >= 1
    assert busy_looks >= owed_changes(epochs, seconds), (busy_looks, epochs, seconds)


class ReadingWatch(Watch):
    rereads = 0

    def _reread(self):
        self.rereads += 1
        super()._reread()


def test_a_training_runs_epochs_change_the_page_without_reading_its_runs_again(jobs):
    """Each epoch changes the view (the stream says so), but no run's row: the learner's runs are
    read again from SQLite, off the event loop, only when one starts, ends or is added."""
    run = jobs.submit_train("reader", {**CONFIG, "epochs": 30}, {"pace_ms": 60})
    hops = []

    async def counting_thread(fn):
        if fn != watch.event:  # drawing each new view is the one hop an epoch is owed
            hops.append(fn)
        return await asyncio.to_thread(fn)

    watch = _watch(jobs, "reader", "en", ReadingWatch)

    async def scenario():
        stream = Recorder(follow(watch, counting_thread))
        while not jobs.is_running(run.id):
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.5)  # the run's start (a row's change) is read by now
        # Then fifteen epochs, inside the 30, whatever the machine's speed (a busy one hands
        # the epochs over in bursts: fewer, later changes).
        rereads, hopped, seen, e0 = watch.rereads, len(hops), len(stream.events), _epoch(jobs, run.id)
        while _epoch(jobs, run.id) < min(e0 + 15, 28) and jobs.is_running(run.id):
            await asyncio.sleep(0.02)
        training = watch.rereads - rereads, len(hops) - hopped, _epoch(jobs, run.id) - e0
        changed = [e for e in stream.events[seen:] if e["event"] == "view"]
        while jobs.is_running(run.id):
            await asyncio.sleep(0.05)
        await stream.after(1.0)
        stream.stop()
        return changed, training, watch.rereads - rereads

    changed, (rereads_while_training, hops_while_training, epochs), rereads_to_the_end = run_scenario(
        scenario
    )
    assert epochs >= 2 and len(changed) >= 2  # the epochs reached the page, more than once
    assert rereads_while_training == 0 and hops_while_training == 0
    assert rereads_to_the_end >= 1  # its end (a row's change) is read


def test_the_shared_reference_wakes_only_the_pages_that_show_it(tmp_path):
    """A class with the same settings shares one reference run. A page shows it once its lineage
    has a resume; before that, the reference's epochs are no change to it (sixty pages used to
    refetch their views on each of them)."""
    # A reference long enough to watch it twice.
    jobs = JobManager(Settings(data_dir=tmp_path / "data", max_workers=1, paced_workers=0, max_epochs=600))
    jobs.start()
    try:
        _reference_wakes_only_pages_that_show_it(jobs)
    finally:
        jobs.stop()


def _reference_wakes_only_pages_that_show_it(jobs):
    config = {**CONFIG, "epochs": 600}
    crashed = jobs.submit_train("learner", config, {"pace_ms": 0, "crash_at_epoch": 6})
    wait_finished_local(jobs, crashed.id)
    ref = jobs.ensure_reference(config)  # a crash on an idle pool has already started it

    async def changes_while_the_reference_trains(seconds: float) -> tuple[int, int]:
        page = Recorder(follow(_watch(jobs, "learner", "en"), _in_thread))
        while not jobs.is_running(ref.id):
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # the page's first view is behind it
        epoch, key = jobs.progress(ref.id).epoch, lineage_key(jobs, root)
        # Five of the reference's epochs at least: one CI run trained only three in 1.5 s.
        events = await page.after(seconds, until=lambda: _epoch(jobs, ref.id) - epoch >= 5)
        page.stop()
        assert jobs.is_running(ref.id), "the reference ended too soon to tell"
        keys.append((key, lineage_key(jobs, root)))
        return [e["event"] for e in events].count("view"), jobs.progress(ref.id).epoch - epoch

    root, keys = jobs.store.get(crashed.id), []
    changed, epochs = run_scenario(lambda: changes_while_the_reference_trains(1.5))
    assert epochs >= 5 and changed == 0
    # Nor does it change the key the live view is cached under: a refetch finds the same view.
    assert keys[0][0] == keys[0][1]
    # The learner resumes: the lineage now shows the reference, and its progress reaches the page.
    checkpoint = jobs.run_dir(crashed.id) / "checkpoints" / "ckpt-epoch-0005.pt"
    jobs.submit_resume("learner", jobs.store.get(crashed.id), checkpoint, 5, "everything")
    changed, epochs = run_scenario(lambda: changes_while_the_reference_trains(1.5))
    jobs.crash(ref.id)
    assert epochs >= 5 and changed >= 2 and keys[1][0] != keys[1][1]


def wait_finished_local(jobs, run_id: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while jobs.store.get(run_id).status in ("queued", "running"):
        assert time.monotonic() < deadline, "run did not finish"
        time.sleep(0.05)


def test_the_stream_over_http_follows_a_run_to_its_end(live_server):
    """Through real uvicorn: the session cookie picks the learner; the run's end is announced."""
    http = httpx.Client(base_url=live_server.url, timeout=30)
    run = start(http, epochs=3, checkpoint_every=1)
    seen: list[str] = []
    with http.stream(
        "GET", "/components/checkpoint-simulator/events?lang=en", timeout=httpx.Timeout(30, read=20)
    ) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("event:"):
                seen.append(line.split(":", 1)[1].strip())
            if http.get(f"{API}/runs/{run['id']}").json()["status"] == "done" and len(seen) >= 2:
                break
    assert seen[0] == "view" and seen.count("view") >= 2
    # A stranger's stream: one view (its empty one) and then nothing about our run.
    stranger = httpx.Client(base_url=live_server.url, timeout=30)
    with stranger.stream(
        "GET", "/components/checkpoint-simulator/events?lang=en", timeout=httpx.Timeout(30, read=3)
    ) as r:
        lines = []
        try:
            for line in r.iter_lines():
                lines.append(line)
        except httpx.ReadTimeout:
            pass
    assert [ln for ln in lines if ln.startswith("event:")] == ["event: view"]
    assert run["id"] not in "\n".join(lines)
    wait_finished(http, run["id"])


@pytest.mark.browser
def test_the_page_follows_the_stream_instead_of_polling(page, live_server):
    """No run changes, no request: an open lesson costs the server nothing while idle."""
    page.goto("/en/06-model-io-checkpoint")
    page.wait_for_selector("#cs-live .cs-empty, #cs-live .cs-runs")
    live_requests: list[str] = []
    page.on(
        "request", lambda r: live_requests.append(r.url) if "/checkpoint-simulator/live" in r.url else None
    )
    page.wait_for_timeout(3000)
    assert live_requests == []
    # A run started elsewhere in the same session (the API) shows up through the stream.
    response = page.request.post(
        f"{live_server.url}{API}/runs", data={"epochs": 3, "checkpoint_every": 1, "pace_ms": 0}
    )
    assert response.status == 201
    run_id = response.json()["id"]
    page.wait_for_selector(f"#cs-live [data-run-id='{run_id}'][data-status='done']", timeout=30000)
    # Every view came with the stream: the page fetched none of them.
    assert live_requests == []


@pytest.mark.browser
def test_a_change_announced_right_after_a_swap_is_not_lost(page, live_server):
    """#cs-live is replaced whole (outerHTML) by every view, and the replacement listens for
    "changed" (the page's own fetch, when a pushed view came while an answer was under way)
    only once htmx has processed it. A "changed" in between (the run's last one: its
    crash or end, arriving just as the previous refresh lands) must still refetch the view: else
    the page shows a finished run as training, and nothing ever comes to correct it."""
    page.goto("/en/06-model-io-checkpoint")
    page.wait_for_selector("#cs-live .cs-empty, #cs-live .cs-runs")
    live_requests: list[str] = []
    page.on(
        "request", lambda r: live_requests.append(r.url) if "/checkpoint-simulator/live" in r.url else None
    )
    # Announce a change in the first task after the one that swapped the view in: the earliest
    # moment an event from the stream (or the page's own "refresh again") can come.
    page.evaluate("""() => {
        document.body.addEventListener("htmx:afterSwap", function once(e) {
            if (e.detail.target.id !== "cs-live" && !(e.detail.elt && e.detail.elt.id === "cs-live")) return;
            document.body.removeEventListener("htmx:afterSwap", once);
            setTimeout(() => window.htmx.trigger(document.querySelector("[data-events]"), "sse:changed"), 0);
        });
        window.htmx.trigger(document.querySelector("[data-events]"), "sse:changed");
    }""")
    page.wait_for_timeout(1500)
    assert len(live_requests) == 2, live_requests


@pytest.mark.browser
@pytest.mark.slow
def test_an_open_page_catches_up_after_the_server_is_killed_and_restarted(browser, server_factory):
    """No reload: the browser's EventSource reconnects to the restarted server, whose first event
    is the view, and the page shows the run the kill interrupted."""
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
        page.wait_for_selector(f"#cs-live [data-run-id='{run_id}'][data-status='running']", timeout=30000)
        server.kill()
        server.start()  # the same port and data
        page.wait_for_selector(f"#cs-live [data-run-id='{run_id}'][data-status='interrupted']", timeout=30000)
        assert page.locator("#cs-live .notice-warn").count() == 1
    finally:
        context.close()


@pytest.mark.browser
def test_the_stream_follows_the_lineage_the_page_shows(page, live_server):
    """Views come with the stream, for the lineage on screen: pick an older lineage, and the
    stream is reopened for it; its resume then reaches the page pushed, with no fetch. A view
    drawn before the one on screen is not placed; a later one is."""
    page.goto("/en/06-model-io-checkpoint")
    page.wait_for_selector("#cs-live .cs-empty")
    streams: list[str] = []
    page.on("request", lambda r: streams.append(r.url) if "/checkpoint-simulator/events" in r.url else None)
    post = lambda path, data: page.request.post(f"{live_server.url}{API}{path}", data=data)  # noqa: E731
    crashing = {"epochs": 6, "checkpoint_every": 2, "pace_ms": 0, "crash": "at_epoch", "crash_epoch": 5}
    first = post("/runs", crashing).json()["id"]
    page.wait_for_selector(f"#cs-live[data-root='{first}'] #cs-now[data-status='crashed']", timeout=30000)
    second = post("/runs", {"epochs": 2, "checkpoint_every": 1, "pace_ms": 0}).json()["id"]
    # The stream opened bare follows the latest lineage: the new run shows without a reopen.
    page.wait_for_selector(f"#cs-live[data-root='{second}'] #cs-now[data-status='done']", timeout=30000)
    assert streams == []
    page.click(f"#cs-pick-{first}")
    page.wait_for_selector(f"#cs-live[data-root='{first}']")
    deadline = time.monotonic() + 5
    while not any(f"run={first}" in u for u in streams):
        assert time.monotonic() < deadline, streams
        page.wait_for_timeout(50)
    live_requests: list[str] = []
    page.on(
        "request", lambda r: live_requests.append(r.url) if "/checkpoint-simulator/live" in r.url else None
    )
    assert post(f"/runs/{first}/resume", {"file": "ckpt-epoch-0004.pt", "restore": "weights"}).status == 201
    page.wait_for_selector(
        f"#cs-live[data-root='{first}'] #cs-row-weights:not([data-status='untried'])", timeout=30000
    )
    assert live_requests == []
    placed = """v => {
        const live = document.getElementById('cs-live');
        const html = live.outerHTML.replace(/data-version="\\d+"/, 'data-version="' + (Number(live.dataset.version) + v) + '"')
                                   .replace('class="cs-live"', 'class="cs-live pushed-test"');
        live.closest('[data-events]').dispatchEvent(new CustomEvent('sse:view', {bubbles: true, detail: {html: html, fresh: false}}));
        return document.querySelectorAll('#cs-live.pushed-test').length;
    }"""
    assert page.evaluate(placed, -1) == 0
    assert page.evaluate(placed, 1) == 1


@pytest.mark.browser
def test_the_chart_view_chosen_is_the_one_the_stream_pushes(page, live_server):
    """Per step instead of per epoch (the learner's choice, kept in the browser): the stream is
    opened for it, so pushed views keep that chart, and so do the page's own requests."""
    page.goto("/en/06-model-io-checkpoint")
    page.evaluate("() => localStorage.setItem('cs-view', 'steps')")
    streams: list[str] = []
    page.on("request", lambda r: streams.append(r.url) if "/checkpoint-simulator/events" in r.url else None)
    page.reload()
    page.wait_for_selector("#cs-live[data-view='steps'] .cs-empty")
    assert any("view=steps" in u for u in streams), streams
    post = lambda: page.request.post(
        f"{live_server.url}{API}/runs",
        data={"epochs": 2, "checkpoint_every": 1, "pace_ms": 0},
    ).json()["id"]
    first = post()
    page.wait_for_selector(
        f"#cs-live[data-root='{first}'][data-view='steps'] #cs-now[data-status='done']", timeout=30000
    )
    second = post()
    page.wait_for_selector(
        f"#cs-live[data-root='{second}'][data-view='steps'] #cs-now[data-status='done']", timeout=30000
    )
    page.click(f"#cs-pick-{first}")  # the page's own request
    page.wait_for_selector(f"#cs-live[data-root='{first}'][data-view='steps']")


def test_a_page_whose_runs_wait_in_line_is_not_looked_at_for_live_numbers(jobs):
    """In a class most pages wait in line: the doorbell does not read their live numbers six
    times a second, and still sees at once when their run starts."""
    busy = jobs.submit_train("busy", CONFIG, {"pace_ms": 300})
    while not jobs.is_running(busy.id):
        time.sleep(0.02)
    waiting = jobs.submit_train("waiting", CONFIG, {"pace_ms": 300})
    watch = _watch(jobs, "waiting", "en", CountingWatch)
    watch.signature()
    looked = watch.nows
    assert not any(watch.stale() for _ in range(50))
    assert watch.nows == looked
    jobs.crash(busy.id)
    deadline = time.monotonic() + 30
    while not jobs.is_running(waiting.id):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert watch.stale()  # the start is a write: seen without the live numbers
    watch.signature()
    nows = watch.nows
    watch.moved = lambda: False  # an epoch written meanwhile would answer before the numbers do
    watch.stale()
    assert watch.nows == nows + 1  # while it trains, its live numbers are looked at again
    jobs.crash(waiting.id)

"""The ShardedCheckpointLab over HTTP: each experiment a job of the learner's session, queued like a
run and run on real ranks by the job backend's executor; as JSON and as the page's fragments, in zh
and en, on a laptop and a phone."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, expect

from tests.axe import describe, serious_violations
from tests.simulator_helpers import API as SIM
from tests.simulator_helpers import start as start_run
from tests.simulator_helpers import wait_finished as wait_run

API = "/api/sharded-checkpoint-lab"
PAGE = "/components/sharded-checkpoint-lab"
HX = {"HX-Request": "true"}
ACTIVE = ("queued", "running")


@pytest.fixture(scope="module")
def scl(tmp_path_factory: pytest.TempPathFactory, pretrained_dir: Path) -> Iterator[TestClient]:
    from app.main import create_app
    from app.settings import Settings
    from tests.conftest import REPO

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("scl") / "data",
        tutorials_dir=REPO / "tutorials",
        secret_key="t",
        # The shared pretrained sources: no pretraining job of this app's takes the one place.
        pretrained_dir=pretrained_dir,
        transfer_prewarm=False,
        # One full-speed place and no paced ones: a run at any pace makes an experiment wait.
        max_workers=1,
        paced_workers=0,
    )
    with TestClient(create_app(settings)) as client:
        client.get("/api/session")
        yield client


def _wait(client: TestClient, experiment_id: str, done: bool = True, timeout: float = 240) -> dict:
    """The experiment once it has ended (or, with done=False, once it runs or has ended)."""
    deadline = time.monotonic() + timeout
    wanted = ACTIVE[:1] if not done else ACTIVE
    while True:
        out = client.get(f"{API}/experiments/{experiment_id}").json()
        if out["status"] not in wanted:
            return out
        assert time.monotonic() < deadline, f"experiment still {out['status']}"
        time.sleep(0.1)


def run(client: TestClient, **body: object) -> dict:
    r = client.post(f"{API}/experiments", json=body)
    assert r.status_code == 201, r.text
    out = _wait(client, r.json()["id"])
    assert out["status"] == "done", out
    return out["result"]


def _exact(loaded: dict, world: int) -> None:
    assert len(loaded["ranks"]) == world
    assert all(r["ok"] for r in loaded["ranks"]), loaded["ranks"]
    assert all(t["max_abs_diff"] == 0.0 for r in loaded["ranks"] for t in r["tensors"])


def test_two_sharded_ranks_save_and_four_ranks_load_every_slice_exactly(scl: TestClient) -> None:
    out = run(scl, case="reshard", world=2, sharding="sharded", load_world=4)
    files = [f["name"] for f in out["save"]["files"]]
    assert files == [".metadata", "__0_0.distcp", "__1_0.distcp"]
    assert out["save"]["complete"]
    assert {s["file"] for s in out["save"]["slices"]} == {"__0_0.distcp", "__1_0.distcp"}
    _exact(out["load"], 4)


def test_replicated_ranks_load_into_one_plain_model(scl: TestClient) -> None:
    out = run(scl, case="reshard", world=4, sharding="replicated", load_world=1)
    assert len(out["save"]["slices"]) == 4  # each tensor written once, whatever the world
    _exact(out["load"], 1)
    assert out["load"]["ranks"][0]["via"].endswith(".pt")


def test_one_rank_saves_one_data_file_and_the_metadata(scl: TestClient) -> None:
    out = run(scl, case="save", world=1, sharding="sharded")
    assert [f["name"] for f in out["save"]["files"]] == [".metadata", "__0_0.distcp"]
    assert [r["exit"] for r in out["save"]["ranks"]] == [0]


def test_a_killed_rank_leaves_no_metadata_and_the_page_says_so(scl: TestClient) -> None:
    out = run(scl, case="killed", world=2)
    assert out["before"]["complete"] and not out["during"]["complete"]
    assert [r["exit"] for r in out["during"]["ranks"]][-1] == -9
    assert ".metadata" in out["load_error"]
    _exact(out["previous"], 1)
    for lang, words in (("en", "No .metadata"), ("zh", "没有 .metadata")):
        page = _page_until_done(scl, "killed", lang)
        assert words in page and "SIGKILL" in page


def test_ddp_rules_show_one_mask_when_rank_zero_state_is_restored_everywhere(scl: TestClient) -> None:
    out = run(scl, case="ddp", world=2)["ddp"]
    assert [f["name"] for f in out["rank0_only"]] == ["model.pt"]
    assert len(out["every_rank"]) == 2
    r0, r1 = out["ranks"]
    assert r0["mask_rank0_state"] == r1["mask_rank0_state"]
    assert r0["mask_live"] != r1["mask_live"]


def _page_until_done(client: TestClient, case: str, lang: str, **form: object) -> str:
    """Click a button of the page, then follow the fragment's own polling until it stops asking."""
    r = client.post(f"{PAGE}/experiments", params={"lang": lang}, data={"case": case, **form}, headers=HX)
    assert r.status_code == 200, r.text
    return _follow(client, r.text)


def _follow(client: TestClient, page: str) -> str:
    """A fragment's own polling (`hx-get` on `load delay:`), followed until it stops asking."""
    deadline = time.monotonic() + 240
    while 'hx-trigger="load delay:' in page:
        assert time.monotonic() < deadline, page
        poll = page.split('hx-get="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
        page = client.get(poll, headers=HX).text
    return page


def test_an_experiment_waits_behind_a_busy_place_then_runs(scl: TestClient) -> None:
    busy = start_run(scl, epochs=200, pace_ms=300, checkpoint_every=50)  # holds the only place
    deadline = time.monotonic() + 120
    while scl.get(f"{SIM}/runs/{busy['id']}").json()["status"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    r = scl.post(
        f"{PAGE}/experiments",
        params={"lang": "en"},
        data={"case": "reshard", "world": 4, "sharding": "sharded", "load_world": 2},
        headers=HX,
    )
    assert 'data-status="queued"' in r.text and "Waiting in line: place 1" in r.text
    assert 'hx-trigger="load delay:' in r.text  # the fragment asks again by itself
    experiment_id = r.text.split("/experiments/", 1)[1].split("?", 1)[0]
    out = scl.get(f"{API}/experiments/{experiment_id}").json()
    assert out["status"] == "queued" and out["queue_position"] == 1 and out["result"] is None
    zh = scl.get(f"{PAGE}/experiments/{experiment_id}", params={"lang": "zh"}, headers=HX).text
    assert "排第 1 位" in zh
    assert scl.post(f"{SIM}/runs/{busy['id']}/crash").status_code == 200  # the place frees up
    wait_run(scl, busy["id"])
    page = _follow(scl, r.text)  # the waiting fragment, polling by itself, ends with the result
    assert 'data-status="done"' in page and "All equal: max |Δ| = 0.0" in page
    out = _wait(scl, experiment_id)
    assert out["status"] == "done" and out["queue_position"] is None
    assert [r["exit"] for r in out["result"]["save"]["ranks"]] == [0, 0, 0, 0]
    _exact(out["result"]["load"], 2)


def test_an_experiment_of_another_learner_is_not_found(scl: TestClient) -> None:
    mine = scl.post(f"{API}/experiments", json={"case": "save", "world": 1}).json()["id"]
    other = TestClient(scl.app)  # another browser; not `with`: that would run the app's shutdown
    other.get("/api/session")
    assert other.get(f"{API}/experiments/{mine}").status_code == 404
    assert _wait(scl, mine)["status"] == "done"


@pytest.mark.parametrize(
    "body",
    [
        {"case": "save", "world": 3},
        {"case": "save", "world": 2, "sharding": "zigzag"},
        {"case": "killed", "world": 1},
        {"case": "explode", "world": 2},
    ],
)
def test_worlds_and_shardings_outside_the_lab_are_refused(scl: TestClient, body: dict) -> None:
    assert scl.post(f"{API}/experiments", json=body).status_code == 422


@pytest.mark.browser
@pytest.mark.parametrize(
    ("lang", "size", "scheme"),
    [
        ("en", (1366, 850), "light"),
        ("zh", (390, 844), "dark"),
        ("zh", (1366, 850), "light"),
        ("en", (390, 844), "dark"),
    ],
)
def test_the_lab_in_chapter_seven(
    browser: Browser, live_server, tmp_path: Path, lang: str, size: tuple[int, int], scheme: str
) -> None:
    context = browser.new_context(
        viewport={"width": size[0], "height": size[1]}, color_scheme=scheme, base_url=live_server.url
    )
    page = context.new_page()
    page.goto(f"/{lang}/07-checkpoints-in-practice#scl-title")
    page.click("#scl-form input[name=world][value='2']")
    page.click("#scl-reshard")
    result = page.locator("#scl-result .scl-verdict.ok")
    expect(result).to_be_visible(timeout=240_000)
    assert page.evaluate("document.documentElement.scrollWidth") <= size[0]
    page.screenshot(path=str(tmp_path / f"scl-{lang}-{size[0]}-{scheme}.png"), full_page=False)
    violations = serious_violations(page)
    assert not violations, describe(violations)
    context.close()


@pytest.mark.browser
@pytest.mark.parametrize(
    ("lang", "size", "scheme"), [("en", (1366, 850), "dark"), ("zh", (390, 844), "light")]
)
def test_the_page_shows_the_place_in_line_then_the_result(
    browser: Browser, live_server, tmp_path: Path, lang: str, size: tuple[int, int], scheme: str
) -> None:
    context = browser.new_context(
        viewport={"width": size[0], "height": size[1]}, color_scheme=scheme, base_url=live_server.url
    )
    page = context.new_page()
    page.goto(f"/{lang}/07-checkpoints-in-practice#scl-title")
    # Two of this learner's runs hold the server's full-speed places (50 ms a step: not paced).
    body = {"epochs": 200, "checkpoint_every": 50, "pace_ms": 50}
    runs = [page.request.post(f"{SIM}/runs", data=body).json()["id"] for _ in range(2)]
    for run_id in runs:
        expect_status(page, run_id, "running")
    page.click("#scl-form input[name=world][value='4']")
    page.click("#scl-save")
    waiting = page.locator("#scl-result .scl-waiting")
    expect(waiting).to_be_visible(timeout=60_000)
    expect(waiting).to_contain_text("place 1" if lang == "en" else "排第 1 位", timeout=60_000)
    waiting.scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / f"scl-waiting-{lang}-{size[0]}-{scheme}.png"), full_page=False)
    violations = serious_violations(page)
    assert not violations, describe(violations)
    for run_id in runs:  # the places free up: the fragment, asking again by itself, shows the result
        assert page.request.post(f"{SIM}/runs/{run_id}/crash").ok
    done = page.locator("#scl-result [data-status='done'] table")
    expect(done).to_be_visible(timeout=240_000)
    done.scroll_into_view_if_needed()
    assert page.evaluate("document.documentElement.scrollWidth") <= size[0]
    page.screenshot(path=str(tmp_path / f"scl-done-{lang}-{size[0]}-{scheme}.png"), full_page=False)
    context.close()


def expect_status(page: Page, run_id: str, status: str) -> None:
    deadline = time.monotonic() + 120
    while page.request.get(f"{SIM}/runs/{run_id}").json()["status"] != status:
        assert time.monotonic() < deadline, f"run {run_id} never {status}"
        time.sleep(0.1)

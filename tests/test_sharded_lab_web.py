"""The ShardedCheckpointLab over HTTP: real ranks in the labs' sandbox, as JSON and as the page's
fragments, in zh and en, on a laptop and a phone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect

from tests.axe import describe, serious_violations

API = "/api/sharded-checkpoint-lab"
PAGE = "/components/sharded-checkpoint-lab"
HX = {"HX-Request": "true"}


@pytest.fixture(scope="module")
def scl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from app.main import create_app
    from app.settings import Settings
    from tests.conftest import REPO

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("scl") / "data",
        tutorials_dir=REPO / "tutorials",
        secret_key="t",
        pretrained_dir=tmp_path_factory.mktemp("nopre"),
        # Ranks start slowly on a busy machine: the test waits for them, however long they take.
        inspect_timeout_s=300,
    )
    with TestClient(create_app(settings)) as client:
        client.get("/api/session")
        yield client


def _exact(loaded: dict, world: int) -> None:
    assert len(loaded["ranks"]) == world
    assert all(r["ok"] for r in loaded["ranks"]), loaded["ranks"]
    assert all(t["max_abs_diff"] == 0.0 for r in loaded["ranks"] for t in r["tensors"])


def test_two_sharded_ranks_save_and_four_ranks_load_every_slice_exactly(scl: TestClient) -> None:
    out = scl.get(f"{API}/reshard", params={"world": 2, "sharding": "sharded", "load_world": 4}).json()
    files = [f["name"] for f in out["save"]["files"]]
    assert files == [".metadata", "__0_0.distcp", "__1_0.distcp"]
    assert out["save"]["complete"]
    assert {s["file"] for s in out["save"]["slices"]} == {"__0_0.distcp", "__1_0.distcp"}
    _exact(out["load"], 4)


def test_replicated_ranks_load_into_one_plain_model(scl: TestClient) -> None:
    out = scl.get(f"{API}/reshard", params={"world": 4, "sharding": "replicated", "load_world": 1}).json()
    assert len(out["save"]["slices"]) == 4  # each tensor written once, whatever the world
    _exact(out["load"], 1)
    assert out["load"]["ranks"][0]["via"].endswith(".pt")


def test_a_killed_rank_leaves_no_metadata_and_the_page_says_so(scl: TestClient) -> None:
    out = scl.get(f"{API}/killed", params={"world": 2}).json()
    assert out["before"]["complete"] and not out["during"]["complete"]
    assert [r["exit"] for r in out["during"]["ranks"]][-1] == -9
    assert ".metadata" in out["load_error"]
    _exact(out["previous"], 1)
    for lang, words in (("en", "No .metadata"), ("zh", "没有 .metadata")):
        page = scl.get(f"{PAGE}/killed", params={"world": 2, "lang": lang}, headers=HX).text
        assert words in page and "SIGKILL" in page


def test_ddp_rules_show_one_mask_when_rank_zero_state_is_restored_everywhere(scl: TestClient) -> None:
    out = scl.get(f"{API}/ddp", params={"world": 2}).json()
    assert [f["name"] for f in out["rank0_only"]] == ["model.pt"]
    assert len(out["every_rank"]) == 2
    r0, r1 = out["ranks"]
    assert r0["mask_rank0_state"] == r1["mask_rank0_state"]
    assert r0["mask_live"] != r1["mask_live"]


@pytest.mark.parametrize("query", [{"world": 3}, {"world": 2, "sharding": "zigzag"}, {"world": 1}])
def test_worlds_and_shardings_outside_the_lab_are_refused(scl: TestClient, query: dict) -> None:
    route = "killed" if query == {"world": 1} else "save"  # a world of one has no rank to lose
    assert scl.get(f"{API}/{route}", params=query).status_code == 422


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

"""Teacher mode over HTTP: the key and its cookie, the class board from real runs of three
learners, export, reset/archive/restore, scenario links, and a learner's optional name."""

from __future__ import annotations

import codecs
import csv
import io
import time

import pytest
from fastapi.testclient import TestClient

from tests.simulator_helpers import API, start, wait_event, wait_finished

KEY = "teacher-test-key-0123456789"


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"teacher_key": KEY, "teacher_wrong_keys_per_minute": 5})


def teacher(client) -> TestClient:
    """Another browser on the same app, signed in as the teacher through /teach?key=…."""
    t = TestClient(client.app)
    r = t.get(f"/teach?key={KEY}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/teach"
    assert "lab_teacher" in r.cookies
    return t


def board_when(t: TestClient, predicate, timeout: float = 5.0) -> dict:
    """The board once predicate holds: it is rebuilt at most every MIN_GAP (0.5 s) while busy."""
    deadline = time.monotonic() + timeout
    while True:
        board = t.get("/api/teach/class?lang=en").json()
        if predicate(board) or time.monotonic() > deadline:
            return board
        time.sleep(0.1)


def csv_text(response) -> str:
    """A CSV download as text: UTF-8 that starts with a byte-order mark (Excel on Windows needs it)."""
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(codecs.BOM_UTF8), response.content[:20]
    return response.content.decode("utf-8-sig")


def learner(client) -> TestClient:
    c = TestClient(client.app)
    assert c.get("/api/session").json() == {"established": True}
    return c


TEACHER_PAGES = [
    "/teach",
    "/teach/board",
    "/teach/present",
    "/teach/present/content",
    "/teach/export.csv",
    "/teach/export.json",
    "/teach/reset",
    "/teach/archives",
    "/teach/scenario",
    "/teach/events",
]
TEACHER_API = [
    "/api/teach/class",
    "/api/teach/export",
    "/api/teach/archives",
    "/api/teach/scenario",
    "/api/teach/learners/1",
]


def test_teacher_pages_refuse_without_the_key_with_a_wrong_key_and_with_a_learners_cookie(client):
    # `client` is a learner: its session cookie opens nothing here.
    start(client, epochs=2, checkpoint_every=1)
    for path in TEACHER_PAGES + TEACHER_API:
        r = client.get(path)
        assert r.status_code == 403, path
        assert "tm-board" not in r.text and '"counts"' not in r.text  # nothing of the class leaks
    assert client.post("/teach/reset", data={"confirm": "yes"}).status_code == 403
    assert client.post("/api/teach/reset", json={"confirm": True}).status_code == 403
    assert client.post("/api/teach/archives/x/restore", json={}).status_code == 403
    r = client.get("/teach?key=wrong-key")
    assert r.status_code == 403 and "lab_teacher" not in r.cookies
    assert client.get("/api/teach/class", headers={"authorization": "Bearer wrong"}).status_code == 403
    # A forged or stale teacher cookie is refused as well.
    client.cookies.set("lab_teacher", "eyJrIjoiYWJjIn0.forged.sig")
    assert client.get("/teach").status_code == 403
    page = TestClient(client.app).get("/teach", headers={"accept-language": "en"})
    assert "It needs the teacher key" in page.text
    page = TestClient(client.app).get("/teach?lang=zh")
    assert "需要教师密钥" in page.text


def test_the_right_key_sets_a_signed_cookie_and_opens_every_teacher_page(client):
    t = teacher(client)
    for path in TEACHER_PAGES[:-1] + TEACHER_API[:-1]:
        assert t.get(path).status_code == 200, path
    assert t.get(TEACHER_API[-1]).status_code == 404  # no learner 1 yet: not found, not forbidden
    # The bearer key works for scripts without any cookie.
    assert (
        TestClient(client.app).get("/api/teach/class", headers={"authorization": f"Bearer {KEY}"}).status_code
        == 200
    )
    # Leaving teacher mode drops the cookie.
    assert t.post("/teach/leave", follow_redirects=False).status_code == 303
    assert t.get("/teach").status_code == 403


def test_wrong_keys_are_rate_limited_per_address_and_then_even_the_right_key_waits(client):
    t = TestClient(client.app)
    for _ in range(5):
        assert t.get("/teach?key=guess").status_code == 403
    r = t.get(f"/teach?key={KEY}", follow_redirects=False)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert t.get("/api/teach/class", headers={"authorization": f"Bearer {KEY}"}).status_code == 429


def test_a_key_is_made_once_kept_in_the_data_folder_and_logged_with_its_link(tmp_path, caplog):
    from app.components.teacher_dashboard.auth import TeacherAuth
    from app.settings import Settings

    s = Settings(data_dir=tmp_path, secret_key="s", host="0.0.0.0", port=8123)
    with caplog.at_level("INFO"):
        first = TeacherAuth(s)
        first.announce()
    key = (tmp_path / "teacher.key").read_text()
    assert first.key == key and len(key) >= 24
    assert (tmp_path / "teacher.key").stat().st_mode & 0o777 == 0o600
    assert f":8123/teach?key={key}" in caplog.text
    caplog.clear()
    with caplog.at_level("INFO"):
        again = TeacherAuth(s)
        again.announce()
    assert again.key == key and key not in caplog.text  # printed once, when it was made
    # A cookie signed for an old key does not open the door after the key changes.
    changed = TeacherAuth(s.model_copy(update={"teacher_key": "another"}))
    assert first.cookie_ok(first.cookie_value()) and not changed.cookie_ok(first.cookie_value())


def _three_learners(client):
    """Real runs: A crashes and resumes twice (everything, weights), B finishes, C crashes and
    resumes weights-only."""
    a, b, c = learner(client), learner(client), learner(client)
    ra = start(a, epochs=8, checkpoint_every=4, crash="at_epoch", crash_epoch=6, lr=0.03)
    rb = start(b, epochs=4, checkpoint_every=2)
    rc = start(c, epochs=8, checkpoint_every=4, crash="at_epoch", crash_epoch=6, lr=0.03)
    ra, rc = wait_finished(a, ra["id"]), wait_finished(c, rc["id"])
    assert ra["status"] == rc["status"] == "crashed"
    resumes = []
    for who, run, restore in ((a, ra, "everything"), (a, ra, "weights"), (c, rc, "weights")):
        r = who.post(
            f"{API}/runs/{run['id']}/resume", json={"file": "ckpt-epoch-0004.pt", "restore": restore}
        )
        assert r.status_code == 201, r.text
        resumes.append((who, r.json()["id"]))
    for who, run_id in resumes:
        run = wait_finished(who, run_id)
        assert run["status"] == "done", (run["status"], run.get("error"), run.get("options"))
        wait_event(who, run_id, "comparison")
    assert wait_finished(b, rb["id"])["status"] == "done"
    return a, b, c


def test_the_board_aggregates_real_runs_of_three_learners_and_export_and_reset_restore_them(client):
    a, b, _c = _three_learners(client)
    t = teacher(client)
    assert a.put("/api/class/name", json={"name": "  Ada\n  L. "}).json() == {"name": "Ada L."}

    board = t.get("/api/teach/class?lang=en").json()
    counts = board["counts"]
    assert counts["learners"] == 3 and counts["runs"] == 3 and counts["crashed"] == 2
    assert counts["resumes"] == 3 and counts["failed"] == 0 and counts["active"] == 0
    assert counts["present"] == 3
    ledger = {m["mode"]: m for m in board["ledger"]}
    assert ledger["everything"]["resumes"] == 1 and ledger["everything"]["identical"] == 1
    assert ledger["everything"]["compared"] == 1
    assert ledger["everything"]["median_loss_change"] == 0.0  # bit-identical: the same first epoch
    assert ledger["weights"]["resumes"] == 2 and ledger["weights"]["compared"] == 2
    assert ledger["weights"]["identical"] == 0
    assert ledger["weights"]["median_loss_change"] > 0.05  # fresh Adam moments: the loss jumps back up
    assert ledger["no_rng"]["resumes"] == 0 and ledger["no_rng"]["median_loss_change"] is None
    labels = [lr["label"] for lr in board["learners"]]
    assert labels == ["learner 1", "learner 2", "learner 3"]
    names = {lr["name"] for lr in board["learners"]}
    assert names == {"Ada L.", None}
    # One learner as the presenter draws it: first run, resumes, the shared reference.
    first = t.get("/api/teach/learners/1?lang=en").json()
    assert first["learner"]["name"] == "Ada L." and first["epochs_total"] == 8
    kinds = [(s["kind"], s["restore"]) for s in first["segments"]]
    assert kinds == [("train", None), ("resume", "everything"), ("resume", "weights"), ("reference", None)]
    assert first["segments"][0]["crash_epoch"] == 6 and len(first["segments"][0]["epochs"]) == 5
    assert [e["epoch"] for e in first["segments"][1]["epochs"]] == [5, 6, 7, 8]
    assert t.get("/api/teach/learners/99").status_code == 404
    assert "svg" in t.get("/teach/present/content?learner=1").text
    # The dashboard says the same in its page, in Chinese too.
    page = t.get("/teach?lang=zh").text
    assert "学员 1" in page and "Ada L." in page and "全部恢复" in page
    # Learners see none of this: the simulator's list of B has only B's run.
    assert len(b.get(f"{API}/runs").json()) == 1

    # Export: one row per run, the documented columns, anonymised.
    text = csv_text(t.get("/teach/export.csv?lang=en"))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 6
    assert list(rows[0]) == [
        "label",
        "learner",
        "run",
        "lineage",
        "kind",
        "status",
        "created",
        "epochs",
        "lr",
        "optimizer",
        "scheduler",
        "checkpoint_every",
        "keep_last",
        "seed",
        "crash_plan",
        "crash_epoch",
        "crashed",
        "restore",
        "from_epoch",
        "loss_change",
        "spike",
        "lr_ok",
        "order_same",
        "recovery_epochs",
        "final",
        "final_val_loss",
        "identical",
        "max_abs_diff",
    ]
    assert "Ada" not in text
    resumed = [r for r in rows if r["kind"] == "resume"]
    assert sorted(r["restore"] for r in resumed) == ["everything", "weights", "weights"]
    assert {r["identical"] for r in resumed if r["restore"] == "everything"} == {"True"}
    # The board's spike count is the simulator's own verdict, row by row.
    assert ledger["weights"]["spikes"] == sum(
        r["spike"] == "True" for r in resumed if r["restore"] == "weights"
    )
    assert ledger["everything"]["spikes"] == 0
    assert all(r["crash_plan"] == "at_epoch" and r["crash_epoch"] == "6" for r in resumed)
    as_json = t.get("/api/teach/export?lang=en").json()
    assert len(as_json) == 6 and {r["label"] for r in as_json} == {"learner 1", "learner 2", "learner 3"}
    assert t.get("/teach/export.json").json() == t.get("/teach/export.json").json()

    # Reset needs a confirmation; then the class is archived and a fresh one starts.
    assert t.post("/teach/reset", data={}, follow_redirects=False).headers["location"].endswith("error=1")
    assert t.post("/api/teach/reset", json={}).status_code == 400
    assert t.get("/api/teach/class").json()["counts"]["runs"] == 3
    # The reset page counts what the dashboard counts, in the same words: 3 runs and 3 resumes.
    assert (
        "The current class (3 learners, 3 runs and 3 resumes) will be archived"
        in t.get("/teach/reset?lang=en").text
    )
    assert "当前班级（3 位学员，3 次训练，3 次恢复）会被归档" in t.get("/teach/reset?lang=zh").text
    numbers = {lr["name"]: lr["number"] for lr in board["learners"]}
    r = t.post("/teach/reset?lang=en", data={"confirm": "yes"})
    assert r.status_code == 200 and "Archived (3 learners, 3 runs and 3 resumes)" in r.text
    fresh_class = t.get("/api/teach/class").json()
    assert fresh_class["counts"] == {
        "learners": 0,
        "present": 0,
        "runs": 0,
        "crashed": 0,
        "resumes": 0,
        "failed": 0,
        "active": 0,
        "needs_help": 0,
        "idle": 0,
    }
    # The places the queue serves: full speed (MAX_WORKERS) and a watching pace (PACED_WORKERS).
    settings = client.app.state.settings
    assert fresh_class["queue"] == {
        "waiting": 0,
        "training": 0,
        "workers": settings.max_workers,
        "paced": settings.paced_workers,
    }
    archives = t.get("/api/teach/archives").json()
    assert len(archives) == 1 and archives[0]["learners"] == 3
    assert (archives[0]["runs"], archives[0]["resumes"], archives[0]["restored"]) == (3, 3, None)
    archive_id = archives[0]["id"]
    archived = list(csv.DictReader(io.StringIO(csv_text(t.get(f"/teach/archives/{archive_id}.csv")))))
    assert len(archived) == 6
    # The runs are kept: the learners still have them, and their files are on disk.
    assert len(a.get(f"{API}/runs").json()) == 1
    # A new learner in the fresh class is learner 1 of it, and the reset page says so in the singular.
    d = learner(client)
    start(d, epochs=2, checkpoint_every=1)
    fresh = board_when(t, lambda b: b["counts"]["runs"] == 1)
    assert fresh["counts"]["runs"] == 1 and fresh["learners"][0]["label"] == "learner 1"
    assert "(1 learner, 1 run and 0 resumes)" in t.get("/teach/reset?lang=en").text

    # Restoring asks first, in a form of its own (no JavaScript needed): without the tick, nothing.
    page = t.get("/teach/archives?lang=en").text
    assert f'href="/teach/archives/{archive_id}/restore?lang=en"' in page and "<form" not in page
    r = t.post(f"/teach/archives/{archive_id}/restore?lang=en", data={}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("error=1")
    assert t.get("/api/teach/class").json()["counts"]["runs"] == 1
    confirm = t.get(r.headers["location"]).text
    assert "Tick the confirmation first." in confirm and "(3 learners, 3 runs and 3 resumes)" in confirm
    assert 'name="confirm" value="yes"' in confirm
    assert t.post(f"/api/teach/archives/{archive_id}/restore", json={}).status_code == 400
    r = t.post(f"/teach/archives/{archive_id}/restore?lang=en", data={"confirm": "yes"})
    assert r.status_code == 200 and "is back (3 learners, 3 runs and 3 resumes)" in r.text
    back = board_when(t, lambda b: b["counts"]["runs"] == 4)
    assert back["counts"]["runs"] == 4 and back["counts"]["resumes"] == 3
    # The archive stays listed, marked restored, and cannot be restored twice.
    listed = t.get("/api/teach/archives").json()
    assert [x["id"] for x in listed] == [archive_id] and listed[0]["restored"] is not None
    assert "restored on" in t.get("/teach/archives?lang=en").text
    assert t.post(f"/api/teach/archives/{archive_id}/restore", json={"confirm": True}).status_code == 409
    assert t.post("/api/teach/archives/nope/restore", json={"confirm": True}).status_code == 404
    # Learners keep the numbers of the archive (and of its CSV); the newcomer moves to the next one.
    after = {lr["name"]: lr["number"] for lr in back["learners"]}
    assert after["Ada L."] == numbers["Ada L."]
    assert sorted(lr["number"] for lr in back["learners"]) == [1, 2, 3, 4]
    by_run = {
        r["run"]: int(r["learner"]) for r in csv.DictReader(io.StringIO(csv_text(t.get("/teach/export.csv"))))
    }
    assert all(by_run[r["run"]] == int(r["learner"]) for r in archived)
    assert len(by_run) == 7 and 4 in by_run.values()


def test_the_board_follows_the_runs_the_class_starts(client):
    t = teacher(client)
    before = t.get("/api/teach/class").json()["counts"]["runs"]
    run = start(learner(client), epochs=2, checkpoint_every=1)
    assert board_when(t, lambda b: b["counts"]["runs"] == before + 1)["counts"]["runs"] == before + 1
    assert run["id"][:8] in csv_text(t.get("/teach/export.csv"))


def test_scenario_links_carry_the_simulators_names_and_its_messages(client):
    t = teacher(client)
    r = t.get(
        "/api/teach/scenario?lang=en&sim.optimizer=sgd&sim.crash=at_epoch&sim.crash_epoch=12"
        "&sim.epochs=30&lock=sim.optimizer,sim.crash"
    ).json()
    assert r["errors"] == {}
    assert r["link"] == (
        "/en/06-model-io-checkpoint?sim.optimizer=sgd&sim.crash=at_epoch&sim.crash_epoch=12"
        "&lock=sim.optimizer%2Csim.crash#checkpoint-simulator"
    )
    # The same names, without the prefix, start the same run through the JSON API.
    body = r["simulator_body"]
    run = start(learner(client), **{**body, "pace_ms": 0})
    assert run["config"]["optimizer"] == "sgd" and run["options"]["crash_at_epoch"] == 12
    bad = t.get("/api/teach/scenario?lang=en&sim.epochs=5000&sim.lr=abc").json()
    assert bad["errors"] == {"epochs": "Must be at most 200.", "lr": "Enter a number."}
    bad = t.get("/api/teach/scenario?lang=zh&sim.crash=at_epoch").json()
    assert bad["errors"] == {"crash_epoch": "请选择在第几个 epoch 崩溃。"}
    # While a value is refused there is no link at all: it would say something the form does not.
    assert bad["link"] is None and t.get("/api/teach/scenario?sim.epochs=5000").json()["link"] is None
    # The builder says so beside the field, in the page's language (the link's may be another).
    html = t.get("/teach/scenario?lang=zh&link_lang=en&sim.epochs=5000&lock=sim.epochs").text
    assert (
        '<span class="error tm-field-error" id="tm-sim-epochs-error" hx-swap-oob="true">不能大于 200。</span>'
        in html
    )
    assert 'id="tm-sim-lr-error" hx-swap-oob="true"></span>' in html  # the others are cleared
    assert 'id="tm-link"' not in html and "sim.epochs=5000" not in html
    # Pace and the mid-epoch checkpoints, by the names the simulator's form reads from a link.
    r = t.get("/api/teach/scenario?lang=en&sim.pace_ms=0&sim.mid_epoch=1&lock=sim.mid_epoch").json()
    assert r["errors"] == {} and r["link"] == (
        "/en/06-model-io-checkpoint?sim.pace_ms=0&sim.mid_epoch=1&lock=sim.mid_epoch#checkpoint-simulator"
    )
    assert r["simulator_body"]["pace_ms"] == 0 and r["simulator_body"]["mid_epoch"] is True
    assert t.get("/api/teach/scenario?lang=en&sim.pace_ms=5000").json()["errors"] == {
        "pace_ms": "Must be at most 1000."
    }
    html = t.get("/teach/scenario?lang=en&sim.epochs=40&sim.mid_epoch=0").text
    assert "06-model-io-checkpoint?sim.epochs=40#checkpoint-simulator" in html  # off is the default


def test_a_learner_may_give_a_name_and_nothing_else_is_kept(client):
    # The chapter offers the name field only while a teacher uses the dashboard.
    assert 'id="class-name"' not in client.get("/en/06-model-io-checkpoint").text
    teacher(client)
    assert 'id="class-name"' in client.get("/en/06-model-io-checkpoint").text
    assert client.get("/api/class/name").json() == {"name": None}
    assert client.put("/api/class/name", json={"name": "x" * 100}).json() == {"name": "x" * 40}
    assert client.put("/api/class/name", json={"name": ""}).json() == {"name": None}
    assert TestClient(client.app).put("/api/class/name", json={"name": "n"}).status_code == 403
    # The chapter page is the same for everyone; the name field loads per learner.
    form = client.get("/components/class-name/form?lang=en").text
    assert 'id="tm-name"' in form and 'value=""' in form
    r = client.post(
        "/components/class-name/form?lang=en", data={"name": "Grace"}, headers={"hx-request": "true"}
    )
    assert "your teacher sees \u201cGrace\u201d" in r.text
    state = (client.app.state.settings.data_dir / "teacher" / "class.json").read_text()
    assert "Grace" in state and client.cookies.get("lab_session") not in state


def test_a_scenario_link_made_on_the_laptop_itself_names_its_network_address(client):
    t = teacher(client)
    assert t.get("/api/teach/scenario").json()["origin"] == ""  # the page's own origin will do
    client.app.state.settings.host = "0.0.0.0"
    try:
        local = t.get("/api/teach/scenario", headers={"host": "127.0.0.1:8000"}).json()["origin"]
        assert local.startswith("http://") and local.endswith(":8000") and "127.0.0.1" not in local
        html = t.get("/teach/scenario", headers={"host": "localhost:8000"}).text
        assert f'data-origin="{local}"' in html
        assert t.get("/api/teach/scenario", headers={"host": "192.168.1.20:8000"}).json()["origin"] == ""
    finally:
        client.app.state.settings.host = "127.0.0.1"


def test_learners_new_to_the_board_are_numbered_in_order_with_one_write(tmp_path, monkeypatch):
    from app.components.teacher_dashboard import class_state

    writes = []
    real = class_state._atomic_write
    monkeypatch.setattr(
        class_state, "_atomic_write", lambda path, data: (writes.append(data), real(path, data))
    )
    state = class_state.ClassState(tmp_path)
    assert state.number_of("first") == 1
    writes.clear()
    state.number_all(["b", "first", "c", "b", "d"])
    assert len(writes) == 1
    assert [state.number_of(h) for h in ("first", "b", "c", "d")] == [1, 2, 3, 4]
    state.number_all(["c", "d"])  # nobody new: nothing written
    assert len(writes) == 1
    again = class_state.ClassState(tmp_path)  # what was written is what a restart reads
    assert again.numbers == {"first": 1, "b": 2, "c": 3, "d": 4}

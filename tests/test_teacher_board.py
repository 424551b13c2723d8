"""The board as a teacher reads it, from real runs: CSV bytes Excel reads, idle learners told apart
from those who need help, and the presenter's chart in the learner panels' colours."""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import signal
import time

import pytest

from tests.simulator_helpers import API, start, wait_finished
from tests.test_teacher import KEY, board_when, csv_text, learner, teacher


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"teacher_key": KEY})


def test_the_csv_export_starts_with_a_bom_so_excel_reads_chinese_and_stays_parseable(client):
    c = learner(client)
    start(c, epochs=2, checkpoint_every=1)
    t = teacher(client)
    board_when(t, lambda b: b["counts"]["runs"] == 1)
    raw = t.get("/teach/export.csv?lang=zh").content
    # The mark once, at the very start; then the header; the labels in UTF-8.
    assert raw.startswith(codecs.BOM_UTF8 + b"label,learner,run,") and raw.count(codecs.BOM_UTF8) == 1
    assert "学员 1".encode() in raw
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [(r["label"], r["learner"], r["kind"]) for r in rows] == [("学员 1", "1", "train")]
    assert csv_text(t.get("/teach/export.csv?lang=en")).startswith("label,")


def test_idle_learners_are_told_apart_from_those_who_need_help(client, monkeypatch):
    """Idle (nothing done for TEACHER_IDLE_MINUTES) is a neutral note; needing help is a failed last
    run or a running run that makes no progress (here: its process is stopped, as a hung one)."""
    from app.components.teacher_dashboard import classroom

    monkeypatch.setattr(classroom, "STALL_SECONDS", 2.0)
    monkeypatch.setattr(classroom, "TIME_BUCKET", 0.5)  # the board looks at the clock this often
    t = teacher(client)
    quiet, stuck = learner(client), learner(client)
    done = start(quiet, epochs=2, checkpoint_every=1)
    assert wait_finished(quiet, done["id"])["status"] == "done"
    run = start(stuck, epochs=30, checkpoint_every=5, pace_ms=200)
    jobs = client.app.state.jobs
    deadline = time.monotonic() + 60
    while not ((p := jobs.progress(run["id"])) and p.pid and p.epoch >= 1):
        assert time.monotonic() < deadline, "the run never got going"
        time.sleep(0.1)
    os.kill(p.pid, signal.SIGSTOP)
    try:
        board = board_when(t, lambda b: b["counts"]["needs_help"] == 1, timeout=30)
        by_number = {lr["number"]: lr for lr in board["learners"]}
        assert by_number[2]["needs_help"] == ["stalled"] and by_number[1]["needs_help"] == []
        assert by_number[2]["needs_help_text"] == ["a run made no progress for a minute"]
        assert by_number[1]["idle"] is False  # it finished just now
        page = t.get("/teach/board?lang=en").text
        assert "⚠ </span>a run made no progress for a minute" in page
        zh = t.get("/teach/board?lang=zh").text
        assert "有一个运行超过一分钟没有进展" in zh and "需要帮助" in zh
    finally:
        os.kill(p.pid, signal.SIGCONT)
    # Going again, it is no longer flagged.
    board_when(t, lambda b: b["counts"]["needs_help"] == 0, timeout=30)
    assert stuck.post(f"{API}/runs/{run['id']}/crash").status_code == 200
    # A learner who has done nothing for TEACHER_IDLE_MINUTES is idle: counted and marked, not flagged.
    settings = client.app.state.settings
    minutes, settings.teacher_idle_minutes = settings.teacher_idle_minutes, 1 / 600  # 0.1 s
    try:
        board = board_when(t, lambda b: b["counts"]["idle"] >= 1, timeout=30)
        first = next(lr for lr in board["learners"] if lr["number"] == 1)
        assert first["idle"] is True and first["needs_help"] == [] and board["counts"]["needs_help"] == 0
        page = t.get("/teach/board?lang=en").text
        assert '<strong id="tm-count-idle">' in page and "(idle)" in page
        assert '<tr data-learner="1">' in page  # no warning style for an idle learner
    finally:
        settings.teacher_idle_minutes = minutes


def test_the_presenters_chart_gives_each_restore_mode_its_own_colour_label_and_legend_entry(client):
    """The colours of the learner's own panels (checkpoint_simulator/figures.py), whatever order the
    resumes came in; two resumes of one mode: two lines of its colour, one legend entry."""
    from app.components.checkpoint_simulator.figures import SERIES
    from app.components.checkpoint_simulator.strings import RESTORE_LABELS

    a = learner(client)
    run = start(a, epochs=4, checkpoint_every=2, crash="at_epoch", crash_epoch=3)
    assert wait_finished(a, run["id"])["status"] == "crashed"
    r = a.post(f"{API}/runs/{run['id']}/resume-all", json={"file": "ckpt-epoch-0002.pt"})
    assert r.status_code == 201, r.text
    resumes = [x["id"] for x in r.json()["runs"]]
    for run_id in resumes:
        assert wait_finished(a, run_id)["status"] == "done"
    again = a.post(
        f"{API}/runs/{run['id']}/resume", json={"file": "ckpt-epoch-0002.pt", "restore": "weights"}
    )
    assert again.status_code == 201, again.text
    assert wait_finished(a, again.json()["id"])["status"] == "done"
    t = teacher(client)
    number = board_when(t, lambda b: b["counts"]["resumes"] == 6)["learners"][0]["number"]
    for lang, labels in (("en", "Weights only"), ("zh", "仅权重")):
        html = t.get(f"/teach/present/content?lang={lang}&learner={number}").text
        svg, _, legend = html.partition('<figcaption class="legend">')
        lines = re.findall(r'<polyline class="line (series-\d+)[^"]*"[^>]*><title>([^<]+)</title>', svg)
        by_label: dict[str, set[str]] = {}
        for css, label in lines:
            by_label.setdefault(label, set()).add(css)
        for mode, css in SERIES.items():
            name = RESTORE_LABELS[lang][mode][0]
            resume = next(label for label in by_label if label.endswith(name))
            assert by_label[resume] == {css}, (mode, by_label)
        assert sum(label.endswith(labels) for _css, label in lines) == 2  # two weights-only resumes
        # One legend entry per line name, and each name written once at the end of its line.
        entries = re.findall(r'<span class="legend-item">.*?</svg>([^<]+)</span>', legend)
        assert len(entries) == len(set(entries)) == len(by_label) == 7  # first run, 5 modes, reference
        assert sorted(re.findall(r'<text class="line-label"[^>]*>([^<]+)</text>', svg)) == sorted(by_label)

"""Counts in English say one thing in the singular and two in the plural (Chinese has no plural and
reads the same); a loss change that rounds to 0 % is called a match, not "within 0 %"."""

from __future__ import annotations

import pytest

from app import components, i18n
from app.components.checkpoint_simulator import words
from app.components.checkpoint_simulator.ledger import Row
from app.jobs.protocol import RunStatus
from app.templating import templates
from tests.simulator_helpers import start
from tests.test_teacher import KEY, board_when, learner, teacher


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"teacher_key": KEY})


@pytest.fixture(autouse=True)
def _strings() -> None:
    components.load_builtin()  # every component's text registered, as in the app


def render(text: str, lang: str, **values) -> str:
    """A template snippet as the component templates write it (the `t` and `tn` globals)."""
    return templates.env.from_string(text).render(lang=lang, **values)


@pytest.mark.parametrize(
    "snippet,one,two",
    [
        ("{{ tn('cs.epochs_n', n).format(n=n) }}", "after 1 epoch", "after 2 epochs"),
        (
            "{{ tn('ci.keys', n).format(n=n) }} · {{ tn('ci.tensors', n).format(n=n) }}",
            "1 key · 1 tensor",
            "2 keys · 2 tensors",
        ),
        ("{{ tn('ci.more_keys', n).format(n=n) }}", "… 1 more key not shown", "… 2 more keys not shown"),
        (
            "{{ tn('ci.group_more', n).format(n=n, size='9 KB') }}",
            "1 more key of this group",
            "2 more keys of this",
        ),
        ("{{ tn('cx.waiting', n).format(n=n) }}", "Waiting: 1 check ahead", "Waiting: 2 checks ahead"),
        (
            "{{ tn('cx.queue_cleared', n).format(n=n) }}",
            "Cleared 1 waiting check;",
            "Cleared 2 waiting checks;",
        ),
        ("{{ tn('tl.compare_changed', n).format(n=n) }}", "1 tensor changed", "2 tensors changed"),
        ("{{ tn('tm.count_present', n).format(n=n) }}", "1 learner present", "2 learners present"),
    ],
)
def test_english_counts_agree_with_one_and_with_two(snippet, one, two):
    assert one in render(snippet, "en", n=1) and two in render(snippet, "en", n=2)
    assert render(snippet, "zh", n=1).replace("1", "2") == render(snippet, "zh", n=2)


def test_tn_takes_the_singular_text_for_1_only():
    for lang in i18n.LANGS:
        assert i18n.tn(lang, "tm.count_runs", 1) == i18n.t(lang, "tm.count_runs_one")
        assert i18n.tn(lang, "tm.count_runs", 0) == i18n.t(lang, "tm.count_runs")


def _resumed(**measured) -> Row:
    return Row("weights", {}, status=RunStatus.DONE, **measured)


def test_the_ledgers_sentences_count_epochs_and_call_a_zero_change_a_match():
    one = words.cost(_resumed(recovered=True, recovery_epochs=1), "en", 0.05)
    two = words.cost(_resumed(recovered=True, recovery_epochs=2), "en", 0.05)
    assert "after 1 epoch" in one and "epochs" not in one
    assert "after 2 epochs" in two
    same = words.cost(_resumed(loss_change=0.004, spike=False), "en", 0.05)
    assert "matched the reference" in same and "0%" not in same
    assert "within 3% of the reference" in words.cost(_resumed(loss_change=-0.03, spike=False), "en", 0.05)
    assert "0%" not in words.cost(_resumed(loss_change=0.004, spike=False), "zh", 0.05)


def test_the_presenter_says_1_learner_present_and_then_2_learners_present(client):
    t = teacher(client)
    start(learner(client), epochs=2, checkpoint_every=1)
    board_when(t, lambda b: b["counts"]["runs"] == 1)
    page = t.get("/teach/present/content?lang=en").text
    assert "1 learner present · 1 run · 0 crashed · 0 resumes" in page
    start(learner(client), epochs=2, checkpoint_every=1)
    board_when(t, lambda b: b["counts"]["runs"] == 2)
    assert (
        "2 learners present · 2 runs · 0 crashed · 0 resumes" in t.get("/teach/present/content?lang=en").text
    )
    assert "2 位学员在线 · 2 次训练 · 0 次崩溃 · 0 次恢复" in t.get("/teach/present/content?lang=zh").text

"""The scheduler on its own (app/jobs/scheduler.py): plain run ids, a fake clock, no processes."""

from __future__ import annotations

import pytest

from app.jobs.protocol import LimitReached
from app.jobs.scheduler import ADDRESS_MEMORY_S, PACED_MIN_MS, Limits, Scheduler

LIMITS = Limits(
    queue_max=1000,
    queue_per_address=500,
    active_per_session=3,
    max_epochs=200,
    stored_per_session=30,
    paced_places=4,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def start_all(sched: Scheduler, full_places: int) -> list[str]:
    """Start runs as places free up, each ending before the next round of starts."""
    started = []
    while len(sched):
        batch = []
        while (item := sched.take(full_places)) is not None:
            batch.append(item.run_id)
        assert batch, "runs wait but none can start"
        for run_id in batch:
            sched.release(run_id)
        started += batch
    return started


def test_sixty_learners_with_three_runs_each_start_in_round_robin_order():
    sched = Scheduler(LIMITS, Clock())
    for learner in range(60):  # each learner queues all three at once, one learner after another
        for k in range(3):
            sched.add(f"l{learner}-r{k}", f"l{learner}", "train", 0)
    started = start_all(sched, full_places=2)
    assert started == [f"l{learner}-r{k}" for k in range(3) for learner in range(60)]


def test_a_pile_of_runs_delays_a_newcomer_by_one_round_at_most():
    sched = Scheduler(LIMITS, Clock())
    for k in range(50):
        sched.add(f"hog-{k}", "hog", "train", 0)
    for learner in range(5):
        sched.add(f"l{learner}", f"l{learner}", "train", 0)
    for _ in range(8):  # the class gets going: some rounds start and end
        item = sched.take(1)
        assert item is not None
        sched.release(item.run_id)
    sched.add("new", "newcomer", "train", 0)
    ahead = sched.queued()[: sched.position("new") - 1]
    # At most one run of each other learner with runs waiting: one round.
    assert len(ahead) == len({run_id.split("-")[0] for run_id in ahead})
    assert sum(run_id.startswith("hog") for run_id in ahead) <= 1
    order = start_all(sched, full_places=1)
    assert order.index("new") <= 1 + 5


def test_paced_runs_never_wait_behind_full_speed_ones():
    sched = Scheduler(LIMITS, Clock())
    busy = [f"full-{k}" for k in range(20)]
    for run_id in busy:
        sched.add(run_id, run_id, "train", 0)
    assert sched.take(1).run_id == "full-0"  # the one full-speed place is taken
    assert sched.take(1) is None
    sched.add("slow", "watcher", "train", PACED_MIN_MS)
    assert sched.position("slow") == 1 and sched.position("full-1") == 1  # a line each
    taken = sched.take(1)
    assert taken is not None and taken.run_id == "slow" and taken.paced
    # A reference or a run without a pace is full-speed work, whatever it is paced at.
    sched.add("ref", None, "reference", 500)
    assert sched.position("ref") == 20


def test_a_run_that_could_not_start_is_first_in_line_again():
    sched = Scheduler(LIMITS, Clock())
    for owner in "abc":
        sched.add(owner, owner, "train", 0)
    item = sched.take(1)
    assert item is not None and sched.take(1) is None
    sched.put_back(item)
    assert sched.queued() == ["a", "b", "c"] and sched.take(1).run_id == "a"


def test_a_job_pushed_first_starts_before_everyone():
    sched = Scheduler(LIMITS, Clock())
    for owner in "ab":
        sched.add(owner, owner, "train", 0)
    sched.add("pretrain", None, "pretrain", 0, first=True)
    assert sched.queued() == ["pretrain", "a", "b"]


def test_a_cancelled_run_leaves_its_line():
    sched = Scheduler(LIMITS, Clock())
    for k in range(3):
        sched.add(f"a{k}", "a", "train", 0)
    assert sched.remove("a1") and not sched.remove("a1") and "a1" not in sched
    assert sched.queued() == ["a0", "a2"] and sched.position("a2") == 2


@pytest.mark.parametrize(
    "check, code, words",
    [
        (lambda s: s.check_active(3), "active", "at most 3 runs may wait or train at once"),
        (lambda s: s.check_epochs(201), "epochs", "at most 200 epochs per run"),
        (lambda s: s.check_stored(30), "stored", "at most 30 runs are kept; delete an old one"),
        (lambda s: s.check_planned(1), "planned", "a set of resumes is already waiting"),
    ],
)
def test_each_per_learner_limit_refuses_with_its_message(check, code, words):
    sched = Scheduler(LIMITS, Clock())
    with pytest.raises(LimitReached) as refused:
        check(sched)
    assert refused.value.code == code and words in str(refused.value)


def test_the_limits_let_through_what_is_within_them():
    sched = Scheduler(LIMITS, Clock())
    sched.check_active(2)
    sched.check_epochs(200)
    sched.check_stored(29)
    sched.check_planned(0)
    sched.check_queue()
    sched.check_address("s")


def test_a_full_queue_refuses_with_its_message():
    sched = Scheduler(Limits(3, 10, 3, 200, 30, 0), Clock())
    for k in range(3):
        sched.check_queue()
        sched.add(f"r{k}", f"s{k}", "train", 0)
    with pytest.raises(LimitReached, match="queue full: 3 runs are waiting") as refused:
        sched.check_queue()
    assert refused.value.code == "queue"


def test_one_address_fills_its_share_and_others_still_queue():
    clock = Clock()
    sched = Scheduler(Limits(100, 4, 3, 200, 30, 0), clock)
    for k in range(4):  # four sessions of one classroom's NAT, or of one script
        sched.note_address(f"nat-{k}", "10.0.0.50")
        sched.check_address(f"nat-{k}")
        sched.add(f"r{k}", f"nat-{k}", "train", 0)
    sched.note_address("nat-4", "10.0.0.50")
    with pytest.raises(LimitReached, match="queue full for your network: 4 runs") as refused:
        sched.check_address("nat-4")
    assert refused.value.code == "address"
    sched.note_address("elsewhere", "10.0.0.3")
    sched.check_address("elsewhere")
    # A run of the address that leaves the line makes room for one more.
    assert sched.remove("r0")
    sched.check_address("nat-4")
    # An address is remembered for a while, not forever.
    sched.add("r4", "nat-4", "train", 0)
    clock.now += ADDRESS_MEMORY_S + 1
    assert sched.address("nat-4") is None


def test_a_learners_next_run_is_in_the_round_being_served_once_their_first_started():
    sched = Scheduler(LIMITS, Clock())
    sched.add("a0", "a", "train", 0)
    sched.add("a1", "a", "train", 0)
    assert sched.take(1).run_id == "a0"  # a trains; a1 is now a's only waiting run
    sched.add("b0", "b", "train", 0)
    sched.add("c0", "c", "train", 0)
    assert sched.queued() == ["a1", "b0", "c0"]


def test_a_sharded_experiment_waits_for_a_place_per_rank_and_holds_them_all():
    sched = Scheduler(LIMITS, Clock())
    sched.add("train-a", "a", "train", 0)
    sched.add("world-4", "b", "sharded", 0, places=4)  # four ranks: every one of two places
    sched.add("train-c", "c", "train", 0)
    first = sched.take(full_places=2)
    assert first is not None and first.run_id == "train-a"
    # One place is free, the experiment needs both: it waits, and the run behind it waits too.
    assert sched.take(full_places=2) is None
    assert sched.position("world-4") == 1 and sched.position("train-c") == 2
    sched.release("train-a")
    second = sched.take(full_places=2)
    assert second is not None and second.run_id == "world-4"
    assert sched.free(2)[False] == 0
    assert sched.take(full_places=2) is None  # it holds both places until it ends
    sched.release("world-4")
    assert sched.free(2)[False] == 2
    third = sched.take(full_places=2)
    assert third is not None and third.run_id == "train-c"


def test_a_sharded_experiment_never_takes_a_paced_place_and_paced_runs_pass_it():
    sched = Scheduler(LIMITS, Clock())
    sched.add("busy", "a", "train", 0)
    sched.add("world-2", "b", "sharded", PACED_MIN_MS, places=2)
    sched.add("paced", "c", "train", PACED_MIN_MS)
    started = [sched.take(2) for _ in range(2)]
    assert [item.run_id for item in started if item] == ["busy", "paced"]
    assert sched.take(2) is None and sched.position("world-2") == 1
    sched.release("busy")
    item = sched.take(2)
    assert item is not None and item.run_id == "world-2" and not item.paced

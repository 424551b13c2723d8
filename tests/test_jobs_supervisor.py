"""How a run ended, decided from what is certain (app/jobs/supervisor.py `ending`): the two
racing signals of a planned crash are its announcement on the pipe and the exit status from the
forkserver. Either is enough; neither alone may turn it into "failed"."""

from __future__ import annotations

import signal

from app.jobs.events import Crash
from app.jobs.protocol import Job, RunStatus
from app.jobs.supervisor import DISK_FULL, ending

PLANNED = Job(task="train", run_id="p", run_dir="/d/p", config={}, crash_while_saving_at=2)
PLAIN = Job(task="train", run_id="q", run_dir="/d/q", config={})
ANNOUNCED = Crash("while_saving", 2, 9)


def test_an_announced_crash_is_a_crash_whatever_the_exit_status_says():
    assert ending(PLANNED, 255, ANNOUNCED, None, 9).crash == ANNOUNCED  # the forkserver could not tell
    assert ending(PLANNED, -signal.SIGKILL, ANNOUNCED, None, 9).status is RunStatus.CRASHED


def test_a_planned_crash_whose_announcement_was_lost_is_still_a_crash():
    end = ending(PLANNED, -signal.SIGKILL, None, None, 7)
    assert end.status is RunStatus.CRASHED and end.crash == Crash("while_saving", 2, 7)


def test_a_run_killed_without_a_plan_or_that_raised_has_failed():
    oom = ending(PLAIN, -signal.SIGKILL, None, None, 3)
    assert oom.status is RunStatus.FAILED and "exit code -9" in (oom.error or "")
    raised = ending(PLANNED, 1, ANNOUNCED, "boom", 9)
    assert raised.status is RunStatus.FAILED and raised.error == "boom"


def test_an_exit_by_the_file_size_signal_says_the_disk_is_full():
    assert ending(PLAIN, -signal.SIGXFSZ, None, None, 3).error == DISK_FULL


def test_a_clean_exit_is_done():
    assert ending(PLAIN, 0, None, None, 3).status is RunStatus.DONE

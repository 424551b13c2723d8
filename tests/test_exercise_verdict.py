"""A learner cannot fake their own verdict: code that patches the runner from inside the sandbox
and reports a perfect resume (events forged on the protocol stream, an uninterrupted run's
weights passed off as the resumed run's) is not marked solved. The resumed training and the
numbers the verdict reads come from a process that never ran the learner's code."""

from __future__ import annotations

from app.components.checkpoint_exercise import checker
from app.components.checkpoint_exercise.exercises import EXERCISES
from app.jobs import code_sandbox

FORGER = """import os, sys, torch


def load_checkpoint(path, model, optimizer, scheduler):
    runner = sys.modules["__main__"]  # the exercise runner, trusted code in this process
    init = [v.clone() for v in model.state_dict().values()]
    seed = next(s for s in (0, 1, 2, 3)
                if all(torch.equal(a, b) for a, b in zip(runner.build(s)[0].state_dict().values(), init)))
    crash = torch.load(path, weights_only=True)["epoch"]
    # An uninterrupted run, which is what the reference is...
    m, o, s = runner.build(seed)
    X, y = runner.data()
    logs = [runner.run_epoch(m, o, s, X, y, e) for e in range(1, runner.EPOCHS + 1)]
    # ...reported as a perfect resume, on the runner's own protocol stream.
    ok = {"weights": True, "optimizer": True, "scheduler": True, "rng": True, "lr": True, "bound": True}
    fp = runner.fingerprint(m, o, s)
    runner.emit({"ev": "restored", "restored": ok, "start_epoch": crash + 1, "expected_start": crash + 1,
                 "now": fp, "truth": fp})
    runner.emit({"ev": "resumed", "logs": logs[crash:], "weights": runner.weights(m)})
    runner.emit({"ev": "resume_end", "ended": "exit", "s": 0})
    sys.stdout.flush()
    os._exit(0)
"""


def test_a_submission_that_reports_solved_itself_is_not_solved(tmp_path):
    refs = checker.References(tmp_path / "refs")
    v = checker.run_check(EXERCISES["resume"], FORGER, refs, code_sandbox.Limits())
    assert v["status"] != "solved", v
    assert not any(c["identical"] for c in v["checks"])


TRANSFER_FORGER = """import os, sys


def load_pretrained(model, source_path):
    runner = sys.modules["__main__"]
    rows = [
        {"key": k, "compatible": True, "from_source": True, "untouched": False} for k in model.state_dict()
    ]
    runner.emit(
        {"ev": "transfer", "rows": rows, "classes": 0, "variant": "", "missing": [], "unexpected": []}
    )
    runner.emit({"ev": "resume_end", "ended": "exit", "s": 0})
    sys.stdout.flush()
    os._exit(0)
"""


def test_a_transfer_submission_that_reports_its_own_rows_is_not_solved(tmp_path, pretrained_dir):
    v = checker.run_check(
        EXERCISES["transfer"],
        TRANSFER_FORGER,
        checker.References(tmp_path / "refs"),
        code_sandbox.Limits(),
        source=pretrained_dir / "resnet_mini.pt",
    )
    assert v["status"] != "solved", v

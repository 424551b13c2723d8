"""A hostile learner against the exercise checks: each attack is real code run in the real sandbox,
and each must end without a pass (and, where it can be seen, without its effect)."""

from __future__ import annotations

import re

import pytest

from app.components.checkpoint_exercise import checker
from app.components.checkpoint_exercise.exercises import EXERCISES
from app.jobs import code_sandbox

LIMITS = code_sandbox.Limits()

# The lesson's training task, rebuilt by the learner from the public model and data code: what a
# cheat needs to recompute a checkpoint or a reference run without opening the file.
RETRAIN = """
import json, os, sys, torch
import torch.nn.functional as F
from app.ml.data import make_dataset, train_val_split
from app.ml.models import TinyMLP


def _train(seed, epochs):
    X, y, _, _ = train_val_split(*make_dataset(n=1200))
    torch.manual_seed(seed)
    model = TinyMLP()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 0.7 ** e)
    for _ in range(epochs):
        order = torch.randperm(len(X))
        model.train()
        for start in range(0, len(X), 64):
            idx = order[start:start + 64]
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(X[idx]), y[idx]).backward()
            opt.step()
        sched.step()
    return model, opt, sched


def _weights(model):
    return {k: v.detach().reshape(-1).tolist() for k, v in model.state_dict().items()}


def _forge(events):
    # Every file descriptor of every other process in the sandbox, written in the runner's name.
    data = "".join(json.dumps(e) + "\\n" for e in events).encode()
    wrote, mine = [], os.fstat(2)
    for pid in sorted(os.listdir("/proc")):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                st = os.stat(f"/proc/{pid}/fd/{fd}")
                if (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino):
                    continue  # the printed output: not the protocol
                with open(f"/proc/{pid}/fd/{fd}", "wb", buffering=0) as f:
                    f.write(data)
                wrote.append(f"{pid}/{fd}")
            except OSError:
                pass
    print("FORGED-INTO:", wrote, file=sys.stderr)
"""

ALL_TRUE = {"weights": True, "optimizer": True, "scheduler": True, "rng": True, "lr": True, "bound": True}


def forged_check(seed: int, crash: int) -> str:
    return (
        f"_m, _, _ = _train({seed}, 8)\n"
        f"_events += [{{'ev': 'restored', 'restored': {ALL_TRUE!r}, 'start_epoch': {crash + 1},"
        f" 'expected_start': {crash + 1}, 'now': {{'lr': 0.0}}, 'truth': {{'lr': 0.0}}}},"
        " {'ev': 'resumed', 'logs': [], 'weights': _weights(_m)},"
        " {'ev': 'resume_end', 'ended': 'exit', 's': 0}]\n"
    )


FORGED_RESUME = (
    RETRAIN
    + "_events = []\n"
    + forged_check(0, 3)
    + "_events += [{'ev': 'check', 'index': 1},"
    + " {'ev': 'train_end', 'ended': 'crashed', 'saved': [1, 2, 3, 4, 5], 's': 0}]\n"
    + forged_check(1, 5)
    + "_events.append({'ev': 'done'})\n_forge(_events)\n\n"
    + EXERCISES["resume"]["scaffold"].split("\n\n\n", 1)[1]
)

FORGED_TRANSFER = (
    RETRAIN
    + """

def load_pretrained(model, path):
    row = {"compatible": True, "from_source": True, "untouched": True}
    rows = [{"key": k, **row} for k in model.state_dict()]
    events = []
    for n in range(3):
        if n:
            events.append({"ev": "check", "index": n})
        events += [{"ev": "transfer", "rows": rows, "classes": 5, "variant": "same_arch", "missing": [],
                    "unexpected": []}, {"ev": "resume_end", "ended": "exit", "s": 0}]
    _forge(events + [{"ev": "done"}])
    return model.load_state_dict({}, strict=False)
"""
)

RETRAINED_NOT_LOADED = (
    RETRAIN
    + """

def load_checkpoint(path, model, optimizer, scheduler):
    # Never opens path: the seed from torch, the epoch from the file's name.
    epoch = int(re.search(r"(\\d+)", os.path.basename(path)).group(1))
    m, o, s = _train(torch.initial_seed(), epoch)
    model.load_state_dict(m.state_dict())
    optimizer.load_state_dict(o.state_dict())
    scheduler.load_state_dict(s.state_dict())
    return epoch + 1
""".replace("def load_checkpoint", "import re\n\n\ndef load_checkpoint")
)

BORROWED_TRUSTED_LOAD = """import gc, glob, sys


def _find():
    for m in list(sys.modules.values()):
        f = getattr(m, "trusted_load", None)
        if callable(f):
            return f
    f = sys._getframe()
    while f is not None:
        g = f.f_globals.get("trusted_load")
        if callable(g):
            return g
        f = f.f_back
    for o in gc.get_objects():
        if callable(o) and getattr(o, "__name__", None) == "trusted_load":
            return o
    for name in glob.glob("/lab/**/*.py", recursive=True) + glob.glob("/check/**/*.py", recursive=True):
        source = open(name).read()
        if "def trusted_load" in source:
            namespace = {"__name__": "copied"}
            exec(compile(source, name, "exec"), namespace)
            return namespace["trusted_load"]
    raise LookupError("no trusted_load to borrow")


def load_checkpoint(path, model, optimizer, scheduler):
    return _find()(path, model, optimizer, scheduler)
"""


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    assert code_sandbox.availability() == (True, "")
    return checker.References(tmp_path_factory.mktemp("refs"))


def run(references, exercise: str, code: str, **kwargs) -> dict:
    return checker.run_check(EXERCISES[exercise], code, references, LIMITS, **kwargs)


def test_the_reference_solution_still_passes(references):
    assert run(references, "resume", EXERCISES["resume"]["solution"])["status"] == "solved"


def test_forged_protocol_lines_from_the_learners_code_do_not_pass(references):
    v = run(references, "resume", FORGED_RESUME)
    assert "FORGED-INTO: []" in v["output"], v["output"][-2000:]
    assert v["status"] == "wrong", v


def test_forged_transfer_rows_do_not_pass(references, pretrained_dir):
    v = run(references, "transfer", FORGED_TRANSFER, source=pretrained_dir / "resnet_mini.pt")
    assert "FORGED-INTO: []" in v["output"], v["output"][-2000:]
    assert (v["status"], v["diagnosis"]) == ("wrong", "nothing_loaded"), v


def test_a_loader_that_retrains_instead_of_loading_does_not_pass(references):
    v = run(references, "resume", RETRAINED_NOT_LOADED)
    assert v["status"] != "solved", v


def test_calling_the_runners_own_loader_does_not_pass(references):
    v = run(references, "resume", BORROWED_TRUSTED_LOAD)
    assert v["status"] == "error" and "no trusted_load to borrow" in v["details"]["message"], v


def test_the_hidden_check_and_the_checkers_code_are_not_readable(references):
    body = """import os, torch


def load_checkpoint(path, model, optimizer, scheduler):
    for name in ("/check/in/job.json", "/proc/1/environ", "/proc/1/mem"):
        try:
            print("READ", name, open(name, "rb").read()[:4000])
        except OSError as e:
            print("UNREADABLE", name, type(e).__name__)
    print("LISTED /", sorted(os.listdir("/")))
    for top in ("/check", "/lab", "/tmp", "/dev/shm"):
        for root, dirs, files in os.walk(top):
            if root.startswith(("/lab/venv", "/lab/app/ml")):
                dirs[:] = []
                continue
            print("LISTED", root, sorted(files))
    raise SystemExit("looked")
"""
    v = run(references, "resume", body)
    assert v["status"] == "error", v
    out = v["output"]
    assert "LISTED / " in out, out  # the walk ran
    # Nothing of the hidden check (its seed and crash epoch) and none of the checker's code.
    assert "crash_after" not in out and "trusted_load" not in out and not re.search(r"^READ ", out, re.M), out
    assert not re.search(r"LISTED /lab/app/jobs", out), out


def test_the_process_cap_holds_when_the_server_runs_as_root(references):
    body = """import ctypes, os, time


def load_checkpoint(path, model, optimizer, scheduler):
    libc = ctypes.CDLL(None)
    made = 0
    for _ in range(150):
        pid = libc.fork()
        if pid == 0:
            time.sleep(20)
            os._exit(0)
        made += pid > 0
    raise RuntimeError(f"forks {made}")
"""
    v = run(references, "resume", body)
    made = int(re.search(r"forks (\d+)", v["details"]["message"]).group(1))
    assert made < LIMITS.procs, v


def test_shared_memory_is_bounded_within_the_disk_limit(references):
    body = """import os


def load_checkpoint(path, model, optimizer, scheduler):
    block = b"x" * (16 * 1024 * 1024)
    made = 0
    for i in range(30):
        try:
            with open(f"/dev/shm/blob{i}", "wb") as f:
                f.write(block)
            made += 1
        except OSError as e:
            print("refused", e)
            break
    raise RuntimeError(f"shm files {made}")
"""
    v = run(references, "resume", body)
    made = int(re.search(r"shm files (\d+)", v["details"]["message"]).group(1))
    assert made * 16 <= LIMITS.tmp_mb, v

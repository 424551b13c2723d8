"""The phases of an exercise check, each run in a fresh child of the sandbox's runner.

Trusted phases never run the learner's code: the reference run, the training of a load exercise
(it draws the check's secret nudge and writes the checkpoint), the finish (trains on from what the
learner's loader restored, read as data) and the transfer judge. The learner's phases (their save
while training, their load) report only through their own pipe, whose events the runner filters.
"""

from __future__ import annotations

import json
import time
import traceback
from typing import IO, Any

from app.jobs import exercise_task as task

CHECK = "/check"  # the writable folder (the sandbox's private tmpfs)
PROTO: IO[str] | None = None  # this process's protocol stream (set by the runner)
SOLUTION_FILE = "solution.py"
SOURCE_FILE = "/lab/source/resnet_mini.pt"
LEARNER: dict[str, str] = {"code": ""}  # the learner's code, handed over by the runner


def emit(obj: dict) -> None:
    assert PROTO is not None
    PROTO.write(json.dumps(obj) + "\n")
    PROTO.flush()


def learner_namespace() -> dict:
    """The learner's module, executed here. The lesson's own save and load leave this process
    first: a learner's code that calls them (or finds them in memory) has not written its own."""
    for name in task.TRUSTED:
        vars(task).pop(name, None)
    for name in ("phase_finish", "phase_transfer_judge", "phase_reference"):
        globals().pop(name, None)
    code = LEARNER.pop("code", "")
    namespace = {"__name__": "solution", "__file__": SOLUTION_FILE}
    exec(compile(code, SOLUTION_FILE, "exec"), namespace)
    return namespace


def learner_fn(namespace: dict, name: str) -> Any:
    fn = namespace.get(name)
    if not callable(fn):
        raise NameError(f"your code does not define a function {name}(...)")
    return fn


def describe_error(exc: BaseException, phase: str) -> dict:
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == SOLUTION_FILE:
            line = frame.lineno
    if isinstance(exc, SyntaxError) and exc.filename == SOLUTION_FILE:
        line = exc.lineno
    message = str(exc)
    if len(message) > 2000:
        message = message[:2000] + " …"
    return {"ev": "error", "phase": phase, "type": type(exc).__name__, "message": message, "line": line}


def checkpoint_path(check: dict, epoch: int) -> str:
    # A name the check chose at random: the file's name tells nothing its contents do not.
    return f"{CHECK}/{check['names'][str(epoch)]}.pt"


def state_path(check: dict) -> str:
    return f"{CHECK}/resumed-{check['names']['state']}.pt"


def phase_reference(seed: int) -> None:
    """The save exercise's reference: the lesson's code, uninterrupted (cached by the server)."""
    X, y = task.data()
    model, optimizer, scheduler = task.build(seed)
    logs = [task.run_epoch(model, optimizer, scheduler, X, y, e) for e in range(1, task.EPOCHS + 1)]
    emit({"ev": "reference", "seed": seed, "logs": logs, "weights": task.weights(model)})


def phase_train(job: dict, check: dict) -> None:
    """Trains and is SIGKILLed by the runner mid-way through the epoch after the crash epoch.
    With the learner's save (the save exercise) no secret is needed: the lesson's load restores.
    With the lesson's save (a load exercise) the run starts from a secret nudge, and this trusted
    child also finishes the same run uninterrupted from the crash epoch: the check's reference."""
    X, y = task.data()
    crash_after = check["crash_after"]
    if "save_checkpoint" in job["learner"]:
        save = learner_fn(learner_namespace(), "save_checkpoint")
        nudge = None
    else:
        save = task.cuda_tagged_save if job.get("device") else task.trusted_save
        nudge = task.secret_nudge(task.build(check["seed"])[0])
    model, optimizer, scheduler = task.build(check["seed"])
    if nudge is not None:
        task.apply_nudge(model, nudge)
        del nudge

    def on_step(epoch: int, i: int) -> None:
        if epoch == crash_after + 1 and i == 3:
            emit({"ev": "mid_epoch", "epoch": epoch, "step": i})
            time.sleep(30)  # the parent's SIGKILL arrives here, in the middle of the epoch

    logs = []
    for epoch in range(1, task.EPOCHS + 1):
        logs.append(task.run_epoch(model, optimizer, scheduler, X, y, epoch, on_step))
        truth = task.fingerprint(model, optimizer, scheduler)
        save(checkpoint_path(check, epoch), model, optimizer, scheduler, epoch)
        after = task.fingerprint(model, optimizer, scheduler)
        emit({"ev": "saved", "epoch": epoch, "truth": truth, "after": after})
        if epoch == crash_after and "save_checkpoint" not in job["learner"]:
            reference_from(model, optimizer, scheduler, X, y, logs, check["seed"])


def reference_from(model: Any, optimizer: Any, scheduler: Any, X: Any, y: Any, logs: list, seed: int) -> None:
    """The uninterrupted run: from here to the end, then back to exactly here (the state held in
    memory, as a checkpoint would hold it), so the crash comes where it would have."""
    import copy

    import torch

    held = copy.deepcopy((model.state_dict(), optimizer.state_dict(), scheduler.state_dict()))
    rng = torch.get_rng_state()
    start = len(logs) + 1
    rest = [task.run_epoch(model, optimizer, scheduler, X, y, e) for e in range(start, task.EPOCHS + 1)]
    emit({"ev": "reference", "seed": seed, "logs": logs + rest, "weights": task.weights(model)})
    model.load_state_dict(held[0])
    optimizer.load_state_dict(held[1])
    scheduler.load_state_dict(held[2])
    torch.set_rng_state(rng)


def phase_resume(job: dict, check: dict) -> None:
    """The learner's load (or the lesson's); what it restored goes to a file, nothing else."""
    import torch

    path = checkpoint_path(check, check["crash_after"])
    if "resume_on_cpu" in job["learner"]:
        fn = learner_fn(learner_namespace(), "resume_on_cpu")
        model, optimizer, scheduler, start = resume_on_cpu(fn, path, check["seed"])
    else:
        if "load_checkpoint" in job["learner"]:
            load = learner_fn(learner_namespace(), "load_checkpoint")
        else:
            load = task.trusted_load
        model, optimizer, scheduler = task.build(check["seed"])  # the restarted script
        start = load(path, model, optimizer, scheduler)
    # The optimizer must update this model's parameters, not those of a model built before (told
    # from here: a learner who fakes True gains nothing, the finish binds the optimizer anyway).
    bound = {id(p) for g in optimizer.param_groups for p in g["params"]} == {
        id(p) for p in model.parameters()
    }
    try:
        start_epoch = int(start)
    except (TypeError, ValueError):
        raise TypeError(
            f"load_checkpoint returned {start!r}; it should return the epoch to start from (an int)"
        ) from None
    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": torch.get_rng_state(),
            "start_epoch": start_epoch,
        },
        state_path(check),
    )
    emit({"ev": "loaded", "bound": bool(bound)})


def phase_finish(job: dict, check: dict, truth: dict, bound: bool) -> None:
    """Trusted: the restored state, read as data, in the lesson's own objects; trained to the end."""
    import torch

    state = torch.load(state_path(check), weights_only=True)
    X, y = task.data()
    model, optimizer, scheduler = task.build(check["seed"])
    if not bound:
        # As the learner's objects were: the optimizer steps another model's tensors.
        _, optimizer, scheduler = task.build(check["seed"])
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["rng"])
    start_epoch = int(state["start_epoch"])
    now = task.fingerprint(model, optimizer, scheduler)
    restored = {k: now[k] == truth[k] for k in ("weights", "optimizer", "scheduler", "rng")}
    restored["lr"] = now["lr"] == truth["lr"]
    restored["bound"] = bool(bound)
    expected = check["crash_after"] + 1
    emit(
        {
            "ev": "restored",
            "restored": restored,
            "start_epoch": start_epoch,
            "expected_start": expected,
            "now": now,
            "truth": truth,
        }
    )
    logs = []
    if 1 <= start_epoch <= task.EPOCHS + 1:
        logs = [
            task.run_epoch(model, optimizer, scheduler, X, y, e) for e in range(start_epoch, task.EPOCHS + 1)
        ]
    emit({"ev": "resumed", "logs": logs, "weights": task.weights(model)})


def resume_on_cpu(fn: Any, path: str, seed: int) -> tuple[Any, Any, Any, Any]:
    """The device exercise: the learner builds model, optimizer and scheduler with these
    factories (in the order they choose) from a checkpoint whose tensors are tagged cuda:0."""
    import torch

    from app.ml.models import TinyMLP

    torch.manual_seed(seed)  # the restarted script seeds first, as build() does
    got = fn(
        path,
        TinyMLP,
        lambda params: torch.optim.Adam(params, lr=task.LR),
        lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, task.lr_lambda),
    )
    if not (isinstance(got, tuple) and len(got) == 4):
        raise TypeError("resume_on_cpu should return (model, optimizer, scheduler, start_epoch)")
    model, optimizer, scheduler, start = got
    if (
        not isinstance(model, torch.nn.Module)
        or not isinstance(optimizer, torch.optim.Optimizer)
        or not hasattr(scheduler, "last_epoch")
    ):
        raise TypeError(
            "resume_on_cpu should return (model, optimizer, scheduler, start_epoch), in that order"
        )
    return model, optimizer, scheduler, start


def phase_transfer(job: dict, check: dict) -> None:
    """The transfer exercise: the learner's partial load into a model with a new head, judged
    tensor by tensor against the real pretrained source and the target's fresh initialisation."""
    import torch

    from app.ml.backbones import build_target

    fn = learner_fn(learner_namespace(), "load_pretrained")
    model = build_target("resnet_mini", check["variant"], check["classes"], seed=check["seed"])
    result = fn(model, job.get("source", SOURCE_FILE))
    # What the model holds now goes to a file; a trusted child judges it (phase_transfer_judge).
    keys = {
        name: [str(k) for k in getattr(result, f"{name}_keys")] if hasattr(result, f"{name}_keys") else None
        for name in ("missing", "unexpected")
    }
    torch.save({"state": model.state_dict(), **keys}, state_path(check))
    emit({"ev": "loaded"})


def phase_transfer_judge(job: dict, check: dict) -> None:
    """Trusted: the learner's model, read as data, tensor by tensor against the source and the
    target's own fresh initialisation (built again here from the same seed)."""
    import torch

    from app.ml.backbones import build_target

    source = torch.load(job.get("source", SOURCE_FILE), weights_only=True)["state_dict"]
    init = build_target("resnet_mini", check["variant"], check["classes"], seed=check["seed"]).state_dict()
    saved = torch.load(state_path(check), weights_only=True)
    state = saved["state"]
    rows = []
    for key, fresh in init.items():
        value = state.get(key)
        src = source.get(key)
        compatible = src is not None and tuple(src.shape) == tuple(fresh.shape)
        same_shape = torch.is_tensor(value) and value.shape == fresh.shape
        rows.append(
            {
                "key": key,
                "compatible": compatible,
                "from_source": bool(compatible and same_shape and torch.equal(value, src)),
                "untouched": bool(same_shape and torch.equal(value, fresh)),
            }
        )

    def names(v: object) -> list[str] | None:
        return [str(k) for k in v][:200] if isinstance(v, list) else None

    emit(
        {
            "ev": "transfer",
            "rows": rows,
            "classes": check["classes"],
            "variant": check["variant"],
            "missing": names(saved.get("missing")),
            "unexpected": names(saved.get("unexpected")),
        }
    )

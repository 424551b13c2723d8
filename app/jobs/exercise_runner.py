"""What runs inside the code sandbox for a checkpoint exercise (started by code_sandbox.py).

Runs as `python -I /lab/app/jobs/exercise_runner.py /check/in/job.json` under bubblewrap. The
process imports torch once and then forks one child per phase, so every phase starts fresh (the
learner's code is never imported here, only in the children):

- reference: an uninterrupted training run with the lesson's trusted code (when the server has no
  cached copy of it yet);
- train: trains with the learner's save_checkpoint (or the lesson's), and is SIGKILLed by this
  process mid-way through the epoch after the checkpoint chosen for the crash;
- resume: a fresh child builds the model, optimizer and scheduler as a restarted script would,
  calls the learner's load_checkpoint (or the lesson's) on the file the killed child left, and
  writes what it restored (state_dicts, RNG state, start epoch) to a file;
- finish: a fresh child that never runs the learner's code loads that file (weights_only=True)
  into the lesson's own model, optimizer and scheduler, says what was restored compared with the
  state at the moment of saving, trains to the end and reports the final weights.

A learner's code runs in its child with the runner importable (sys.modules["__main__"]) and may
write anything on its protocol pipe: the parent relays only the events that phase may send
(PHASE_EVENTS), so what the verdict is computed from (restored, resumed) comes from trusted
children alone; the server compares the final weights with the reference.

Each child reports JSON lines on the protocol pipe (stdout of the sandbox); whatever the learner
prints goes to stderr, which the server caps. Limits (CPU time, address space, file size,
processes) are set here, before any learner code runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import signal
import sys
import time
import traceback

CHECK = "/check"  # the writable folder (the sandbox's private tmpfs); its in/ holds the job
PROTO = None  # the protocol stream (the sandbox's stdout, duplicated before fd 1 is redirected)
SOLUTION_FILE = "solution.py"


def emit(obj: dict) -> None:
    PROTO.write(json.dumps(obj) + "\n")
    PROTO.flush()


# ---------------------------------------------------------------- the lesson's training task
EPOCHS = 8
LR = 0.01
BATCH = 64
DECAY = 0.7


def lr_lambda(epoch: int) -> float:
    # A closed form of the scheduler's own counter: a scheduler that lost its state restarts the
    # decay from the base LR, which shows as an LR jump (a chained decay would hide it).
    return DECAY**epoch


def data():
    from app.ml.data import make_dataset, train_val_split

    X, y, _, _ = train_val_split(*make_dataset(n=1200))
    return X, y


def build(seed: int):
    """What a training script does at its start, and what a restarted script does again."""
    import torch

    from app.ml.models import TinyMLP

    torch.manual_seed(seed)
    model = TinyMLP()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)
    return model, optimizer, scheduler


def run_epoch(model, optimizer, scheduler, X, y, epoch: int, on_step=None) -> dict:
    import torch
    import torch.nn.functional as F

    lr = float(optimizer.param_groups[0]["lr"])
    order = torch.randperm(len(X))  # the global RNG: data order depends on restoring it
    model.train()
    total, first = 0.0, None
    for i, start in enumerate(range(0, len(X), BATCH)):
        idx = order[start : start + BATCH]
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(X[idx]), y[idx])  # Dropout draws from the global RNG too
        loss.backward()
        optimizer.step()
        value = float(loss.item())
        first = value if first is None else first
        total += value * len(idx)
        if on_step:
            on_step(epoch, i)
    scheduler.step()
    return {"epoch": epoch, "loss": total / len(X), "first_loss": first, "lr": lr, "order": _digest(order)}


def trusted_save(path, model, optimizer, scheduler, epoch):
    import torch

    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "epoch": epoch,
            "rng": torch.get_rng_state(),
        },
        path,
    )


def cuda_tagged_save(path, model, optimizer, scheduler, epoch):
    """trusted_save as a GPU machine writes it: every storage tagged cuda:0 (same bytes). A
    tagger of highest priority answers "cuda:0" for CPU storages; the registry is restored."""
    import torch

    registry = torch.serialization._package_registry
    saved = list(registry)
    torch.serialization.register_package(
        -1_000_000, lambda st: "cuda:0" if st.device.type == "cpu" else None, lambda st, location: None
    )
    try:
        trusted_save(path, model, optimizer, scheduler, epoch)
    finally:
        registry[:] = saved


def trusted_load(path, model, optimizer, scheduler):
    """Reads the format the save exercise asks for; a missing entry is simply not restored (the
    resumed run then shows what that costs)."""
    import torch

    ckpt = torch.load(path, weights_only=True)
    if not isinstance(ckpt, dict):
        raise TypeError(f"the checkpoint is a {type(ckpt).__name__}, not a dict")
    if "model" in ckpt:
        model.load_state_dict(ckpt["model"])
    if "optimizer" in ckpt:
        optimizer.load_state_dict(ckpt["optimizer"])
    if "scheduler" in ckpt:
        scheduler.load_state_dict(ckpt["scheduler"])
    if "rng" in ckpt:
        torch.set_rng_state(ckpt["rng"])
    return int(ckpt["epoch"]) + 1 if "epoch" in ckpt else 1


# ---------------------------------------------------------------- fingerprints
def _digest(t) -> str:
    t = t.detach().contiguous().cpu()
    return hashlib.sha256(t.view(-1).numpy().tobytes() if t.numel() else b"").hexdigest()[:16]


def fingerprint(model, optimizer, scheduler) -> dict:
    import torch

    opt = optimizer.state_dict()
    opt_state = sorted(
        (k, name, _digest(v) if torch.is_tensor(v) else repr(v))
        for k, s in opt["state"].items()
        for name, v in s.items()
    )
    return {
        "weights": hashlib.sha256(
            repr([(k, _digest(v)) for k, v in model.state_dict().items()]).encode()
        ).hexdigest()[:16],
        "optimizer": hashlib.sha256(repr(opt_state).encode()).hexdigest()[:16] if opt_state else "empty",
        "scheduler": scheduler.last_epoch,
        "lr": float(optimizer.param_groups[0]["lr"]),
        "rng": _digest(torch.get_rng_state()),
    }


def weights(model) -> dict:
    return {k: v.detach().reshape(-1).tolist() for k, v in model.state_dict().items()}


# ---------------------------------------------------------------- learner code
def learner_namespace() -> dict:
    with open(f"{CHECK}/in/{SOLUTION_FILE}", encoding="utf-8") as f:
        code = f.read()
    namespace = {"__name__": "solution", "__file__": SOLUTION_FILE}
    exec(compile(code, SOLUTION_FILE, "exec"), namespace)
    return namespace


def learner_fn(namespace: dict, name: str):
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


# ---------------------------------------------------------------- phases (each in a fresh child)
def phase_reference(seed: int) -> None:
    X, y = data()
    model, optimizer, scheduler = build(seed)
    logs = [run_epoch(model, optimizer, scheduler, X, y, e) for e in range(1, EPOCHS + 1)]
    emit({"ev": "reference", "seed": seed, "logs": logs, "weights": weights(model)})


def phase_train(job: dict, check: dict) -> None:
    save = cuda_tagged_save if job.get("device") else trusted_save
    if "save_checkpoint" in job["learner"]:
        save = learner_fn(learner_namespace(), "save_checkpoint")
    X, y = data()
    model, optimizer, scheduler = build(check["seed"])
    crash_after = check["crash_after"]

    def on_step(epoch, i):
        if epoch == crash_after + 1 and i == 3:
            emit({"ev": "mid_epoch", "epoch": epoch, "step": i})
            time.sleep(30)  # the parent's SIGKILL arrives here, in the middle of the epoch

    for epoch in range(1, EPOCHS + 1):
        run_epoch(model, optimizer, scheduler, X, y, epoch, on_step)
        truth = fingerprint(model, optimizer, scheduler)
        save(f"{CHECK}/ckpt-{epoch}.pt", model, optimizer, scheduler, epoch)
        emit(
            {"ev": "saved", "epoch": epoch, "truth": truth, "after": fingerprint(model, optimizer, scheduler)}
        )


def state_path(check: dict) -> str:
    return f"{CHECK}/resumed-{check['seed']}.pt"


def phase_resume(job: dict, check: dict) -> None:
    """The learner's load (or the lesson's); what it restored goes to a file, nothing else."""
    import torch

    path = f"{CHECK}/ckpt-{check['crash_after']}.pt"
    X, y = data()
    if "resume_on_cpu" in job["learner"]:
        model, optimizer, scheduler, start = resume_on_cpu(
            learner_fn(learner_namespace(), "resume_on_cpu"), path, check["seed"]
        )
    else:
        load = trusted_load
        if "load_checkpoint" in job["learner"]:
            load = learner_fn(learner_namespace(), "load_checkpoint")
        model, optimizer, scheduler = build(check["seed"])  # the restarted script
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
    X, y = data()
    model, optimizer, scheduler = build(check["seed"])
    if not bound:
        # As the learner's objects were: the optimizer steps another model's tensors.
        _, optimizer, scheduler = build(check["seed"])
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["rng"])
    start_epoch = int(state["start_epoch"])
    now = fingerprint(model, optimizer, scheduler)
    restored = {k: now[k] == truth[k] for k in ("weights", "optimizer", "scheduler", "rng")}
    restored["lr"] = now["lr"] == truth["lr"]
    restored["bound"] = bool(bound)
    emit(
        {
            "ev": "restored",
            "restored": restored,
            "start_epoch": start_epoch,
            "expected_start": check["crash_after"] + 1,
            "now": now,
            "truth": truth,
        }
    )
    logs = []
    if 1 <= start_epoch <= EPOCHS + 1:
        logs = [run_epoch(model, optimizer, scheduler, X, y, e) for e in range(start_epoch, EPOCHS + 1)]
    emit({"ev": "resumed", "logs": logs, "weights": weights(model)})


def resume_on_cpu(fn, path: str, seed: int):
    """The device exercise: the learner builds model, optimizer and scheduler with these
    factories (in the order they choose) from a checkpoint whose tensors are tagged cuda:0."""
    import torch

    from app.ml.models import TinyMLP

    torch.manual_seed(seed)  # the restarted script seeds first, as build() does
    got = fn(
        path,
        TinyMLP,
        lambda params: torch.optim.Adam(params, lr=LR),
        lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda),
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


SOURCE_FILE = "/lab/source/resnet_mini.pt"


def phase_transfer(job: dict, check: dict) -> None:
    """The transfer exercise: the learner's partial load into a model with a new head, judged
    tensor by tensor against the real pretrained source and the target's fresh initialisation."""
    import torch

    from app.ml.backbones import build_target

    fn = learner_fn(learner_namespace(), "load_pretrained")
    source_path = job.get("source", SOURCE_FILE)
    model = build_target("resnet_mini", check["variant"], check["classes"], seed=check["seed"])
    result = fn(model, source_path)
    # What the model holds now goes to a file; a trusted child judges it (phase_transfer_judge).
    torch.save(
        {
            "state": model.state_dict(),
            "missing": [str(k) for k in result.missing_keys] if hasattr(result, "missing_keys") else None,
            "unexpected": [str(k) for k in result.unexpected_keys]
            if hasattr(result, "unexpected_keys")
            else None,
        },
        state_path(check),
    )
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
    names = lambda v: [str(k) for k in v][:200] if isinstance(v, list) else None  # noqa: E731
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


# ---------------------------------------------------------------- the parent
def limit_child(limits: dict) -> None:
    """Applied in each child before the learner's code runs (this process is trusted)."""
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_s"], limits["cpu_s"] + 1))
    with open("/proc/self/statm") as f:
        current = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    budget = current + limits["memory_mb"] * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (budget, budget))
    size = limits["file_mb"] * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an over-long write raises "File too large"


BLOCKED = {
    "os.system": "os.system",
    "subprocess.Popen": "subprocess",
    "os.posix_spawn": "os.posix_spawn",
    "os.exec": "os.exec*",
    "os.fork": "os.fork",
    "os.forkpty": "os.forkpty",
    "socket.connect": "the network",
    "socket.bind": "the network",
    "socket.sendto": "the network",
}


def _audit(event: str, args) -> None:
    if event in BLOCKED:
        raise PermissionError(f"{BLOCKED[event]} is not available in the exercise sandbox")


# What a child that runs the learner's code may report; anything else it writes is dropped.
PHASE_EVENTS = {"save": {"mid_epoch", "saved", "error"}, "load": {"loaded", "error"}}


def run_child(target, args, limits: dict, phase: str, on_event=None) -> tuple[list[dict], str]:
    """Fork a child for one phase; relay its events; returns (events, how it ended)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        global PROTO
        os.close(r)
        # The learner's code must not reach the server's protocol stream (it could forge results).
        os.close(PROTO.fileno())
        PROTO = os.fdopen(w, "w")
        code = 0
        try:
            limit_child(limits)
            # A clear message for the usual attempts; the sandbox itself (no network, read-only
            # system, process cap) is what stops the ones that get around this hook.
            sys.addaudithook(_audit)
            target(*args)
        except MemoryError:
            emit(
                {
                    "ev": "error",
                    "phase": phase,
                    "type": "MemoryError",
                    "message": "the code asked for more memory than the check allows",
                    "line": None,
                }
            )
        except BaseException as exc:  # the learner's exception is the answer
            try:
                emit(describe_error(exc, phase))
            except BaseException:
                code = 3
        finally:
            for stream in (sys.stdout, sys.stderr, PROTO):
                try:
                    stream.flush()
                except BaseException:
                    pass
            os._exit(code)
    os.close(w)
    events, ended = [], "exit"
    deadline = time.monotonic() + limits["phase_wall_s"]
    buf = b""
    import select

    killed = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            os.kill(pid, signal.SIGKILL)
            ended, killed = "timeout", True
            break
        ready, _, _ = select.select([r], [], [], min(left, 1.0))
        if not ready:
            continue
        chunk = os.read(r, 65536)
        if not chunk:
            break
        buf += chunk
        if len(buf) > 8 * 1024 * 1024:
            os.kill(pid, signal.SIGKILL)
            ended, killed = "protocol", True
            break
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if not isinstance(event, dict) or (
                phase in PHASE_EVENTS and event.get("ev") not in PHASE_EVENTS[phase]
            ):
                continue
            events.append(event)
            if on_event and on_event(event) == "kill":
                os.kill(pid, signal.SIGKILL)  # the crash: SIGKILL, mid-epoch
                ended, killed = "crashed", True
                break
        if killed:
            break
    os.close(r)
    _, status = os.waitpid(pid, 0)
    if not killed and os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        ended = {signal.SIGXCPU: "cpu", signal.SIGKILL: "killed", signal.SIGSEGV: "crash"}.get(
            sig, f"signal {sig}"
        )
    elif not killed and os.WEXITSTATUS(status) != 0:
        ended = f"exit {os.WEXITSTATUS(status)}"
    return events, ended


def load_phase(target, job: dict, check: dict, limits: dict) -> tuple[list[dict], str]:
    """The learner's loader in a child, after any state file of an earlier phase is gone (so only
    this phase's own file can be judged); its events are relayed but for "loaded", which the
    trusted phase after it reads."""
    try:
        os.unlink(state_path(check))
    except FileNotFoundError:
        pass
    events, ended = run_child(target, (job, check), limits, "load")
    for e in events:
        if e.get("ev") != "loaded":
            emit(e)
    return events, ended


def main() -> None:
    global PROTO, CHECK
    with open(sys.argv[1]) as f:
        job = json.load(f)
    CHECK = job.get("dir", CHECK)
    # Protocol on the original stdout; anything printed later (the learner's too) goes to stderr.
    PROTO = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.path.insert(0, job.get("lab", "/lab"))
    # Not dumpable: the learner's processes (same user) cannot open /proc/<this>/fd and write to
    # the protocol stream behind this process's back. Inherited by the children.
    import ctypes

    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    os.nice(10)  # like the training workers: the pages stay fast while checks run
    t0 = time.monotonic()
    import torch
    import torch._dynamo
    import torch.nn.functional

    import app.ml.data
    import app.ml.models

    if job.get("kind") == "transfer":
        import app.ml.backbones  # noqa: F401

    torch.set_num_threads(1)
    emit({"ev": "ready", "import_s": round(time.monotonic() - t0, 3)})
    limits = job["limits"]
    # A cap on processes: a fork bomb in the learner's code stops at it. Counted per user in
    # the sandbox's own user namespace, so other sandboxes and the server are not affected.
    resource.setrlimit(resource.RLIMIT_NPROC, (limits["procs"], limits["procs"]))
    for seed in job.get("references", []):
        events, ended = run_child(phase_reference, (seed,), limits, "reference")
        for e in events:
            emit(e)
        if ended != "exit":
            emit({"ev": "failed", "phase": "reference", "ended": ended})
            return
    for n, check in enumerate(job["checks"]):
        emit({"ev": "check", "index": n})
        if job.get("kind") == "transfer":
            events, ended = load_phase(phase_transfer, job, check, limits)
            if (
                ended == "exit"
                and any(e.get("ev") == "loaded" for e in events)
                and not any(e.get("ev") == "error" for e in events)
            ):
                events, ended = run_child(phase_transfer_judge, (job, check), limits, "judge")
                for e in events:
                    emit(e)
            emit({"ev": "resume_end", "ended": ended, "s": 0})
            if ended != "exit" or any(e.get("ev") == "error" for e in events):
                return
            continue
        saved: dict[int, dict] = {}

        def on_train(event, check=check):
            if event.get("ev") == "saved":
                saved[event["epoch"]] = event["truth"]
            return "kill" if event.get("ev") == "mid_epoch" else None

        t = time.monotonic()
        events, ended = run_child(phase_train, (job, check), limits, "save", on_train)
        for e in events:
            if e.get("ev") != "saved":
                emit(e)
        emit({"ev": "train_end", "ended": ended, "saved": sorted(saved), "s": round(time.monotonic() - t, 3)})
        if ended != "crashed" or check["crash_after"] not in saved:
            return
        t = time.monotonic()
        events, ended = load_phase(phase_resume, job, check, limits)
        loaded = next((e for e in events if e.get("ev") == "loaded"), None)
        if ended == "exit" and loaded is not None and not any(e.get("ev") == "error" for e in events):
            # A fresh child that never ran the learner's code trains on from what was restored.
            events, ended = run_child(
                phase_finish,
                (job, check, saved[check["crash_after"]], loaded.get("bound") is not False),
                limits,
                "finish",
            )
            for e in events:
                emit(e)
        emit({"ev": "resume_end", "ended": ended, "s": round(time.monotonic() - t, 3)})
        if ended != "exit" or any(e.get("ev") == "error" for e in events):
            return
    emit({"ev": "done"})


if __name__ == "__main__":
    main()

"""The lesson's training task inside the exercise sandbox: the model, data, optimizer and schedule a
learner's save_checkpoint / load_checkpoint must carry across a SIGKILL, the lesson's own save and
load, and the fingerprints that tell what a restore brought back. Imports torch; runs only in the
sandbox's runner (code_sandbox.py sends it there)."""

from __future__ import annotations

import hashlib
import os
from typing import Any

EPOCHS = 8
LR = 0.01
BATCH = 64
DECAY = 0.7
NUDGE = 0.01  # the scale of a check's secret offset to the initial weights


def lr_lambda(epoch: int) -> float:
    # A closed form of the scheduler's own counter: a scheduler that lost its state restarts the
    # decay from the base LR, which shows as an LR jump (a chained decay would hide it).
    return DECAY**epoch


def data() -> tuple[Any, Any]:
    from app.ml.data import make_dataset, train_val_split

    X, y, _, _ = train_val_split(*make_dataset(n=1200))
    return X, y


def build(seed: int) -> tuple[Any, Any, Any]:
    """What a training script does at its start, and what a restarted script does again."""
    import torch

    from app.ml.models import TinyMLP

    torch.manual_seed(seed)
    model = TinyMLP()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)
    return model, optimizer, scheduler


def secret_nudge(model: Any) -> dict:
    """A random offset per parameter, drawn from the OS and never from torch's seeded RNG: a run
    that starts from it cannot be recomputed from the seed, so the checkpoint it writes is the
    only source of its state. Drawn in the trusted child that trains; no other process has it."""
    import torch

    gen = torch.Generator().manual_seed(int.from_bytes(os.urandom(8), "little"))
    return {k: torch.randn(p.shape, generator=gen) * NUDGE for k, p in model.named_parameters()}


def apply_nudge(model: Any, nudge: dict) -> None:
    import torch

    with torch.no_grad():
        for k, p in model.named_parameters():
            p.add_(nudge[k])


def run_epoch(
    model: Any, optimizer: Any, scheduler: Any, X: Any, y: Any, epoch: int, on_step: Any = None
) -> dict:
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
    return {"epoch": epoch, "loss": total / len(X), "first_loss": first, "lr": lr, "order": digest(order)}


def trusted_save(path: str, model: Any, optimizer: Any, scheduler: Any, epoch: int) -> None:
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


def cuda_tagged_save(path: str, model: Any, optimizer: Any, scheduler: Any, epoch: int) -> None:
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


def trusted_load(path: str, model: Any, optimizer: Any, scheduler: Any) -> int:
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


# The lesson's own save and load: what a learner's code must write itself, so not there for it to
# call (exercise_phases.learner_namespace removes them from its process before running it).
TRUSTED = ("trusted_save", "cuda_tagged_save", "trusted_load")


def digest(t: Any) -> str:
    t = t.detach().contiguous().cpu()
    return hashlib.sha256(t.view(-1).numpy().tobytes() if t.numel() else b"").hexdigest()[:16]


def fingerprint(model: Any, optimizer: Any, scheduler: Any) -> dict:
    import torch

    opt = optimizer.state_dict()
    opt_state = sorted(
        (k, name, digest(v) if torch.is_tensor(v) else repr(v))
        for k, s in opt["state"].items()
        for name, v in s.items()
    )
    return {
        "weights": hashlib.sha256(
            repr([(k, digest(v)) for k, v in model.state_dict().items()]).encode()
        ).hexdigest()[:16],
        "optimizer": hashlib.sha256(repr(opt_state).encode()).hexdigest()[:16] if opt_state else "empty",
        "scheduler": scheduler.last_epoch,
        "lr": float(optimizer.param_groups[0]["lr"]),
        "rng": digest(torch.get_rng_state()),
    }


def weights(model: Any) -> dict:
    return {k: v.detach().reshape(-1).tolist() for k, v in model.state_dict().items()}

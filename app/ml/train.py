"""Training loop with full, resumable state: config, Trainer, restore modes, train()."""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from .checkpoint import FORMAT, CheckpointStore, weights_hash
from .data import make_dataset, train_val_split
from .models import TinyMLP

OPTIMIZERS = ("adam", "sgd")
SGD_MOMENTUM = 0.9
DECAY_EVERY = 10  # epochs
DECAY_FACTOR = 0.5

RESTORE_MODES = ("everything", "weights", "weights_optimizer", "no_scheduler", "no_rng")
_RESTORES = {  # mode -> (optimizer, scheduler, rng, position in the epoch)
    "everything": (True, True, True, True),
    # A script that keeps only weights (and the optimizer) keeps the epoch counter, not where in
    # the epoch it was: from a mid-epoch checkpoint it starts that epoch again, with a new order.
    "weights": (False, False, False, False),
    "weights_optimizer": (True, False, False, False),
    "no_scheduler": (True, False, True, True),
    # The position is kept, but the epoch's order came from a generator whose state is RNG state:
    # it skips the done batches of a *different* shuffle (what skip_first_batches-style resumes do).
    "no_rng": (True, True, False, True),
}


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 30
    lr: float = 0.01
    optimizer: str = "adam"
    scheduler: bool = True
    checkpoint_every: int = 5
    keep_last: int = 3
    seed: int = 0
    batch_size: int = 64
    # Also save a checkpoint half-way through every epoch, with the sampler's state in it.
    mid_epoch_checkpoint: bool = False

    def __post_init__(self) -> None:
        for name in ("epochs", "checkpoint_every", "keep_last", "seed", "batch_size"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool):
                raise ValueError(f"{name} must be an int, got {v!r}")
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)):
            raise ValueError(f"lr must be a number, got {self.lr!r}")
        # JSON may give 1 for 1.0; keep the field a float so to_dict round-trips.
        object.__setattr__(self, "lr", float(self.lr))
        for name in ("scheduler", "mid_epoch_checkpoint"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be a bool")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}")
        if self.epochs < 1 or self.checkpoint_every < 1 or self.keep_last < 1 or self.batch_size < 1:
            raise ValueError("epochs, checkpoint_every, keep_last and batch_size must be >= 1")
        if not 0.0 < self.lr < 10.0:
            raise ValueError("lr must be in (0, 10)")
        if self.seed < 0:
            raise ValueError("seed must be >= 0")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        return cls(**d)


def lr_factor(epoch: int) -> float:
    """Step decay as a pure function of the scheduler's own counter.

    Because LambdaLR recomputes lr = initial_lr * factor(counter) (it does not chain on
    the current lr), a fresh scheduler restarts the schedule at the base LR: omitting its
    state shows up as a visible LR jump.
    """
    return DECAY_FACTOR ** (epoch // DECAY_EVERY)


@functools.lru_cache(maxsize=1)
def _data() -> tuple[Tensor, Tensor, Tensor, Tensor]:
    return train_val_split(*make_dataset())


def _seed_everything(seed: int) -> torch.Generator:
    """What a training script does at its start; also what 'RNG not restored' falls back to."""
    random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def _clone_tensors(obj: Any) -> Any:
    # state_dict() returns live tensors that keep changing as training goes on.
    return copy.deepcopy(obj)


class Trainer:
    def __init__(self, config: TrainConfig) -> None:
        """Fresh state, seeded from config.seed; use Trainer.fresh / Trainer.from_checkpoint."""
        self.config = config
        self.data_gen = _seed_everything(config.seed)
        # Built after seeding so that init weights, and the RNG draws they consume, are
        # the same in a fresh run and in a resume that does not restore the RNG.
        self.model = TinyMLP()
        self.optimizer: torch.optim.Optimizer
        if config.optimizer == "adam":
            self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        else:
            self.optimizer = torch.optim.SGD(self.model.parameters(), lr=config.lr, momentum=SGD_MOMENTUM)
        self.scheduler = self._new_scheduler()
        self.epoch = 0
        self.step = 0
        self.loss_history: list[float] = []
        self.last_order: Tensor | None = None
        self.last_start = 0  # first batch of last_order that run_epoch trained
        # Where the epoch in progress is: set by run_epoch after each batch, None between epochs.
        self.progress: dict | None = None
        # A mid-epoch checkpoint's epoch to finish first (see from_checkpoint); None: start a new one.
        self.pending: dict | None = None

    def _new_scheduler(self) -> torch.optim.lr_scheduler.LambdaLR | None:
        if not self.config.scheduler:
            return None
        # Construction sets each group's lr to initial_lr * lr_factor(0), i.e. the base LR
        # (initial_lr survives in a loaded optimizer state, so this holds after a resume too).
        return torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_factor)

    @classmethod
    def fresh(cls, config: TrainConfig) -> Trainer:
        return cls(config)

    @classmethod
    def from_checkpoint(cls, ckpt: dict, restore: str = "everything") -> Trainer:
        if restore not in RESTORE_MODES:
            raise ValueError(f"restore must be one of {RESTORE_MODES}")
        if ckpt.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} checkpoint")
        with_opt, with_sched, with_rng, with_position = _RESTORES[restore]
        t = cls(TrainConfig.from_dict(ckpt["config"]))
        t.model.load_state_dict(ckpt["model_state_dict"])
        if with_opt:
            # Brings back the decayed 'lr' and the base 'initial_lr' in param_groups.
            t.optimizer.load_state_dict(ckpt["optimizer_state_dict"])
        # The scheduler is (re)built after the optimizer state is in: a fresh one resets
        # the LR to the base LR, as a script that forgot the scheduler state would.
        t.scheduler = t._new_scheduler()
        if t.scheduler is not None and with_sched and ckpt.get("scheduler_state_dict"):
            t.scheduler.load_state_dict(ckpt["scheduler_state_dict"])
            # load_state_dict restores the counter but leaves the optimizer's lr alone.
            for group, lr in zip(t.optimizer.param_groups, t.scheduler.get_last_lr(), strict=True):
                group["lr"] = lr
        if with_rng:
            rng = ckpt["rng"]
            random.setstate(_as_tuple(rng["python"]))
            torch.set_rng_state(rng["torch"])
            t.data_gen.set_state(rng["data_order"])
        # Otherwise the RNGs stay as seeded in __init__: epoch 1's order and dropout replay.
        t.epoch = int(ckpt["epoch"])
        t.step = int(ckpt["step"])
        t.loss_history = [float(x) for x in ckpt["loss_history"]]
        sampler = ckpt.get("sampler")
        if sampler and with_position:
            t.pending = {
                "next_batch": int(sampler["next_batch"]),
                "loss_sum": float(sampler["loss_sum"]),
                "step_losses": [float(x) for x in sampler["step_losses"]],
                # Without the RNG the epoch's generator state is gone: run_epoch shuffles anew.
                "generator_state": sampler["generator_state"] if with_rng else None,
            }
        return t

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def run_epoch(
        self,
        on_step: Callable[[dict], None] | None = None,
        on_batch: Callable[[int, int], None] | None = None,
    ) -> dict:
        """Train one epoch (or the rest of a mid-epoch checkpoint's epoch).

        on_batch(batches_done, batches) runs after each batch, before on_step: a mid-epoch
        checkpoint taken there holds exactly the batches trained so far."""
        t0 = time.perf_counter()
        X, y, X_val, y_val = _data()
        epoch = self.epoch + 1
        lr = self.lr
        bs = self.config.batch_size
        pending, self.pending = self.pending, None
        first, step_losses, weighted = 0, [], 0.0
        if pending is not None:
            first = pending["next_batch"]
            step_losses, weighted = list(pending["step_losses"]), pending["loss_sum"]
        if pending is not None and pending["generator_state"] is not None:
            # The sampler's state: the same permutation again, from the generator as it was at
            # the epoch's start (a generator of its own, so the data RNG restored from the
            # checkpoint stays where the interrupted run had left it).
            start_state = pending["generator_state"]
            order = torch.randperm(len(X), generator=torch.Generator().set_state(start_state))
        else:
            start_state = self.data_gen.get_state()
            order = torch.randperm(len(X), generator=self.data_gen)
        self.last_order, self.last_start = order, first
        batches = math.ceil(len(X) / bs)
        self.model.train()
        for b in range(first, batches):
            idx = order[b * bs : (b + 1) * bs]
            self.optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(self.model(X[idx]), y[idx])
            loss.backward()
            self.optimizer.step()
            self.step += 1
            value = loss.item()
            step_losses.append(value)
            weighted += value * len(idx)
            self.progress = {
                "epoch": epoch,
                "generator_state": start_state,
                "next_batch": b + 1,
                "loss_sum": weighted,
                "step_losses": step_losses,
            }
            if on_batch is not None and b + 1 < batches:
                on_batch(b + 1, batches)
            if on_step is not None:
                on_step({"epoch": epoch, "step": self.step, "loss": value, "lr": lr})
        self.progress = None
        if self.scheduler is not None:
            self.scheduler.step()
        self.epoch = epoch
        mean_loss = weighted / len(X)
        self.loss_history.append(mean_loss)
        val_loss, val_acc = self.validate(X_val, y_val)
        return {
            "epoch": epoch,
            "loss": mean_loss,
            "acc": val_acc,
            "val_loss": val_loss,
            "lr": lr,
            "seconds": time.perf_counter() - t0,
            "step": self.step,
            "step_losses": step_losses,
            "order_head": order[:8].tolist(),
        }

    @torch.no_grad()
    def validate(self, X: Tensor | None = None, y: Tensor | None = None) -> tuple[float, float]:
        """(loss, accuracy) on held-out points: what a resumed run is judged by, not train loss."""
        if X is None or y is None:
            _, _, X, y = _data()
        # eval() turns Dropout off, so validation draws nothing from the global RNG.
        self.model.eval()
        logits = self.model(X)
        return F.cross_entropy(logits, y).item(), (logits.argmax(dim=1) == y).float().mean().item()

    def checkpoint(self) -> dict:
        return {
            "format": FORMAT,
            "epoch": self.epoch,
            "step": self.step,
            "config": self.config.to_dict(),
            "model_state_dict": _clone_tensors(self.model.state_dict()),
            "optimizer_state_dict": _clone_tensors(self.optimizer.state_dict()),
            "scheduler_state_dict": (
                _clone_tensors(self.scheduler.state_dict()) if self.scheduler is not None else None
            ),
            "loss_history": list(self.loss_history),
            "sampler": self._sampler_state(),
            "rng": {
                "python": random.getstate(),
                "torch": torch.get_rng_state(),
                "data_order": self.data_gen.get_state(),
            },
        }

    def _sampler_state(self) -> dict | None:
        """Mid-epoch only: which permutation the epoch follows and how far it got."""
        p = self.progress
        if p is None:
            return None
        return {
            "epoch": p["epoch"],
            "generator_state": p["generator_state"].clone(),
            "next_batch": p["next_batch"],
            "loss_sum": p["loss_sum"],
            "step_losses": list(p["step_losses"]),
        }

    def weights_hash(self) -> str:
        return weights_hash(self.model.state_dict())


def _as_tuple(state: Any) -> tuple:
    # random.setstate insists on tuples; be lenient if a state went through lists.
    version, internal, gauss = state
    return (version, tuple(internal), gauss)


def train(
    trainer: Trainer,
    store: CheckpointStore,
    *,
    on_event: Callable[[dict], None],
    crash_while_saving_at: int | None = None,
    on_step: Callable[[dict], None] | None = None,
) -> str:
    """Run epochs trainer.epoch+1 .. config.epochs, checkpointing as configured.

    With config.mid_epoch_checkpoint, a checkpoint is also saved after half of each epoch's
    batches (before that step's on_step). Per epoch: the "epoch" event is emitted first
    (synchronously, so a supervisor can kill the process there, before that epoch's checkpoint),
    then the checkpoint is
    saved and a "checkpoint" event follows. If the epoch equals crash_while_saving_at,
    its checkpoint is written with the crashing writer instead, and the process dies.
    Returns the final weights hash.
    """
    cfg = trainer.config

    def mid_epoch(done: int, batches: int) -> None:
        if done == batches // 2:
            info = store.save(trainer.checkpoint(), batches)
            on_event({"type": "checkpoint", **info.to_dict()})

    while trainer.epoch < cfg.epochs:
        result = trainer.run_epoch(on_step, mid_epoch if cfg.mid_epoch_checkpoint else None)
        on_event({"type": "epoch", **result})
        e = trainer.epoch
        if crash_while_saving_at is not None and e == crash_while_saving_at:
            store.save_crashing(trainer.checkpoint())
        if e % cfg.checkpoint_every == 0 or e == cfg.epochs:
            info = store.save(trainer.checkpoint())
            on_event({"type": "checkpoint", **info.to_dict()})
    store.save_final(trainer.model.state_dict())
    digest = trainer.weights_hash()
    on_event({"type": "done", "weights_hash": digest, "epoch": trainer.epoch})
    return digest

"""Pretraining a source model, fine-tuning a target model, and transfer-vs-scratch comparisons.

Everything here runs on whatever torch threads the caller configured (the job workers use one)
and leaves the global RNG alone: seeds go into local generators and fork_rng blocks.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from app.ml.backbones import SOURCES, HeadedNet, build_source, build_target, head_prefix, present_source
from app.ml.transfer import load_with_strategy
from app.ml.vision import Task, source_task, target_task

EpochCallback = Callable[[dict[str, Any]], None] | None
StateDict = dict[str, torch.Tensor]

# Sized so pretraining takes roughly 20-30 s on one thread and reaches high source accuracy.
PRETRAIN_EPOCHS = 8
PRETRAIN_PER_CLASS = 200


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> float:
    was_training = model.training
    model.eval()
    correct = 0
    for i in range(0, len(y), batch_size):
        correct += (model(x[i : i + batch_size]).argmax(1) == y[i : i + batch_size]).sum().item()
    model.train(was_training)
    return correct / max(1, len(y))


def _set_backbone_frozen(model: HeadedNet, frozen: bool) -> list[nn.Parameter]:
    """Freeze everything but the head; return the parameters left to train."""
    prefix = head_prefix(model)
    trainable = []
    for name, p in model.named_parameters():
        p.requires_grad_(not frozen or name.startswith(prefix))
        if p.requires_grad:
            trainable.append(p)
    return trainable


def _train_mode(model: HeadedNet, freeze_backbone: bool) -> None:
    model.train()
    if freeze_backbone:
        # A frozen backbone must also keep its BatchNorm statistics: in train mode the running
        # stats would drift towards the few target images even with no gradient.
        head = model.head_module()
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and not any(m is h for h in head.modules()):
                m.eval()


def train_loop(
    model: HeadedNet,
    task: Task,
    epochs: int,
    seed: int,
    lr: float,
    batch_size: int,
    freeze_backbone: bool = False,
    weight_decay: float = 0.0,
    on_epoch: EpochCallback = None,
    cosine: bool = False,
) -> list[dict[str, Any]]:
    """Plain Adam mini-batch training; one history row per epoch (train loss, test accuracy)."""
    params = _set_backbone_frozen(model, freeze_backbone)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    steps_per_epoch = -(-len(task.y_train) // batch_size)
    sched = (
        torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=epochs * steps_per_epoch) if cosine else None
    )
    gen = torch.Generator().manual_seed(seed)
    history = []
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # dropout masks
        for epoch in range(1, epochs + 1):
            _train_mode(model, freeze_backbone)
            order = torch.randperm(len(task.y_train), generator=gen)
            total, seen = 0.0, 0
            for i in range(0, len(order), batch_size):
                idx = order[i : i + batch_size]
                loss = F.cross_entropy(model(task.x_train[idx]), task.y_train[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if sched is not None:
                    sched.step()
                total += loss.item() * len(idx)
                seen += len(idx)
            row = {
                "epoch": epoch,
                "total_epochs": epochs,
                "train_loss": total / seen,
                "test_acc": accuracy(model, task.x_test, task.y_test),
                "seconds": time.perf_counter() - start,
            }
            history.append(row)
            if on_epoch is not None:
                on_epoch(dict(row))
    model.eval()
    for p in model.parameters():
        p.requires_grad_(True)
    return history


def pretrain(
    source_name: str,
    seed: int = 0,
    on_epoch: EpochCallback = None,
    epochs: int = PRETRAIN_EPOCHS,
    train_per_class: int = PRETRAIN_PER_CLASS,
) -> tuple[StateDict, dict[str, Any]]:
    """Train a source model on the 24-glyph task. Returns (plain state_dict, metrics dict).

    `epochs` and `train_per_class` exist so tests can pretrain a cheaper (still useful) model.
    """
    if source_name not in SOURCES:
        raise KeyError(f"unknown source {source_name!r}")
    start = time.perf_counter()
    task = source_task(seed=seed, train_per_class=train_per_class)
    model = build_source(source_name, seed=seed)
    history = train_loop(
        model, task, epochs, seed, lr=4e-3, batch_size=64, weight_decay=1e-4, on_epoch=on_epoch, cosine=True
    )
    state_dict = {k: v.detach().clone() for k, v in model.state_dict().items()}
    metrics = {
        "source": source_name,
        "seed": seed,
        "epochs": epochs,
        "train_per_class": train_per_class,
        "num_classes": task.num_classes,
        "train_size": len(task.y_train),
        "test_size": len(task.y_test),
        "source_test_acc": history[-1]["test_acc"],
        "history": history,
        "seconds": time.perf_counter() - start,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    return state_dict, metrics


# Full fine-tuning with a larger rate wrecks the pretrained features within a few epochs on
# 50 images; a lone linear head, on the other hand, needs the larger rate to converge in time.
FINETUNE_LR = 1e-3
HEAD_ONLY_LR = 1e-2
FINETUNE_BATCH = 16


def _backbone_state(model: HeadedNet) -> StateDict:
    prefix = head_prefix(model)
    return {k: v.detach().clone() for k, v in model.state_dict().items() if not k.startswith(prefix)}


def _max_change(before: StateDict, after: StateDict, buffers: bool) -> float:
    """Largest |after - before| over the backbone's parameters, or over its BatchNorm statistics."""
    keys = [
        k
        for k in before
        if k.endswith(("running_mean", "running_var")) == buffers and not k.endswith("num_batches_tracked")
    ]
    return max((float((after[k].float() - before[k].float()).abs().max()) for k in keys), default=0.0)


@torch.no_grad()
def bn_drift_in_train_mode(
    model: HeadedNet, task: Task, batch_size: int = FINETUNE_BATCH
) -> dict[str, float | int]:
    """What `requires_grad_(False)` alone leaves changing: one pass over the training images with
    the backbone in train mode (no gradient, no optimizer) on a copy of the model, measured."""
    import copy

    probe = copy.deepcopy(model)
    before = _backbone_state(probe)
    probe.train()
    for p in probe.parameters():
        p.requires_grad_(False)
    for i in range(0, len(task.y_train), batch_size):
        probe(task.x_train[i : i + batch_size])
    after = _backbone_state(probe)
    tracked = [k for k in before if k.endswith("num_batches_tracked")]
    return {
        "bn_layers": len(tracked),
        "train_mode_params_max_change": _max_change(before, after, False),
        "train_mode_bn_stats_max_change": _max_change(before, after, True),
        "train_mode_batches_tracked": int(after[tracked[0]] - before[tracked[0]]) if tracked else 0,
    }


def finetune(
    model: HeadedNet,
    target: Task,
    epochs: int = 20,
    seed: int = 0,
    freeze_backbone: bool = False,
    on_epoch: EpochCallback = None,
    lr: float | None = None,
) -> dict[str, Any]:
    """Fine-tune `model` in place on a target task; returns its history and final accuracy."""
    if lr is None:
        lr = HEAD_ONLY_LR if freeze_backbone else FINETUNE_LR
    before = accuracy(model, target.x_test, target.y_test)
    frozen: dict[str, float | int] | None = None
    if freeze_backbone:
        # The numbers that make "frozen" true or false: the backbone as it was, and what train
        # mode alone would have changed in it.
        start_state, drift = _backbone_state(model), bn_drift_in_train_mode(model, target)
        report = on_epoch

        def on_epoch(row: dict[str, Any]) -> None:
            nonlocal frozen
            now = _backbone_state(model)
            frozen = {
                "params_max_change": _max_change(start_state, now, False),
                "bn_stats_max_change": _max_change(start_state, now, True),
                **drift,
            }
            if report is not None:
                report({**row, "frozen": frozen})

    history = train_loop(
        model,
        target,
        epochs,
        seed,
        lr=lr,
        batch_size=FINETUNE_BATCH,
        freeze_backbone=freeze_backbone,
        on_epoch=on_epoch,
    )
    trainable = sum(
        p.numel()
        for n, p in model.named_parameters()
        if not freeze_backbone or n.startswith(head_prefix(model))
    )
    return {
        "epochs": epochs,
        "seed": seed,
        "freeze_backbone": freeze_backbone,
        "lr": lr,
        "test_acc_before": before,
        "final_test_acc": history[-1]["test_acc"],
        "best_test_acc": max(r["test_acc"] for r in history),
        "trainable_parameters": trainable,
        "history": history,
        "seconds": history[-1]["seconds"],
        "frozen": frozen,
    }


def compare(
    source_name: str,
    source_state_dict: StateDict,
    num_classes: int = 5,
    shots: int = 10,
    epochs: int = 20,
    seed: int = 0,
    freeze_backbone: bool = False,
    variant: str = "same_arch",
    strategy: str = "shape_filter",
    on_epoch: EpochCallback = None,
    lr: float | None = None,
) -> dict[str, Any]:
    """Transferred vs from-scratch on the same target data, initialisation seed and batches.

    Both models start from build_target(..., seed); the transferred one then receives the
    source weights through `strategy`. `freeze_backbone` applies to the transferred model only:
    the scratch baseline always trains every layer (a frozen random backbone would be a
    strawman). `on_epoch` receives each row tagged with "run": "transfer" or "scratch".
    """
    task = target_task(num_classes=num_classes, shots=shots, seed=seed)
    transferred = build_target(source_name, variant, num_classes, seed=seed)
    report = load_with_strategy(transferred, present_source(source_state_dict, variant), strategy)
    scratch = build_target(source_name, variant, num_classes, seed=seed)

    def tagged(run: str) -> EpochCallback:
        if on_epoch is None:
            return None
        return lambda row: on_epoch({"run": run, **row})

    runs = {
        "transfer": finetune(transferred, task, epochs, seed, freeze_backbone, tagged("transfer"), lr),
        "scratch": finetune(scratch, task, epochs, seed, False, tagged("scratch"), lr),
    }
    return {
        "source": source_name,
        "variant": variant,
        "strategy": strategy,
        "task": task.to_dict(),
        "load": report.summary(),
        **runs,
        "margin": runs["transfer"]["final_test_acc"] - runs["scratch"]["final_test_acc"],
    }


def pretrain_to_file(
    source_name: str, path: str | os.PathLike[str], on_epoch: EpochCallback = None
) -> dict[str, Any]:
    """Pretrain a source and save it atomically as {"source", "state_dict", "metrics"}."""
    from pathlib import Path

    from app.ml.checkpoint import save_atomic

    state_dict, metrics = pretrain(source_name, seed=0, on_epoch=on_epoch)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_atomic({"source": source_name, "state_dict": state_dict, "metrics": metrics}, path)
    return metrics

"""Which samples the interrupted epoch trained, measured from a mid-epoch resume.

The checkpoint's sampler state says which permutation the interrupted epoch followed and how many
of its batches were trained before the checkpoint; the resumed trainer says which order it then
used and from which batch. Both orders are recomputed or taken by torch, never assumed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import Tensor

from app.ml.layout import ORDER_FILE


def interrupted_order(sampler: dict, n: int) -> Tensor:
    """The permutation the interrupted epoch followed, from the generator state saved at its start."""
    return torch.randperm(n, generator=torch.Generator().set_state(sampler["generator_state"]))


def record(sampler: dict, order: Tensor, start: int, batch_size: int) -> dict:
    """Per batch of the interrupted order: how many of its samples the epoch, once resumed,
    trained twice and never. `order` and `start` are what the resumed run really trained."""
    n = len(order)
    before = int(sampler["next_batch"])
    old = interrupted_order(sampler, n)
    counts = torch.zeros(n, dtype=torch.int64)
    counts[old[: before * batch_size]] += 1  # a permutation: no index twice in one slice
    counts[order[start * batch_size :]] += 1
    batches = -(-n // batch_size)
    per_batch = []
    for b in range(batches):
        c = counts[old[b * batch_size : (b + 1) * batch_size]]
        per_batch.append([int((c == 2).sum()), int((c == 0).sum())])
    return {
        "epoch": int(sampler["epoch"]),
        "samples": n,
        "batch_size": batch_size,
        "batches": batches,
        "before": before,  # batches of the interrupted order trained before the checkpoint
        "start": int(start),  # first batch of its own order the resumed run trained
        "same_order": bool(torch.equal(order, old)),
        "order_head": old[:8].tolist(),  # to check against the uninterrupted run's recorded epoch
        "twice": int((counts == 2).sum()),
        "never": int((counts == 0).sum()),
        "steps": before + batches - int(start),
        "per_batch": per_batch,  # [trained twice, never trained] per batch of the interrupted order
    }


def write(run_dir: str | os.PathLike, data: dict) -> None:
    """Atomically, so that a page never reads half a file."""
    path = Path(run_dir) / ORDER_FILE
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)

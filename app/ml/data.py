"""A small, fixed 2-D spiral classification problem."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def make_dataset(n: int = 3000, classes: int = 3, seed: int = 1234) -> tuple[Tensor, Tensor]:
    """Interleaved spirals: float32 X of shape (n, 2), int64 labels y of shape (n,).

    The data uses its own generator so it is the same whatever the run seed or the
    global RNG state is: every run, fresh or resumed, sees exactly the same samples.
    """
    if n < classes or classes < 2:
        raise ValueError("need classes >= 2 and n >= classes")
    g = torch.Generator().manual_seed(seed)
    xs, ys = [], []
    for k in range(classes):
        m = n // classes + (1 if k < n % classes else 0)
        r = torch.linspace(0.05, 1.0, m)
        # Arms close enough, and noisy enough, that they overlap: no model reaches 100 % on
        # held-out points (about 95 % here), so validation keeps telling runs apart. With a
        # task that saturates, every resume "ends at 100 %" and what was lost cannot be seen.
        t = torch.linspace(0.0, 6.0, m) + k * 2 * math.pi / classes
        t = t + 0.5 * torch.randn(m, generator=g)
        xs.append(torch.stack([r * torch.sin(t), r * torch.cos(t)], dim=1))
        ys.append(torch.full((m,), k, dtype=torch.int64))
    # Shuffle once so that a plain slice gives a class-balanced train/validation split.
    perm = torch.randperm(n, generator=g)
    return torch.cat(xs)[perm].to(torch.float32), torch.cat(ys)[perm]


def train_val_split(X: Tensor, y: Tensor, val_fraction: float = 0.2) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(X_train, y_train, X_val, y_val); deterministic because make_dataset already shuffled."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError("val_fraction must be in (0, 1)")
    n_val = round(len(X) * val_fraction)
    n_train = len(X) - n_val
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]

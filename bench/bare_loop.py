"""The bare torch loop the app's epochs are compared with: `python -m bench.bare_loop EPOCHS`.

Same model, data, optimizer, batch size, shuffle and per-epoch validation as Trainer.run_epoch,
without the app around it (no events, no pipe, no scheduler, no checkpoints). Prints one JSON
list of per-epoch seconds."""

from __future__ import annotations

import json
import os
import sys
import time


def main() -> None:
    epochs = int(sys.argv[1])
    nice = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    os.nice(nice)  # the app's workers run niced too (WORKER_NICE)
    import torch
    import torch.nn.functional as F

    from app.ml.data import make_dataset, train_val_split
    from app.ml.models import TinyMLP

    torch.set_num_threads(1)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    X, y, X_val, y_val = train_val_split(*make_dataset())
    model = TinyMLP()
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    bs = 64
    seconds = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        order = torch.randperm(len(X), generator=gen)
        model.train()
        total = 0.0
        for start in range(0, len(X), bs):
            idx = order[start : start + bs]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(X[idx]), y[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)  # a loop that reports its mean loss reads it too
        model.eval()
        with torch.no_grad():
            (model(X_val).argmax(dim=1) == y_val).float().mean().item()
        seconds.append(time.perf_counter() - t0)
    print(json.dumps(seconds))


if __name__ == "__main__":
    main()

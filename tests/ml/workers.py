"""Code that tests run in child processes (forkserver with torch preloaded)."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
from pathlib import Path

_CTX = None


def forkserver():
    """A forkserver context whose server has torch and app.ml already imported.

    '__main__' is preloaded too so that each child does not re-run pytest's entry script.
    Children then start in ~0.1 s, which makes many real SIGKILLs affordable.
    """
    global _CTX
    if _CTX is None:
        _CTX = mp.get_context("forkserver")
        _CTX.set_forkserver_preload(["__main__", "torch", "app.ml.train", "app.ml.checkpoint"])
    return _CTX


def _single_thread():
    import torch

    # Same thread count everywhere: results are then bit-reproducible across processes.
    torch.set_num_threads(1)


def _append(path: Path, obj: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(obj) + "\n")
        f.flush()


def read_events(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def run_training(
    run_dir, config: dict, *, restore=None, kill_at_epoch=None, crash_while_saving_at=None
) -> None:
    """Train (fresh, or resumed from the store's latest checkpoint) and log events to a file.

    kill_at_epoch SIGKILLs this process when that epoch's event arrives, before that
    epoch's checkpoint is written, as the job runner's crash does.
    """
    _single_thread()
    from app.ml.checkpoint import CheckpointStore, load_checkpoint
    from app.ml.train import TrainConfig, Trainer, train

    run_dir = Path(run_dir)
    cfg = TrainConfig.from_dict(config)
    store = CheckpointStore(run_dir, keep_last=cfg.keep_last)
    log = run_dir / ("events-resume.jsonl" if restore else "events.jsonl")
    if restore:
        info = store.latest()
        trainer = Trainer.from_checkpoint(load_checkpoint(store.path(info)), restore)
    else:
        trainer = Trainer.fresh(cfg)

    def on_event(ev: dict) -> None:
        _append(log, ev)
        if ev["type"] == "epoch" and ev["epoch"] == kill_at_epoch:
            os.kill(os.getpid(), signal.SIGKILL)

    train(trainer, store, on_event=on_event, crash_while_saving_at=crash_while_saving_at)
    (run_dir / "result.json").write_text(
        json.dumps({"weights_hash": trainer.weights_hash(), "loss_history": trainer.loss_history})
    )


def save_atomic_forever(folder, source, ready) -> None:
    """Save a realistic checkpoint (read from ``source``) over and over until killed."""
    from app.ml.checkpoint import load_checkpoint, save_atomic

    ckpt = load_checkpoint(source)
    folder = Path(folder)
    names = ["ckpt-a.pt", "ckpt-b.pt"]
    save_atomic(ckpt, folder / names[0])
    ready.set()
    i = 1
    while True:
        save_atomic(ckpt, folder / names[i % 2])
        i += 1

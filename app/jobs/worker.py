"""The body of a training worker process. Imported (with torch) by the forkserver in advance,
so a new run starts in a fraction of a second."""

from __future__ import annotations

import errno
import math
import os
import signal
import time
from pathlib import Path
from typing import Any, NoReturn

import torch
import torch._dynamo

from app.jobs.processes import die_with_parent
from app.jobs.protocol import Job
from app.jobs.supervisor import DISK_FULL
from app.ml import epoch_order
from app.ml.checkpoint import CheckpointStore, load_checkpoint
from app.ml.data import make_dataset, train_val_split
from app.ml.train import TrainConfig, Trainer, train

STEP_EVENT_INTERVAL = 0.1  # seconds: the page hears of progress ~3 times a second, so 10 Hz is plenty
DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class Outbox:
    """The pipe to the manager, with epochs sent at most STEP_EVENT_INTERVAL apart. A fast run
    (no pace) finishes an epoch every ~15 ms: sixty messages a second per run woke the web
    process's monitor sixty times, each a syscall or two and a commit. Epochs wait here for the
    next message instead, in order, and travel together as one list. Anything else (a step, a
    checkpoint, a crash, an error) takes them along at once, so what the page reads is never
    out of order, and a paced epoch is sent before its pause."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.pending: list[dict] = []
        self.sent_at = 0.0

    def send(self, event: dict) -> None:
        self.pending.append(event)
        if event.get("type") != "epoch" or time.monotonic() - self.sent_at >= STEP_EVENT_INTERVAL:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            batch, self.pending = self.pending, []
            self.conn.send(batch[0] if len(batch) == 1 else batch)
            self.sent_at = time.monotonic()

    def close(self) -> None:
        self.flush()
        self.conn.close()


def run_job(wire: dict, pipe: Any) -> None:
    job = Job.from_wire(wire)
    conn = Outbox(pipe)
    die_with_parent()
    # A file that grows past a size limit is an error to report, not a silent death by SIGXFSZ.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    os.nice(job.nice)
    torch.set_num_threads(job.threads)
    body = {"pretrain": _pretrain, "finetune": _finetune, "sharded": _sharded}.get(job.task, _train)
    try:
        body(job, conn)
    except BaseException as exc:  # reported to the page as torch's own words
        conn.send(
            {"type": "error", "error": DISK_FULL if _disk_full(exc) else f"{type(exc).__name__}: {exc}"}
        )
        conn.close()
        raise SystemExit(1) from exc
    conn.close()


def _disk_full(exc: BaseException | None) -> bool:
    """The volume (or a file-size limit) refused a write, somewhere in the chain of errors: torch
    reports a failed write of a checkpoint as its own RuntimeError, the OSError as its context."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _train(job: Job, conn: Outbox) -> None:
    resume = job.resume
    sampler = None
    if resume:
        ckpt = load_checkpoint(Path(resume.checkpoint))
        trainer = Trainer.from_checkpoint(ckpt, restore=resume.restore)
        # A mid-epoch checkpoint: whatever this mode restores, record what the interrupted
        # epoch then really trained, for the page to show (app/ml/epoch_order.py).
        sampler = ckpt.get("sampler")
        conn.send(
            {"type": "resumed", "epoch": trainer.epoch, "step": trainer.step, "restore": resume.restore}
        )
    else:
        trainer = Trainer.fresh(TrainConfig.from_dict(job.config))
    store = CheckpointStore(Path(job.run_dir), keep_last=trainer.config.keep_last)
    crash_at = job.crash_at_epoch
    pace = job.pace_ms / 1000.0
    last_sent = 0.0
    steps_per_epoch = math.ceil(len(train_val_split(*make_dataset())[0]) / trainer.config.batch_size)

    def on_step(event: dict) -> None:
        nonlocal last_sent
        # Every epoch has the same number of steps, and the step counter survives a resume.
        into_epoch = event["step"] - (event["epoch"] - 1) * steps_per_epoch
        if crash_at is not None and event["epoch"] == crash_at and into_epoch >= steps_per_epoch // 2:
            _crash(conn, {"how": "at_epoch", "epoch": event["epoch"], "step": event["step"]})
        now = time.monotonic()
        if now - last_sent >= STEP_EVENT_INTERVAL:
            conn.send({"type": "step", **event})
            last_sent = now

    def on_event(event: dict) -> None:
        if (
            sampler is not None
            and trainer.last_order is not None
            and event["type"] == "epoch"
            and event["epoch"] == sampler["epoch"]
        ):
            # Written before the epoch is reported, so the page that shows the epoch finds it.
            epoch_order.write(
                job.run_dir,
                epoch_order.record(
                    sampler, trainer.last_order, trainer.last_start, trainer.config.batch_size
                ),
            )
        # This machine's wall clock as the run's process produces the event: how late the page
        # hears of an epoch or a checkpoint is measured from here (bench `distributed`).
        conn.send({**event, "sent_at": time.time()})
        if event["type"] == "epoch" and pace:
            conn.flush()  # the page shows the epoch during its pause, not after it
            # Slow motion for the learner's eyes; the epoch itself was timed without it.
            time.sleep(pace)

    crash_saving = job.crash_while_saving_at
    if crash_saving is not None:
        crashing_save = store.save_crashing

        def announce_then_crash(ckpt: dict, fraction: float = 0.5) -> NoReturn:
            conn.send({"type": "crash", "how": "while_saving", "epoch": ckpt["epoch"], "step": ckpt["step"]})
            crashing_save(ckpt, fraction)

        store.save_crashing = announce_then_crash  # type: ignore[method-assign]  # announced first
    train(trainer, store, on_event=on_event, on_step=on_step, crash_while_saving_at=crash_saving)


def _pretrain(job: Job, conn: Outbox) -> None:
    """Pretrain the transfer lesson's missing source models, one after the other; the files are the cache."""
    from app.ml.finetune import pretrain_to_file

    cfg = job.config
    for source in cfg["sources"]:

        def report(row: dict, source: str = source) -> None:
            conn.send({"type": "pretrain_epoch", "source": source, **row})

        metrics = pretrain_to_file(source, Path(cfg["outs"][source]), on_epoch=report)
        conn.send({"type": "result", "source": source, "metrics": metrics})


def _finetune(job: Job, conn: Outbox) -> None:
    """Transferred vs from scratch on the same few examples, over several seeds."""
    from app.ml.finetune import compare

    cfg = job.config
    # A name inside PRETRAINED_DIR (runs of older versions stored an absolute path).
    source_sd = load_checkpoint(Path(job.pretrained_dir) / Path(cfg["pretrained"]).name)["state_dict"]
    for i, seed in enumerate(cfg["seeds"]):
        # Curves for the first seed; the others only add their final accuracies.
        on_epoch = (
            (lambda row, seed=seed: conn.send({"type": "series", "seed": seed, **row})) if i == 0 else None
        )
        result = compare(
            cfg["source"],
            source_sd,
            num_classes=cfg["num_classes"],
            shots=cfg["shots"],
            epochs=cfg["epochs"],
            seed=seed,
            freeze_backbone=cfg["freeze_backbone"],
            variant=cfg["variant"],
            strategy=cfg["strategy"],
            on_epoch=on_epoch,
        )
        conn.send(
            {
                "type": "result",
                "seed": seed,
                "transfer": result["transfer"]["final_test_acc"],
                "scratch": result["scratch"]["final_test_acc"],
                "margin": result["margin"],
                "load_ok": result["load"]["ok"],
            }
        )


def _sharded(job: Job, conn: Outbox) -> None:
    """A ShardedCheckpointLab experiment: its ranks are forked here, under the labs' limits."""
    from app.jobs import sharded_tasks

    sharded_tasks.run(job.config, job.run_dir, int(job.config["memory_mb"]), conn.send)


def _crash(conn: Outbox, info: dict) -> NoReturn:
    conn.send({"type": "crash", **info})
    conn.close()
    # A real crash: nothing in this process's memory survives, no finally blocks, no flush.
    os.kill(os.getpid(), signal.SIGKILL)
    raise SystemExit(137)  # not reached: SIGKILL ends the process

"""How the run store's rows look in SQLite: the schema, and a run's and an epoch's row both ways."""

from __future__ import annotations

import json
import sqlite3
from collections import OrderedDict
from typing import Any

from app.jobs.records import EpochRow, Run, RunOptions, RunStatus

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    session TEXT,                 -- NULL for shared reference runs
    kind TEXT NOT NULL,           -- train | resume | reference | pretrain | finetune
    config TEXT NOT NULL,         -- TrainConfig as JSON
    options TEXT NOT NULL,        -- RunOptions.to_dict(): pace, crash plan, resume source and mode
    status TEXT NOT NULL,         -- RunStatus: planned|queued|running|done|crashed|failed|interrupted
    parent_id TEXT,               -- the run a resume continues
    root_id TEXT NOT NULL,        -- the first run of the lineage (itself for a train run)
    reference_key TEXT,
    error TEXT,
    final_hash TEXT,
    created REAL NOT NULL,
    started REAL,
    finished REAL
);
CREATE INDEX IF NOT EXISTS runs_session ON runs(session, created);
CREATE INDEX IF NOT EXISTS runs_root ON runs(root_id);
CREATE TABLE IF NOT EXISTS epochs (
    run_id TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    loss REAL, acc REAL, lr REAL, seconds REAL, step INTEGER,
    step_losses TEXT,
    order_head TEXT,              -- first sample indices of the epoch: shows the data order
    val_loss REAL,                -- held-out loss after the epoch
    PRIMARY KEY (run_id, epoch)
);
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL,
    at REAL NOT NULL,
    kind TEXT NOT NULL,           -- checkpoint|crash|survivors|comparison|series|result|pretrain_epoch
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_run ON events(run_id, at);
"""


def remember(kept: OrderedDict, key: str, value: Any, limit: int) -> list:
    """kept[key] = value as the newest entry; the oldest go past `limit`. Returns their keys."""
    kept[key] = value
    kept.move_to_end(key)
    return [kept.popitem(last=False)[0] for _ in range(len(kept) - limit)]


def decode_epoch(r: sqlite3.Row) -> EpochRow:
    return EpochRow(
        r["epoch"],
        r["loss"],
        r["acc"],
        r["lr"],
        r["seconds"],
        r["step"],
        json.loads(r["step_losses"] or "[]"),
        json.loads(r["order_head"] or "[]"),
        r["val_loss"],
    )


def decode_run(row: sqlite3.Row) -> Run:
    d = dict(row)
    d["config"] = json.loads(d["config"])
    d["options"] = RunOptions.parse(json.loads(d["options"]))
    d["status"] = RunStatus(d["status"])
    return Run(**d)


def encode_run(run: Run) -> tuple:
    return (
        run.id,
        run.session,
        run.kind,
        json.dumps(run.config),
        json.dumps(run.options.to_dict()),
        run.status.value,
        run.parent_id,
        run.root_id,
        run.reference_key,
        run.error,
        run.final_hash,
        run.created,
        run.started,
        run.finished,
    )


def encode_epoch(run_id: str, e: EpochRow) -> tuple:
    return (
        run_id,
        e.epoch,
        e.loss,
        e.acc,
        e.lr,
        e.seconds,
        e.step,
        json.dumps(e.step_losses),
        json.dumps(e.order_head),
        e.val_loss,
    )

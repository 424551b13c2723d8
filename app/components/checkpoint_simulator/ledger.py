"""The state ledger: for each restore mode, what resuming that way cost, measured against the
run that never crashed. Plain numbers from the store; no torch, no web types.

Every verdict here is a comparison of recorded epochs, with its threshold named, so that the
page can say what happened in words without the template deciding anything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import median

from app.jobs.protocol import EpochRow, RunStatus

MODES = ("everything", "weights", "weights_optimizer", "no_scheduler", "no_rng")
PIECES = ("weights", "optimizer", "scheduler", "rng", "position")
# As app/ml/train.py restores them. "position" is where in the epoch a mid-epoch checkpoint was;
# the epoch's order is RNG state (the generator at the epoch's start), so "all but the RNG" keeps
# the position and loses the order, and the weights-only modes start the epoch again.
RESTORED = {  # mode -> what it puts back, in PIECES order
    "everything": (True, True, True, True, True),
    "weights": (True, False, False, False, False),
    "weights_optimizer": (True, True, False, False, False),
    "no_scheduler": (True, True, False, True, True),
    "no_rng": (True, True, True, False, True),
}
# Held-out loss within this fraction of the reference's counts as "back" / "about as good".
MARGIN = 0.10
# The first epoch after a resume with a mean train loss this much above the reference's is a spike:
# above what a different shuffle of the same data gives here (measured: +6 to +11 %).
SPIKE = 0.15


@dataclass
class Row:
    mode: str
    restored: dict[str, bool]
    run_id: str | None = None
    status: str | None = None  # None: this mode has not been tried in this lineage
    from_epoch: int | None = None
    error: str | None = None
    first_epoch: int | None = None
    first_loss: float | None = None
    reference_first_loss: float | None = None
    loss_change: float | None = None  # first resumed epoch's train loss ÷ the reference's − 1
    spike: bool | None = None
    lr_ok: bool | None = None
    lr_epoch: int | None = None  # the first epoch whose LR differs from the plan
    lr_got: float | None = None
    lr_expected: float | None = None
    order_same: bool | None = None
    samples_twice: int | None = None  # a mid-epoch resume: the interrupted epoch's samples trained twice
    samples_never: int | None = None  # … and never
    order_epoch: int | None = None
    recovery_epochs: int | None = None  # epochs outside the margin before coming back within it
    recovered: bool | None = None
    final_val_loss: float | None = None
    reference_final_val_loss: float | None = None
    final_val_acc: float | None = None
    reference_final_val_acc: float | None = None
    final: str | None = None  # same | about | worse | better
    identical: bool | None = None
    max_abs_diff: float | None = None
    prediction: dict | None = None  # what the learner expected: {"identical": bool, "spike": bool}
    prediction_right: dict[str, bool] = field(default_factory=dict)

    @property
    def tried(self) -> bool:
        return self.status is not None

    @property
    def complete(self) -> bool:
        """Every column is known: the run and the reference finished and were compared."""
        return self.identical is not None or self.status in (
            RunStatus.FAILED,
            RunStatus.CRASHED,
            RunStatus.INTERRUPTED,
        )


@dataclass
class Ledger:
    rows: list[Row]
    reference_done: bool
    margin: float = MARGIN
    spike: float = SPIKE

    @property
    def tried(self) -> list[Row]:
        return [r for r in self.rows if r.tried]

    @property
    def complete(self) -> bool:
        return all(r.complete for r in self.rows)

    @property
    def identical_modes(self) -> list[str]:
        return [r.mode for r in self.rows if r.identical]

    def median_change(self) -> float | None:
        changes = [r.loss_change for r in self.rows if r.loss_change is not None]
        return median(changes) if changes else None


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def measure(
    row: Row, resumed: list[EpochRow], reference: list[EpochRow], reference_done: bool, resumed_done: bool
) -> None:
    """Fill row's numbers from the resumed run's epochs and the reference's (same epoch numbers)."""
    ref = {e.epoch: e for e in reference}
    shared = [e for e in resumed if e.epoch in ref]
    if not shared:
        return
    first = shared[0]
    other = ref[first.epoch]
    row.first_epoch, row.first_loss, row.reference_first_loss = first.epoch, first.loss, other.loss
    if other.loss:
        row.loss_change = first.loss / other.loss - 1
        row.spike = row.loss_change >= SPIKE
    row.order_same = list(first.order_head) == list(other.order_head)
    wrong = next((e for e in shared if not _close(e.lr, ref[e.epoch].lr)), None)
    row.lr_ok = wrong is None
    if wrong is not None:
        row.lr_epoch, row.lr_got, row.lr_expected = wrong.epoch, wrong.lr, ref[wrong.epoch].lr
    back = next((i for i, e in enumerate(shared) if _within(e.val_loss, ref[e.epoch].val_loss)), None)
    row.recovered = back is not None
    row.recovery_epochs = back
    if resumed_done and reference_done and resumed and reference and resumed[-1].epoch == reference[-1].epoch:
        mine, theirs = resumed[-1], reference[-1]
        row.final_val_loss, row.reference_final_val_loss = mine.val_loss, theirs.val_loss
        row.final_val_acc, row.reference_final_val_acc = mine.acc, theirs.acc
        if mine.val_loss is not None and theirs.val_loss:
            change = mine.val_loss / theirs.val_loss - 1
            row.final = (
                "same"
                if mine.val_loss == theirs.val_loss
                else "about"
                if abs(change) <= MARGIN
                else "worse"
                if change > 0
                else "better"
            )


def _within(value: float | None, reference: float | None) -> bool:
    if value is None or not reference:
        return False
    return abs(value - reference) <= MARGIN * reference


def judge_prediction(row: Row) -> None:
    if not row.prediction:
        return
    actual = {"identical": row.identical, "spike": row.spike}
    row.prediction_right = {
        k: bool(v) == actual[k] for k, v in row.prediction.items() if k in actual and actual[k] is not None
    }

"""What a learner may ask of the simulator, validated the same way for forms and JSON."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_core import PydanticCustomError

from app.jobs.protocol import CrashPlan, RunOptions, RunStatus

RESTORE_MODES = ("everything", "weights", "weights_optimizer", "no_scheduler", "no_rng")
Restore = Literal["everything", "weights", "weights_optimizer", "no_scheduler", "no_rng"]
MAX_EPOCHS = 200


class RunRequest(BaseModel):
    epochs: int = Field(30, ge=2, le=MAX_EPOCHS, description="epochs to train")
    # 0.02 with Adam: high enough that losing the optimizer state shows as a clear loss spike.
    lr: float = Field(0.02, ge=1e-5, le=1.0, description="base learning rate")
    optimizer: Literal["adam", "sgd"] = "adam"
    scheduler: bool = Field(True, description="halve the LR every 10 epochs (LambdaLR)")
    checkpoint_every: int = Field(5, ge=1, le=MAX_EPOCHS)
    keep_last: int = Field(3, ge=1, le=20)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    # A first-time learner needs time to find Crash: 30 epochs at ~0.4 s leave about 12 s.
    pace_ms: int = Field(400, ge=0, le=1000, description="pause after each epoch so the run can be watched")
    crash: Literal["none", "at_epoch", "while_saving"] = "none"
    crash_epoch: int | None = Field(default=None, ge=1, le=MAX_EPOCHS)
    mid_epoch: bool = Field(
        False,
        description="also save a checkpoint half-way through every epoch, holding the "
        "sampler's state (the epoch's order and the next batch)",
    )

    @model_validator(mode="after")
    def _consistent(self):
        # Each rule has its own error type, so that a page can say it in its own language.
        if self.checkpoint_every > self.epochs:
            raise PydanticCustomError(
                "checkpoint_every_too_big", "checkpoint_every: must not exceed the number of epochs"
            )
        if self.crash != "none":
            if self.crash_epoch is None:
                raise PydanticCustomError(
                    "crash_epoch_missing", "crash_epoch: choose the epoch at which to crash"
                )
            if self.crash_epoch > self.epochs:
                raise PydanticCustomError(
                    "crash_epoch_too_big", "crash_epoch: must be within the run's epochs"
                )
            if self.crash == "while_saving" and self.crash_epoch % self.checkpoint_every:
                raise PydanticCustomError(
                    "crash_epoch_not_saved",
                    "crash_epoch: a crash while saving needs an epoch at which a checkpoint is saved "
                    "(a multiple of {every})",
                    {"every": self.checkpoint_every},
                )
        return self

    def train_config(self) -> dict:
        config = {
            "epochs": self.epochs,
            "lr": self.lr,
            "optimizer": self.optimizer,
            "scheduler": self.scheduler,
            "checkpoint_every": self.checkpoint_every,
            "keep_last": self.keep_last,
            "seed": self.seed,
            "batch_size": 64,
        }
        if self.mid_epoch:
            # Only when asked: a config without it keeps its reference (keyed by the config's JSON).
            config["mid_epoch_checkpoint"] = True
        return config

    def options(self) -> RunOptions:
        crash = CrashPlan() if self.crash == "none" else CrashPlan(self.crash, self.crash_epoch)
        return RunOptions(pace_ms=self.pace_ms, crash=crash)


# One click to a case where resuming the weights alone costs a lot: SGD's momentum and the LR
# schedule are lost, and at this LR the loss jumps and ends clearly worse (checked over seeds).
SCENARIO = {
    "epochs": 30,
    "lr": 0.3,
    "optimizer": "sgd",
    "scheduler": "on",
    "checkpoint_every": 5,
    "keep_last": 3,
    "seed": 0,
    "pace_ms": 100,
    "crash": "at_epoch",
    "crash_epoch": 23,
}


class ResumeRequest(BaseModel):
    from_run: str = Field(..., min_length=1, max_length=64, description="run whose checkpoint to resume from")
    file: str = Field(
        ..., min_length=1, max_length=64, description="checkpoint file name, or naive/latest.pt"
    )
    restore: Restore = "everything"


class Prediction(BaseModel):
    """What the learner expects of a resume before seeing it; either answer may be left out."""

    identical: bool | None = Field(
        default=None, description="will it end bit-identical to the uninterrupted run?"
    )
    spike: bool | None = Field(default=None, description="will the loss jump in the first epoch back?")

    def stored(self) -> dict | None:
        d = self.model_dump(exclude_none=True)
        return d or None


class ResumeAllRequest(BaseModel):
    file: str = Field(..., min_length=1, max_length=64, description="checkpoint file name to resume from")
    predictions: dict[Restore, Prediction] = Field(default_factory=dict)


class OrderRowOut(BaseModel):
    mode: Restore
    label: str
    run_id: str
    kind: Literal["continued", "restarted", "skipped", "other"] = Field(
        description="continued: the same order from the next batch; "
        "restarted: the epoch again from batch 1 of "
        "a new order; skipped: the next batch of a different order"
    )
    start: int = Field(description="first batch (0-based) of its own order the resumed run trained")
    same_order: bool = Field(description="the resumed run's order is the interrupted epoch's, tensor-equal")
    twice: int = Field(description="samples trained twice in the epoch")
    never: int = Field(description="samples never trained in the epoch")
    steps: int = Field(description="optimizer steps the epoch took, before and after the crash")
    per_batch: list[list[int]] = Field(
        description="per batch of the interrupted order: [trained twice, never trained]"
    )
    sentence: str


class DataOrderOut(BaseModel):
    run_id: str = Field(description="the lineage's first run")
    epoch: int | None = Field(
        default=None, description="the epoch the crash interrupted (None: no mid-epoch resume yet)"
    )
    samples: int | None = None
    batch_size: int | None = None
    batches: int | None = None
    before: int | None = Field(default=None, description="batches trained before the mid-epoch checkpoint")
    reference_same_order: bool | None = Field(
        default=None,
        description="the interrupted order's first samples match the uninterrupted run's epoch "
        "(None: not there yet)",
    )
    summary: str | None = None
    rows: list[OrderRowOut] = Field(default_factory=list)


class LedgerRow(BaseModel):
    mode: Restore
    label: str
    restored: dict[str, bool] = Field(
        description="weights, optimizer, scheduler, rng, position (where in the "
        "epoch a mid-epoch checkpoint was): put back or not"
    )
    run_id: str | None = None
    status: str | None = Field(default=None, description="None while this mode has not been tried")
    from_epoch: int | None = None
    error: str | None = None
    first_epoch: int | None = None
    first_loss: float | None = None
    reference_first_loss: float | None = None
    loss_change: float | None = Field(
        default=None, description="first epoch back: train loss ÷ the reference's − 1"
    )
    spike: bool | None = None
    lr_ok: bool | None = None
    lr_got: float | None = None
    lr_expected: float | None = None
    order_same: bool | None = None
    samples_twice: int | None = Field(
        default=None, description="mid-epoch resume: samples of the interrupted epoch trained twice"
    )
    samples_never: int | None = Field(
        default=None, description="mid-epoch resume: samples of the interrupted epoch never trained"
    )
    recovery_epochs: int | None = Field(
        default=None, description="epochs before the held-out loss is back within the margin"
    )
    recovered: bool | None = None
    final_val_loss: float | None = None
    reference_final_val_loss: float | None = None
    final_val_acc: float | None = None
    reference_final_val_acc: float | None = None
    final: Literal["same", "about", "worse", "better"] | None = None
    identical: bool | None = None
    max_abs_diff: float | None = None
    prediction: dict | None = None
    prediction_right: dict[str, bool] = Field(default_factory=dict)
    cost: str = Field(description="what this omission cost, in one sentence of the asked language")


class LedgerOut(BaseModel):
    run_id: str = Field(description="the lineage's first run")
    margin: float = Field(description="held-out loss within this fraction of the reference counts as 'back'")
    spike_threshold: float
    reference_done: bool
    complete: bool
    conclusion: str | None
    rows: list[LedgerRow]


class PlannedResume(BaseModel):
    id: str
    restore: Restore
    status: Literal[RunStatus.QUEUED, RunStatus.PLANNED]


class ResumeAllOut(BaseModel):
    runs: list[PlannedResume] = Field(
        description="one run per restore mode (queued, or planned within the limit)"
    )


# --- a run as the JSON API shows it (checkpoint_simulator/api.py builds it) ---
class ProgressOut(BaseModel):
    """Live numbers of an active run, between the epochs it records."""

    epoch: int
    step: int
    loss: float | None
    lr: float | None
    acc: float | None = Field(description="validation accuracy after the last whole epoch")
    val_loss: float | None
    pid: int | None = Field(description="the run's own process")
    node: str | None = Field(description="the worker node training it (JOB_BACKEND=celery)")
    updated: float = Field(description="when the run last reported (Unix time)")


class EpochOut(BaseModel):
    epoch: int
    loss: float
    acc: float
    val_loss: float | None
    lr: float
    seconds: float
    step: int = Field(description="optimizer steps so far")
    step_losses: list[float]
    order_head: list[int] = Field(description="first sample indices of the epoch: shows the data order")


class CheckpointOut(BaseModel):
    epoch: int
    batch: int = Field(description="batches of the next epoch done: a mid-epoch checkpoint when > 0")
    file: str
    bytes: int
    loss: float | None
    latest: bool = Field(description="the file the 'latest' pointer names")


class RunOut(BaseModel):
    id: str
    kind: str = Field(description="train, resume or reference")
    status: RunStatus
    root_id: str = Field(description="the lineage's first run")
    parent_id: str | None = Field(description="the run a resume continues")
    config: dict = Field(description="the training settings (RunRequest.train_config)")
    options: dict = Field(
        description="pace, crash plan; for a resume: checkpoint, from_run, from_epoch, restore"
    )
    error: str | None
    final_hash: str | None = Field(description="hash of the final weights, once done")
    queue_position: int | None = Field(description="place in line while waiting (1: next)")
    live: ProgressOut | None
    epochs: list[EpochOut]
    checkpoints: list[CheckpointOut]
    epoch_order: dict | None = Field(description="a mid-epoch resume: what the interrupted epoch trained")
    naive_file_bytes: int | None = Field(
        description="size of naive/latest.pt (saved without the atomic writer)"
    )
    temp_files: list[str] = Field(description="half-written temp files the atomic writer left")
    crash: dict | None = Field(description="how, at which epoch and step the run crashed")
    survivors: dict | None = Field(description="after a crash: each file on disk as torch.load judged it")
    comparison: dict | None = Field(description="a resume, once done: identical to the reference? max |Δw|")


class RunWithResumes(RunOut):
    resumes: list[RunOut] = Field(description="the lineage's other runs, oldest first")


class CrashOut(BaseModel):
    id: str
    crashed: bool

"""What a learner may ask of the simulator, validated the same way for forms and JSON."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

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
    pace_ms: int = Field(150, ge=0, le=1000, description="pause after each epoch so the run can be watched")
    crash: Literal["none", "at_epoch", "while_saving"] = "none"
    crash_epoch: int | None = Field(None, ge=1, le=MAX_EPOCHS)

    @model_validator(mode="after")
    def _consistent(self):
        if self.checkpoint_every > self.epochs:
            raise ValueError("checkpoint_every: must not exceed the number of epochs")
        if self.crash != "none":
            if self.crash_epoch is None:
                raise ValueError("crash_epoch: choose the epoch at which to crash")
            if self.crash_epoch > self.epochs:
                raise ValueError("crash_epoch: must be within the run's epochs")
            if self.crash == "while_saving" and self.crash_epoch % self.checkpoint_every:
                raise ValueError("crash_epoch: a crash while saving needs an epoch at which a checkpoint is saved "
                                 f"(a multiple of {self.checkpoint_every})")
        return self

    def train_config(self) -> dict:
        return {"epochs": self.epochs, "lr": self.lr, "optimizer": self.optimizer, "scheduler": self.scheduler,
                "checkpoint_every": self.checkpoint_every, "keep_last": self.keep_last, "seed": self.seed,
                "batch_size": 64}

    def options(self) -> dict:
        options: dict = {"pace_ms": self.pace_ms}
        if self.crash == "at_epoch":
            options["crash_at_epoch"] = self.crash_epoch
        elif self.crash == "while_saving":
            options["crash_while_saving_at"] = self.crash_epoch
        return options


class ResumeRequest(BaseModel):
    from_run: str = Field(..., min_length=1, max_length=64, description="run whose checkpoint to resume from")
    file: str = Field(..., min_length=1, max_length=64, description="checkpoint file name, or naive/latest.pt")
    restore: Restore = "everything"

"""What the SaveLoadLab's JSON API answers (see /docs): the sandbox's dicts (app.ml.labs.saveload
and app.ml.labs.ptfile), key by key."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from app.components.answer import Answer
from app.components.save_load_lab.service import Refactor


class Refactors(Answer):
    refactors: dict[Refactor, str] = Field(description="refactor -> what it changes in the code")


class Saved(Answer):
    """Both files written for real: the state_dict (weights.pt) and the pickled model (whole_model.pt)."""

    ok: Literal[True]
    error_type: None
    error: None
    module_code: str = Field(description="labnet.py, the model's code at save time")
    code: str = Field(description="the saving code exactly as it ran")
    files: dict[str, int] = Field(description="file name -> bytes")
    output_sample: list[float] = Field(
        description="the first outputs of the saved model for torch.ones(1, 4)"
    )


class SaveFailed(Answer):
    """The saving code raised (not expected): torch's error instead of files."""

    ok: Literal[False]
    error_type: str
    error: str
    module_code: str
    code: str


class LoadAttempt(Answer):
    label: str = Field(description="the way of loading")
    code: str = Field(description="the loading code exactly as it ran")
    ok: bool
    error_type: str | None
    error: str | None
    note: str = Field(description="why this way works or fails")
    unsafe_globals: list[str] | None = Field(
        description="what the file asks to import (the allowlist attempt only)"
    )
    matches_saved_weights: bool | None = Field(
        description="the loaded model holds the saved tensors (when it loaded)"
    )


class Loaded(Answer):
    ok: Literal[True]
    refactor: Refactor
    description: str
    files: dict[str, str] = Field(description="the code after the refactor: path -> source")
    torch_version: str
    attempts: list[LoadAttempt]


class RefactorOut(Answer):
    save: Saved | SaveFailed
    load: Loaded = Field(description="in a fresh process, as after a restart")


class ZipEntry(Answer):
    name: str
    file_size: int
    compress_size: int
    compressed: bool


class ZipListing(Answer):
    count: int
    declared_bytes: int
    entries: list[ZipEntry]


class PickleGlobal(Answer):
    name: str = Field(description="module.name, as the pickle records it")
    role: str
    weights_only_allowed: bool = Field(
        description="torch's weights-only loader accepts it without an allowlist"
    )


class PtFile(Answer):
    """A .pt file read without unpickling: its zip directory and the globals its pickle names."""

    ok: Literal[True]
    bytes: int
    zip: ZipListing
    globals: list[PickleGlobal]
    unsafe_globals: list[str]
    references_own_code: bool = Field(description="loading it imports the learner's code (labnet.LabNet)")


class NotAPtFile(Answer):
    ok: Literal[False]
    error_type: str
    error: str


# File name -> what is inside; empty when saving failed.
Inside = dict[str, PtFile | NotAPtFile]


class Phase(Answer):
    """Two forward passes of the same input in one mode."""

    max_abs_diff: float = Field(description="between the two outputs")
    outputs: list[list[float]] = Field(description="the first values of each output")
    running_mean_changed: bool
    running_var_changed: bool
    num_batches_tracked: list[int] = Field(description="BatchNorm's counter before and after")


class TrainEval(Answer):
    ok: Literal[True]
    code: str = Field(description="the code exactly as it ran")
    seed: int
    train: Phase
    eval: Phase

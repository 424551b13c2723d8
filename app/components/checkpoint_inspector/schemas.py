"""What the CheckpointInspector's JSON API answers (see /docs). A report is the sandbox's dict
(app.ml.labs.inspector), key by key: every key is there in every report, None where it does not
apply (a refused file has no tree, a safetensors file no zip)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.components.answer import Answer


class TensorStats(Answer):
    """Over the finite values of (at most the leading stats_elements of) a floating-point tensor."""

    mean: float | None = Field(description="None when no value is finite")
    std: float | None
    min: float | None
    max: float | None
    sampled: bool = Field(description="only the leading elements were used")
    elements: int
    nonfinite: int


class Leaf(Answer):
    """One leaf of the file's content, at its dotted path."""

    path: str
    kind: Literal["tensor", "bool", "int", "float", "str", "none", "other", "more"] = Field(
        description="more: a summary line standing for value (a count) leaves of a group cut short"
    )
    shape: list[int] | None
    dtype: str | None
    numel: int | None
    bytes: int | None
    stats: TensorStats | None = Field(description="floating-point tensors only")
    value: str | None = Field(description="a non-tensor's value as text, cut short")


class ZipEntry(Answer):
    name: str
    file_size: int
    compress_size: int


class ZipListing(Answer):
    count: int
    declared_bytes: int
    entries: list[ZipEntry]
    entries_truncated: bool


class GlobalVerdict(Answer):
    name: str
    allowed: bool = Field(description="torch's weights-only loader accepts it (torch's own checker)")


class Verdict(Answer):
    safe: bool | None = Field(description="None: not judged (the file could not be read that far)")
    summary: str
    reason: str | None = Field(description="torch's refusal, for an unsafe file")
    globals: list[str] = Field(description="what the pickle asks to import")
    globals_complete: bool = Field(description="false when a malformed pickle stopped the walk")
    checked: list[GlobalVerdict] = Field(default=[], description="each global, allowed or refused")
    allowlist: list[str] | None = Field(
        default=None, description="refused only for NumPy's data classes: the allowlist that loads it"
    )
    numpy_keys: list[str] | None = Field(default=None, description="the keys that hold NumPy objects")


class Finding(Answer):
    code: str = Field(description="what is missing or inconsistent (see the strings ca.f.<code>)")
    level: Literal["blocks", "if", "info"] = Field(
        description="blocks: not bit for bit without it; if: only when the run uses that piece"
    )
    ledger: str | None = Field(description="the simulator ledger's row (restore mode) that shows the cost")
    section: str | None = Field(description="the chapter section that shows the fix, e.g. 7.1.2")
    params: dict[str, str | int | float | list[int] | None]
    text: str = Field(default="", description="the finding in words, in the request's language")


class Piece(Answer):
    piece: str
    where: str | None = Field(
        description="the dotted path (file:path in a folder) that holds it; None: missing"
    )
    detail: str | int | float | None


class FolderFile(Answer):
    name: str
    bytes: int
    kind: str
    safe: bool | None
    allowlist: list[str] | None
    refused: list[str] | None = None
    error: str | None = None


class Audit(Answer):
    """Will training resume from this file (or folder) as if it had never stopped?"""

    kind: str = Field(
        description="what the file or folder is: lightning, lesson, state_dict, hf_trainer_folder, …"
    )
    verdict: Literal["exact", "not_bitwise", "weights_only", "part", "not_training"]
    headline: str = Field(default="", description="the verdict in words, in the request's language")
    findings: list[Finding] = Field(description="most important first")
    pieces: list[Piece]
    files: list[FolderFile] | None = Field(default=None, description="a folder's files")


class Totals(Answer):
    leaves: int
    tensors: int
    numel: int
    tensor_bytes: int


class More(Answer):
    """How many of each kind of entry the file has beyond what the report shows."""

    leaves: int
    globals: int
    metadata: int
    zip_entries: int
    notes: int


class Sent(Answer):
    """A header-only web upload: the bytes of the file that really reached the server."""

    head: int = Field(description="how many of the file's first bytes were sent (at most 8 MiB)")
    tail: int = Field(description="how many of its last bytes were sent (at most 1 MiB): the zip's directory")


class Report(Answer):
    ok: bool = Field(description="the file could be inspected")
    filename: str
    extension: str
    format: Literal["torch-zip", "torch-legacy", "pickle", "safetensors", "json"] | None
    bytes: int | None
    stage: str | None = Field(description="where the inspection stopped: done, or load, format, limits, …")
    error_type: str | None
    error: str | None
    verdict: Verdict | None
    zip: ZipListing | None
    metadata: dict[str, str] | None = Field(description="a safetensors header's __metadata__")
    tree: list[Leaf]
    truncated: bool
    totals: Totals
    notes: list[str]
    more: More
    reading: Literal["full", "header"] = Field(
        default="full",
        description="header: above the size limit, read from its header only: structure, keys, dtypes and "
        "shapes, pickled globals and the resume audit, without tensor data (no values, statistics or hashes)",
    )
    sent: Sent | None = Field(
        default=None, description="a header-only upload: how much of its head and tail was sent"
    )
    kind: str | None = Field(default=None, description="what the file is")
    audit: Audit | None = Field(default=None, description="the resume audit; None when the file was not read")


class ReportOut(Answer):
    id: str
    report: Report = Field(
        description="key tree, shapes, dtypes, statistics, zip entries, pickle globals, verdict"
    )


class ReportSummary(BaseModel):
    id: str
    filename: str
    bytes: int
    created: float = Field(description="Unix time")
    ok: bool | None = Field(description="the file could be inspected")
    safe: bool | None = Field(description="the safety verdict (None: not judged)")
    stage: str | None = Field(description="where an inspection that failed stopped")


class ReportList(BaseModel):
    reports: list[ReportSummary] = Field(description="newest first")

"""What the LoadingClinic's JSON API answers (see /docs)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.components.answer import Answer
from app.components.loading_clinic.service import CaseId

# One fact of a case's evidence. Each case shows its own facts (key lists, dtypes, byte counts,
# learning rates...), so evidence is a mapping from the fact's name to one of these.
Scalar = bool | int | float | str
Fact = Scalar | list[Scalar]


class CaseInfo(BaseModel):
    title: str
    fixes: dict[str, str] = Field(description="candidate fix id -> label")


class Cases(BaseModel):
    cases: dict[str, CaseInfo]


class TorchError(BaseModel):
    error_type: str | None
    error: str | None
    error_from: str | None = None


class Attempt(BaseModel):
    """A candidate fix, run for real after the case's broken code against its broken checkpoint."""

    id: str = Field(description="the case")
    fix: str
    code: str = Field(description="the fix exactly as it ran")
    right: bool = Field(description="is this the fix the lesson recommends")
    broken: TorchError = Field(description="what the broken code raised")
    error_type: str | None = Field(description="what the fix raised, if anything")
    error: str | None
    error_from: str | None = Field(
        None, description="the library that raised it, when not torch (safetensors)"
    )
    evidence: dict[str, Fact] | None = Field(
        description="what the model holds afterwards (when the fix raised nothing)"
    )
    proof: dict[str, bool] | None = Field(
        description="checks that must all hold for the case to count as fixed"
    )
    fixed: bool
    why: str = Field(description="why this fix works or fails")


class CaseRun(Answer):
    """A case run for real: the broken code and torch's error, then the lesson's fix and its evidence."""

    id: CaseId
    title: str
    broken_code: str
    fix_code: str
    candidates: dict[str, str] = Field(description="candidate fix id -> label")
    # Always true here: the route checks the case id before the lab runs, so the lab's answer
    # to an unknown case ({"id", "ok": false, "error"}) never reaches the API.
    ok: bool
    error_type: str | None = Field(description="what the broken code raised")
    error: str | None
    error_from: str | None = Field(description="the library that raised it, when not torch (safetensors)")
    fix_error_type: str | None = Field(description="what the fix raised, if anything")
    fix_error: str | None
    evidence: dict[str, Fact] | None = Field(
        description="what the model holds afterwards (when the fix raised nothing)"
    )
    proof: dict[str, bool] | None = Field(
        description="checks that must all hold for the case to count as fixed"
    )
    fixed: bool

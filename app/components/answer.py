"""The base of the JSON answers that are described key by key (see /docs)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Answer(BaseModel):
    """A JSON answer built as a plain dict (mostly in the sandbox) and described here key by key.

    pydantic drops a key its model does not name, without a word: a key added to the lab's dict
    but not to the model would vanish from the API. Forbidding extra keys makes that a failing
    request in the tests instead, and /docs can say that no other key comes."""

    model_config = ConfigDict(extra="forbid")


class LabFailed(Answer):
    """A lab whose own code raised (not expected): torch's error instead of the results
    (app.ml.labs reports it rather than raising)."""

    ok: Literal[False]
    error_type: str
    error: str
    code: str = Field(description="the code exactly as it ran")

"""What the StateDictExplorer's JSON API answers (see /docs): the sandbox's dicts
(app.ml.labs.statedict), key by key."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from app.components.answer import Answer
from app.components.state_dict_explorer.service import ModelName


class Models(Answer):
    models: dict[ModelName, str] = Field(description="model -> what it shows")


class Entry(Answer):
    """One entry of the state_dict."""

    key: str
    shape: list[int]
    dtype: str
    numel: int
    bytes: int
    kind: Literal["parameter", "buffer"]
    module: str = Field(description="the module that holds it ('' for the model itself)")
    module_type: str


class StatelessModule(Answer):
    """A leaf module with nothing in the state_dict (ReLU, Dropout, pooling)."""

    name: str
    type: str


class Totals(Answer):
    parameters: int = Field(description="numbers in parameters")
    buffers: int = Field(description="numbers in buffers")
    bytes: int
    entries: int


class Explored(Answer):
    # ok is always true here: the route checks the model's name before the lab runs, so the
    # lab's answer to an unknown name ({"ok": false, "error"}) never reaches the API.
    ok: Literal[True]
    model: ModelName
    description: str
    code: str = Field(description="the model's class")
    entries: list[Entry]
    stateless_modules: list[StatelessModule]
    totals: Totals


class ReferenceDemo(Answer):
    """state_dict() without a copy, watched through three training steps (the first values of one tensor)."""

    ok: Literal[True]
    code: str = Field(description="the code exactly as it ran")
    key: str = Field(description="the watched tensor")
    steps: int
    alias_before: list[float] = Field(description="state_dict() at 'saving' time")
    alias_after: list[float] = Field(description="the same object after training")
    copy_: list[float] = Field(alias="copy", description="copy.deepcopy(state_dict()) after training")
    live_after: list[float] = Field(description="the model's tensor after training")
    alias_changed: bool
    copy_changed: bool
    alias_is_live: bool
    alias_shares_memory: bool

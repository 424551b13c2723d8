"""The StateDictExplorer's questions, answered in the sandbox and cached (same for everyone)."""

from __future__ import annotations

from typing import Literal

from fastapi import Request

from app.components import labs
from app.jobs.lab_tasks import sd_explore, sd_reference

# The names of app.ml.labs.statedict.MODELS (that module imports torch; tests check they agree).
MODEL_NAMES = ("linear", "cnn_bn", "mlp_dropout")
ModelName = Literal["linear", "cnn_bn", "mlp_dropout"]


def explore(request: Request, model: str) -> dict:
    return labs.cached(request, ("sd.explore", model), lambda: labs.sandbox(request, sd_explore, model))


def reference(request: Request) -> dict:
    return labs.cached(request, ("sd.reference",), lambda: labs.sandbox(request, sd_reference))

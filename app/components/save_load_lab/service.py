"""The SaveLoadLab's questions, answered in the sandbox and cached (same for everyone).

A refactor is answered by two sandbox processes sharing one work folder: the first saves both
files (and looks inside them), the second (a fresh process, as after a restart) rewrites the code
and loads. The folder is deleted straight after.
"""

from __future__ import annotations

from typing import Literal

from fastapi import Request

from app.components import labs
from app.jobs.lab_tasks import sl_load, sl_save, sl_train_eval

# The keys of app.ml.labs.saveload.REFACTORS (that module imports torch; tests check they agree).
REFACTOR_NAMES = ("none", "rename_class", "move_module")
Refactor = Literal["none", "rename_class", "move_module"]


def _save(request: Request) -> dict:
    with labs.work_folder(request) as folder:
        return labs.sandbox(request, sl_save, folder)


def saved(request: Request) -> dict:
    """Both files saved for real: code, sizes, and what is inside each (zip entries, pickle globals)."""
    return labs.cached(request, ("sl.save",), lambda: _save(request))


def refactor(request: Request, name: str) -> dict:
    def compute() -> dict:
        with labs.work_folder(request) as folder:
            save = labs.sandbox(request, sl_save, folder)
            load = labs.sandbox(request, sl_load, folder, name)
        return {"save": save["save"], "load": load}

    return labs.cached(request, ("sl.refactor", name), compute)


def train_eval(request: Request) -> dict:
    return labs.cached(request, ("sl.train_eval",), lambda: labs.sandbox(request, sl_train_eval))

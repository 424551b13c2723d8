"""Sandbox entry points of the chapter-6 labs (app.ml.labs), run with processes.call_in_sandbox.

The web process never imports torch: each function imports its lab inside, so only the
short-lived sandbox process loads it. Functions given a work folder chdir into it and write
files there; the web process creates that folder and deletes it afterwards.
"""

from __future__ import annotations

import os
from typing import Any


def _hide_folder(value: Any, folder: str) -> Any:
    """The lab's results with the server's temporary folder shown as '.' (error texts name files
    by their absolute path; the learner's code works in the current folder)."""
    if isinstance(value, str):
        return value.replace(folder + os.sep, "./").replace(folder, ".")
    if isinstance(value, dict):
        return {k: _hide_folder(v, folder) for k, v in value.items()}
    if isinstance(value, list):
        return [_hide_folder(v, folder) for v in value]
    return value


def sd_explore(model_name: str) -> dict:
    from app.ml.labs.statedict import explore

    return explore(model_name)


def sd_reference() -> dict:
    from app.ml.labs.statedict import reference_demo

    return reference_demo()


def sl_save(workdir: str) -> dict:
    """Save both ways (state_dict and whole model), then look inside both files."""
    from app.ml.labs.ptfile import explain
    from app.ml.labs.saveload import save_both

    folder = os.path.realpath(workdir)
    saved = save_both(folder)
    inside = {}
    if saved.get("ok"):
        inside = {name: explain(os.path.join(folder, name)) for name in ("weights.pt", "whole_model.pt")}
    return _hide_folder({"save": saved, "inside": inside}, folder)


def sl_load(workdir: str, refactor: str) -> dict:
    """Refactor the code, then try each way of loading. Called in a fresh process, as after a restart."""
    from app.ml.labs.saveload import load_after_refactor

    folder = os.path.realpath(workdir)
    return _hide_folder(load_after_refactor(folder, refactor), folder)


def sl_train_eval() -> dict:
    from app.ml.labs.saveload import train_vs_eval

    return train_vs_eval()


def cl_case(case_id: str, workdir: str) -> dict:
    from app.ml.labs.clinic import run_case

    folder = os.path.realpath(workdir)
    return _hide_folder(run_case(case_id, folder), folder)


def ci_inspect(path: str, filename: str, limits: dict) -> dict:
    """Inspect an uploaded, untrusted file (weights_only=True only; see app.ml.labs.inspector)."""
    from app.ml.labs.inspector import inspect_file

    return _hide_folder(inspect_file(path, filename, limits), os.path.dirname(os.path.realpath(path)))


def cl_try(case_id: str, fix_id: str, workdir: str) -> dict:
    """One of the clinic's candidate fixes, run for real after the case's broken code."""
    from app.ml.labs.clinic import try_fix

    folder = os.path.realpath(workdir)
    return _hide_folder(try_fix(case_id, fix_id, folder), folder)

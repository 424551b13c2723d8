"""The LoadingClinic's cases, run in the sandbox in a fresh work folder and cached (same for everyone)."""

from __future__ import annotations

from typing import Literal

from fastapi import Request

from app.components import labs
from app.components.loading_clinic.strings import FIXES
from app.jobs.lab_tasks import cl_case, cl_try

# The keys of app.ml.labs.clinic.CASES and CANDIDATES (that module imports torch; tests check they agree).
CASE_IDS = (
    "renamed_layer",
    "dataparallel_prefix",
    "size_mismatch",
    "cuda_checkpoint",
    "truncated_file",
    "resume_order",
    "unfreeze_groups",
    "compile_prefix",
    "numpy_weights_only",
    "safetensors_shared",
)
CaseId = Literal[
    "renamed_layer",
    "dataparallel_prefix",
    "size_mismatch",
    "cuda_checkpoint",
    "truncated_file",
    "resume_order",
    "unfreeze_groups",
    "compile_prefix",
    "numpy_weights_only",
    "safetensors_shared",
]
FIX_IDS = {case_id: tuple(FIXES["en"][case_id]) for case_id in CASE_IDS}


def run_case(request: Request, case_id: str) -> dict:
    def compute() -> dict:
        with labs.work_folder(request) as folder:
            return labs.sandbox(request, cl_case, case_id, folder)

    return labs.cached(request, ("cl.case", case_id), compute)


def try_fix(request: Request, case_id: str, fix_id: str) -> dict:
    """A candidate fix run for real against the case's broken checkpoint (cached: the same choice
    always gets the same answer from torch)."""

    def compute() -> dict:
        with labs.work_folder(request) as folder:
            return labs.sandbox(request, cl_try, case_id, fix_id, folder)

    return labs.cached(request, ("cl.try", case_id, fix_id), compute)

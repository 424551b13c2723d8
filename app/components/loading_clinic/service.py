"""The LoadingClinic's cases, run in the sandbox in a fresh work folder and cached (same for everyone)."""
from __future__ import annotations

from typing import Literal

from fastapi import Request

from app.components import labs
from app.jobs.lab_tasks import cl_case

# The keys of app.ml.labs.clinic.CASES (that module imports torch; tests check they agree).
CASE_IDS = ("renamed_layer", "dataparallel_prefix", "size_mismatch", "cuda_checkpoint", "truncated_file")
CaseId = Literal["renamed_layer", "dataparallel_prefix", "size_mismatch", "cuda_checkpoint", "truncated_file"]


def run_case(request: Request, case_id: str) -> dict:
    def compute() -> dict:
        with labs.work_folder(request) as folder:
            return labs.sandbox(request, cl_case, case_id, folder)

    return labs.cached(request, ("cl.case", case_id), compute)

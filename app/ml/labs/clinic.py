"""Lessons 6.2 and 6.5: a clinic of real loading errors, each with its fix (chapter 7's cases
are in clinic_practice).

For every case a small real checkpoint is written into the work folder, then the broken code
and the fix are executed exactly as shown (see run_snippet), so each error text is the one
torch really produced here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.serialization
from torch import nn

from app.ml.labs import Case, Facts, Namespace, Proof, run_snippet, working_dir
from app.ml.labs.clinic_cases import (
    CANDIDATES,
    CASES,
    NewNet,
    OldNet,
    StateDict,
    error_words,
    make_cuda_tagged_checkpoint,
)

__all__ = [
    "CANDIDATES",
    "CASES",
    "NewNet",
    "OldNet",
    "StateDict",
    "make_cuda_tagged_checkpoint",
    "run_case",
    "try_fix",
]


RIGHT = {
    case_id: next(k for k, code in c.items() if code == CASES[case_id]["fix_code"])
    for case_id, c in CANDIDATES.items()
}


def _fixed(broken: BaseException | None, fix: BaseException | None, proof: Proof | None) -> bool:
    """A fix counts only if the broken code failed, the fix ran, and its evidence shows the
    weights really arrived."""
    return broken is not None and fix is None and bool(proof and all(proof.values()))


def try_fix(case_id: str, fix_id: str, workdir: str) -> dict[str, Any]:
    """Make the case's broken checkpoint, run the broken code, then the chosen fix; report what
    torch said and whether the weights really arrived."""
    case, candidates = CASES.get(case_id), CANDIDATES.get(case_id, {})
    if case is None or fix_id not in candidates:
        return {
            "id": case_id,
            "fix": fix_id,
            "ok": False,
            "error": f"unknown case or fix {case_id!r}/{fix_id!r}",
        }
    root = Path(workdir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    with working_dir(root):
        extra, reference = case["setup"](root)
        ns = {"torch": torch, "nn": nn, **extra}
        broken = run_snippet(case["broken_code"], ns)
        fix = run_snippet(candidates[fix_id], ns)
        evidence, proof = (None, None) if fix is not None else _check(case, ns, reference)
    return {
        "id": case_id,
        "fix": fix_id,
        "ok": True,
        "code": candidates[fix_id],
        "right": fix_id == RIGHT[case_id],
        "broken": error_words(broken),
        **error_words(fix),
        "evidence": evidence,
        "proof": proof,
        "fixed": _fixed(broken, fix, proof),
    }


def _check(case: Case, ns: Namespace, reference: dict[str, Any]) -> tuple[Facts, Proof]:
    try:
        return case["evidence"](ns, reference)
    except Exception as exc:
        return {"evidence_error": f"{type(exc).__name__}: {exc}"}, {"evidence": False}


def run_case(case_id: str, workdir: str) -> dict[str, Any]:
    case = CASES.get(case_id)
    if case is None:
        return {
            "id": case_id,
            "ok": False,
            "error": f"unknown case {case_id!r}; choose one of {sorted(CASES)}",
        }
    root = Path(workdir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "id": case_id,
        "title": case["title"],
        "broken_code": case["broken_code"],
        "fix_code": case["fix_code"],
        "candidates": CANDIDATES[case_id],
        "ok": True,
    }
    with working_dir(root):
        extra, reference = case["setup"](root)
        ns = {"torch": torch, "nn": nn, **extra}
        broken = run_snippet(case["broken_code"], ns)
        result.update(error_words(broken))
        fix = run_snippet(case["fix_code"], ns)
        result["fix_error_type"] = error_words(fix)["error_type"]
        result["fix_error"] = error_words(fix)["error"]
        evidence, proof = (None, None) if fix is not None else _check(case, ns, reference)
    result["evidence"], result["proof"] = evidence, proof
    # A fix counts only if its evidence shows the weights really arrived.
    result["fixed"] = _fixed(broken, fix, proof)
    return result

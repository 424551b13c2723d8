"""The check of a checkpoint exercise, torch-free: run the learner's code in the sandbox (train,
SIGKILL, resume in a fresh process), compare the resumed run's final weights bit for bit with an
uninterrupted reference run, and say what differs in the learner's terms.

A verdict is plain JSON: {"status": solved|wrong|error|limit, "diagnosis": code, "details": {...},
"checks": [...], "output": ..., "timing": {...}}. strings.py turns diagnosis + details into words.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from pathlib import Path
from typing import Any

from app.jobs import code_sandbox

# The visible check, then a hidden one (another seed, a checkpoint from another epoch), so that a
# hard-coded epoch or value cannot pass.
CHECKS = ({"seed": 0, "crash_after": 3, "hidden": False}, {"seed": 1, "crash_after": 5, "hidden": True})
JOBS = Path(code_sandbox.__file__).parent
# What the learner can be told about, in the order a diagnosis looks for it.
STATE = ("weights", "optimizer", "scheduler", "rng")


def runner_version() -> str:
    """A hash of the runner's code: a cached reference is of the code that computed it."""
    return hashlib.sha256(
        b"".join((JOBS / f"{m}.py").read_bytes() for m in code_sandbox.MODULES)
    ).hexdigest()[:12]


class References:
    """Uninterrupted reference runs (one per seed), computed once in the sandbox and kept."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._lock = threading.Lock()

    def _path(self, seed: int) -> Path:
        return self.folder / f"reference-{runner_version()}-seed{seed}.json"

    def get(self, seed: int) -> dict | None:
        try:
            return json.loads(self._path(seed).read_text())
        except (OSError, ValueError):
            return None

    def put(self, seed: int, data: dict) -> None:
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = self._path(seed).with_suffix(".tmp")
            tmp.write_text(json.dumps(data))
            os.replace(tmp, self._path(seed))


def compare_weights(a: dict, b: dict) -> tuple[bool, float]:
    """(bit-identical, max |Δw|). JSON floats round-trip float32 values exactly."""
    if set(a) != set(b):
        return False, math.inf
    identical, worst = True, 0.0
    for key in a:
        if len(a[key]) != len(b[key]):
            return False, math.inf
        for x, y in zip(a[key], b[key], strict=True):
            if x != y:
                identical = False
                worst = max(worst, abs(x - y))
    return identical, worst


def _evidence(logs: list[dict], ref_logs: list[dict]) -> dict:
    """What the resumed run did differently, epoch by epoch, against the reference."""
    ref = {r["epoch"]: r for r in ref_logs}
    first_order = ref_logs[0]["order"] if ref_logs else None
    ev: dict = {}
    if logs:
        first = logs[0]
        r = ref.get(first["epoch"])
        if r:
            ev["loss"] = {
                "epoch": first["epoch"],
                "resumed": first["loss"],
                "reference": r["loss"],
                "first_batch": first["first_loss"],
                "first_batch_ref": r["first_loss"],
            }
            if first["order"] != r["order"]:
                ev["order"] = {
                    "epoch": first["epoch"],
                    "like_epoch_1": first["order"] == first_order and first["epoch"] != 1,
                }
    for row in logs:
        r = ref.get(row["epoch"])
        if r and not math.isclose(row["lr"], r["lr"], rel_tol=1e-9):
            ev["lr"] = {"epoch": row["epoch"], "resumed": row["lr"], "reference": r["lr"]}
            break
    return ev


def _limit_code(ended: str) -> str | None:
    return (
        {
            "cpu": "cpu",
            "timeout": "timeout",
            "killed": "killed",
            "output": "output",
            "protocol": "output",
        }.get(ended.split(" ")[0])
        if ended
        else None
    )


def checks_of(exercise: dict) -> tuple[dict, ...]:
    return tuple(exercise.get("checks") or CHECKS)


def verdict(exercise: dict, out: code_sandbox.Outcome, refs: dict[int, dict]) -> dict:
    """Turn what the sandbox reported into a verdict (pure: unit-testable without a sandbox)."""
    result: dict = {
        "status": "wrong",
        "diagnosis": "other",
        "details": {},
        "checks": [],
        "output": out.output,
        "output_bytes": out.output_bytes,
        "timing": {
            "wall_s": round(out.wall_s, 3),
            "startup_s": round(out.first_event_s, 3) if out.first_event_s else None,
        },
    }
    learner_phase = "save" if "save_checkpoint" in exercise["learner"] else "load"

    def stop(status: str, diagnosis: str, **details) -> dict:
        result.update(status=status, diagnosis=diagnosis, details=details)
        return result

    if out.ended == "output":
        return stop("limit", "output", kb=out.output_bytes // 1024)
    if out.ended in ("timeout", "sandbox", "protocol"):
        return stop("limit", "timeout" if out.ended == "timeout" else "sandbox", seconds=round(out.wall_s))
    # Split the event stream by check.
    per_check: list[list[dict]] = []
    for event in out.events:
        if event.get("ev") == "check":
            per_check.append([])
        elif per_check:
            per_check[-1].append(event)
    failed_ref = next((e for e in out.events if e.get("ev") == "failed"), None)
    if failed_ref:
        return stop("limit", "sandbox", seconds=round(out.wall_s))
    if not per_check:
        return stop("limit", "sandbox", seconds=round(out.wall_s))
    problems: list[tuple[dict, str, dict]] = []
    if exercise.get("kind") == "transfer":
        return _transfer_verdict(exercise, per_check, result, stop, learner_phase)
    for spec, events in zip(CHECKS, per_check, strict=False):  # a check that never ran: no events
        row: dict[str, Any] = {
            "seed": spec["seed"],
            "crash_after": spec["crash_after"],
            "hidden": spec["hidden"],
            "identical": False,
            "max_abs_diff": None,
            "restored": None,
            "start_epoch": None,
        }
        result["checks"].append(row)
        error = next((e for e in events if e.get("ev") == "error"), None)
        if error:
            mine = error["phase"] == learner_phase
            kind = "memory" if error["type"] == "MemoryError" else "error"
            status = "limit" if kind == "memory" else "error"
            return stop(
                status,
                kind,
                type=error["type"],
                message=error["message"],
                line=error.get("line"),
                where=("yours" if mine else "lesson"),
                phase=error["phase"],
                hidden=spec["hidden"],
            )
        train_end = next((e for e in events if e.get("ev") == "train_end"), None)
        if not train_end:
            return stop("limit", "sandbox", seconds=round(out.wall_s))
        if train_end["ended"] != "crashed":
            code = _limit_code(train_end["ended"]) or "sandbox"
            return stop("limit", code, phase="save", seconds=round(out.wall_s), ended=train_end["ended"])
        end = next((e for e in events if e.get("ev") == "resume_end"), None)
        if end and end["ended"] != "exit":
            code = _limit_code(end["ended"]) or "sandbox"
            return stop("limit", code, phase="load", seconds=round(out.wall_s), ended=end["ended"])
        restored = next((e for e in events if e.get("ev") == "restored"), None)
        resumed = next((e for e in events if e.get("ev") == "resumed"), None)
        if not restored or not resumed:
            return stop("limit", "sandbox", seconds=round(out.wall_s))
        # A load exercise's check brings its own reference (the same secret nudge as its run).
        ref = next((e for e in events if e.get("ev") == "reference"), None) or refs.get(spec["seed"])
        if ref is None:
            return stop("limit", "sandbox", seconds=round(out.wall_s))
        identical, worst = compare_weights(resumed["weights"], ref["weights"])
        row.update(
            identical=identical,
            max_abs_diff=None if math.isinf(worst) else worst,
            restored=restored["restored"],
            start_epoch=restored["start_epoch"],
            expected_start=restored["expected_start"],
        )
        if identical and restored["start_epoch"] == restored["expected_start"]:
            continue
        evidence = _evidence(resumed["logs"], ref["logs"])
        missing = [k for k in STATE if not restored["restored"].get(k)]
        if restored["restored"].get("bound") is False:
            missing.insert(0, "bound")
        if "scheduler" not in missing and not restored["restored"].get("lr"):
            missing.append("scheduler")
        details = {
            "hidden": spec["hidden"],
            "seed": spec["seed"],
            "crash_after": spec["crash_after"],
            "missing": missing,
            "evidence": evidence,
            "max_abs_diff": row["max_abs_diff"],
            "start_epoch": restored["start_epoch"],
            "expected_start": restored["expected_start"],
            "lr_now": restored["now"]["lr"],
            "lr_truth": restored["truth"]["lr"],
        }
        if restored["start_epoch"] != restored["expected_start"]:
            diagnosis = "epoch"
        elif missing:
            diagnosis = missing[0]
        else:
            diagnosis = "mismatch"
        problems.append((spec, diagnosis, details))
    if not problems:
        return stop("solved", "solved")
    spec, diagnosis, details = problems[0]
    details["visible_passed"] = bool(result["checks"]) and result["checks"][0]["identical"] and spec["hidden"]
    return stop("wrong", diagnosis, **details)


def _transfer_verdict(exercise, per_check, result, stop, learner_phase) -> dict:
    """Tensor by tensor: every tensor whose shape fits must hold the source's values, every
    other one its fresh initialisation."""
    specs = checks_of(exercise)
    problems = []
    for spec, events in zip(specs, per_check, strict=False):
        row: dict[str, Any] = {
            "seed": spec["seed"],
            "crash_after": 0,
            "hidden": spec["hidden"],
            "identical": False,
            "max_abs_diff": None,
            "start_epoch": None,
            "restored": None,
            "classes": spec["classes"],
            "variant": spec["variant"],
            "missing": None,
        }
        result["checks"].append(row)
        error = next((e for e in events if e.get("ev") == "error"), None)
        if error:
            kind = "memory" if error["type"] == "MemoryError" else "error"
            return stop(
                "limit" if kind == "memory" else "error",
                kind,
                type=error["type"],
                message=error["message"],
                line=error.get("line"),
                where="yours",
                phase="load",
                hidden=spec["hidden"],
                classes=spec["classes"],
                variant=spec["variant"],
            )
        end = next((e for e in events if e.get("ev") == "resume_end"), None)
        if end and end["ended"] != "exit":
            return stop("limit", _limit_code(end["ended"]) or "sandbox", phase="load", ended=end["ended"])
        t = next((e for e in events if e.get("ev") == "transfer"), None)
        if t is None:
            return stop("limit", "sandbox")
        not_loaded = [r["key"] for r in t["rows"] if r["compatible"] and not r["from_source"]]
        changed = [r["key"] for r in t["rows"] if not r["compatible"] and not r["untouched"]]
        row["identical"] = not not_loaded and not changed
        row["missing"] = t["missing"]
        if row["identical"]:
            continue
        loaded = sum(1 for r in t["rows"] if r["compatible"] and r["from_source"])
        diagnosis = "changed" if changed else ("nothing_loaded" if loaded == 0 else "not_loaded")
        if not changed and loaded and all(k.startswith("fc.") for k in not_loaded):
            diagnosis = "by_name"
        problems.append(
            (
                spec,
                diagnosis,
                {
                    "hidden": spec["hidden"],
                    "seed": spec["seed"],
                    "classes": spec["classes"],
                    "variant": spec["variant"],
                    "not_loaded": not_loaded[:12],
                    "changed": changed[:12],
                    "loaded": loaded,
                    "should": sum(1 for r in t["rows"] if r["compatible"]),
                    "missing_keys": t["missing"],
                },
            )
        )
    if not problems:
        return stop("solved", "solved")
    spec, diagnosis, details = problems[0]
    details["visible_passed"] = bool(result["checks"]) and result["checks"][0]["identical"] and spec["hidden"]
    return stop("wrong", diagnosis, **details)


def run_check(
    exercise: dict,
    code: str,
    references: References,
    limits: code_sandbox.Limits,
    sandboxed: bool = True,
    source: Path | None = None,
) -> dict:
    """The whole check: references (cached), the sandboxed run, the verdict. Blocks."""
    if exercise.get("kind") == "transfer":
        if source is None or not Path(source).exists():
            return {
                "status": "limit",
                "diagnosis": "no_source",
                "details": {},
                "checks": [],
                "output": "",
                "output_bytes": 0,
                "timing": {},
            }
        job = {
            "learner": exercise["learner"],
            "kind": "transfer",
            "references": [],
            "checks": [{k: c[k] for k in ("seed", "variant", "classes")} for c in checks_of(exercise)],
        }
        out = code_sandbox.run(job, code, limits, sandboxed=sandboxed, source=str(source))
        return verdict(exercise, out, {})
    if "save_checkpoint" not in exercise["learner"]:
        # A load exercise: each check trains from a secret nudge and brings its own reference.
        job = {
            "learner": exercise["learner"],
            "references": [],
            "checks": [{"seed": c["seed"], "crash_after": c["crash_after"]} for c in CHECKS],
            "device": exercise.get("kind") == "device",
        }
        return verdict(exercise, code_sandbox.run(job, code, limits, sandboxed=sandboxed), {})
    cached = {c["seed"]: references.get(c["seed"]) for c in CHECKS}
    job = {
        "learner": exercise["learner"],
        "references": [s for s, r in cached.items() if r is None],
        "checks": [{"seed": c["seed"], "crash_after": c["crash_after"]} for c in CHECKS],
        "device": exercise.get("kind") == "device",
    }
    out = code_sandbox.run(job, code, limits, sandboxed=sandboxed)
    # References come first, from children forked before any learner code was imported.
    refs = {s: r for s, r in cached.items() if r is not None}
    first_check = next((i for i, e in enumerate(out.events) if e.get("ev") == "check"), len(out.events))
    for event in (e for e in out.events[:first_check] if e.get("ev") == "reference"):
        data = {"logs": event["logs"], "weights": event["weights"]}
        refs[event["seed"]] = data
        references.put(event["seed"], data)
    return verdict(exercise, out, refs)

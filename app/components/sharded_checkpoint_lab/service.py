"""The ShardedCheckpointLab's experiments as jobs of the learner's session (kind "sharded"): submitted
through the job backend, queued like runs, run on real ranks by its executor; their results are
stored with the job and read back here. Plus what the page shows of them."""

from __future__ import annotations

import re
from typing import Any

from fastapi import HTTPException, Request

from app.components.sharded_checkpoint_lab.schemas import ExperimentIn
from app.jobs.protocol import JobBackend, Run
from app.jobs.sharded_tasks import KIND
from app.sessions import session_id

KEEP = 4  # a learner's finished experiments kept (the page shows the last; the API any of these)


def _jobs(request: Request) -> JobBackend:
    jobs: JobBackend = request.app.state.jobs
    return jobs


def submit(request: Request, experiment: ExperimentIn) -> Run:
    """Queue the experiment for the learner (raises LimitReached like a run would)."""
    jobs, sid = _jobs(request), session_id(request)
    run = jobs.submit(sid, KIND, experiment.model_dump())
    old = [r for r in jobs.session_runs(sid) if r.kind == KIND and not r.active]
    for stale in old[: max(0, len(old) - KEEP)]:
        jobs.delete(stale.id)
    return run


def owned(request: Request, run_id: str) -> Run:
    run = _jobs(request).run(run_id) if len(run_id) <= 64 else None
    if run is None or run.kind != KIND or run.session != session_id(request):
        raise HTTPException(404, "no such experiment")
    return run


def state(request: Request, run: Run) -> dict[str, Any]:
    """The experiment as the API and the page show it: waiting (and where), running, or its result."""
    jobs = _jobs(request)
    results = jobs.events(run.id, "result")
    result = {"case": results[-1]["case"], **results[-1]["result"]} if results else None
    config = run.config
    return {
        "id": run.id,
        "status": str(run.status),
        "active": run.active,
        "queue_position": jobs.queue_position(run.id),
        "case": config["case"],
        "world": config["world"],
        "sharding": config["sharding"],
        "load_world": config["load_world"],
        "error": run.error,
        "result": result,
    }


# --- what the page shows -------------------------------------------------------------------------
def writer_of(file: str) -> int | None:
    """The rank that wrote a DCP file: `__<rank>_0.distcp`; `.metadata` is the coordinator's (rank 0)."""
    if file == ".metadata":
        return 0
    found = re.fullmatch(r"__(\d+)_\d+\.distcp", file)
    return int(found.group(1)) if found else None


def file_rows(saved: dict[str, Any]) -> list[dict[str, Any]]:
    """Each file with its writer and the slices it holds, for the files table."""
    rows = []
    for f in saved["files"]:
        held = [s for s in saved["slices"] if s["file"] == f["name"]]
        rows.append({**f, "rank": writer_of(f["name"]), "slices": held, "metadata": f["name"] == ".metadata"})
    return rows


def worst_diff(loaded: dict[str, Any] | None) -> float | None:
    if not loaded:
        return None
    diffs = [t["max_abs_diff"] for r in loaded["ranks"] for t in r.get("tensors", [])]
    return max(diffs) if diffs else None


def mask_text(mask: list[int]) -> str:
    """A dropout mask as the page prints it: 1 kept, 0 dropped."""
    return "".join(str(v) for v in mask)

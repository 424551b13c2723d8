"""The function a worker process starts with, importable without torch.

multiprocessing sends the target by reference, so the web process must be able to import it;
the real body (and torch) is imported in the child, where the forkserver has preloaded it.
"""

from typing import Any


def run_job(job: dict, conn: Any) -> None:
    from app.jobs.worker import run_job as body

    body(job, conn)

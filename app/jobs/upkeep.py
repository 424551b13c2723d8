"""The run service's housekeeping: what a run's end leaves to check (a resume against its reference,
what a crash left on disk), the disk cap, and the sessions that left.

The checks open checkpoint files with torch.load, so they run in throwaway sandboxed processes
(app/jobs/tasks.py), one at a time, on a thread of their own: never on the monitor thread.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from app.jobs import processes
from app.jobs.protocol import NotAllowed, Run, RunStatus
from app.jobs.store import RunStore
from app.jobs.tasks import compare_finals, verify_run_files
from app.ml import layout
from app.settings import Settings

log = logging.getLogger(__name__)


class Upkeep:
    def __init__(self, settings: Settings, store: RunStore, delete: Callable[[str], None]) -> None:
        self.settings = settings
        self.runs_dir = settings.runs_dir
        self.store = store
        self._delete = delete  # the run service's: it also takes a lineage's waiting runs out of line
        self._checks = ThreadPoolExecutor(max_workers=1, thread_name_prefix="verify")
        self._lock = threading.Lock()
        # Bytes under runs_dir: walked once, then kept up to date as runs end and lineages go,
        # so that a run's end does not cost a walk over every file the server ever kept.
        self.disk_used: int | None = None

    def stop(self) -> None:
        self._checks.shutdown(wait=False, cancel_futures=True)

    # --- after a run's end ---
    def compare(self, run: Run) -> None:
        """A resume that finished is compared with its finished reference (or a reference that
        finished, with every finished resume waiting for it)."""
        if not run.reference_key:
            return
        if run.kind == "resume":
            pairs = [(run, self.store.reference(run.reference_key))]
        elif run.kind == "reference":
            pairs = [(r, run) for r in self.store.resumes_for_reference(run.reference_key)]
        else:
            return
        for resumed, ref in pairs:
            if ref is not None and ref.status is RunStatus.DONE and resumed.status is RunStatus.DONE:
                self._checks.submit(self._record_comparison, resumed.id, ref.id)

    def _record_comparison(self, run_id: str, ref_id: str) -> None:
        try:
            result = processes.call_in_sandbox(
                compare_finals,
                str(self.runs_dir / run_id / layout.FINAL_FILE),
                str(self.runs_dir / ref_id / layout.FINAL_FILE),
                timeout=30,
            )
        except Exception as exc:
            result = {"error": str(exc)}
        self.store.add_event(run_id, "comparison", {"reference": ref_id, **result})

    def check_survivors(self, run_id: str) -> None:
        self._checks.submit(self._record_survivors, run_id)

    def _record_survivors(self, run_id: str) -> None:
        """What a crash left on disk, judged by torch.load itself in a throwaway process."""
        try:
            report = processes.call_in_sandbox(verify_run_files, str(self.runs_dir / run_id), timeout=30)
        except Exception as exc:
            report = {"error": str(exc), "files": []}
        self.store.add_event(run_id, "survivors", report)

    # --- the disk ---
    def remove_files(self, run_id: str) -> None:
        folder = self.runs_dir / run_id
        with self._lock:
            if self.disk_used is not None:
                self.disk_used -= tree_size(folder)
        shutil.rmtree(folder, ignore_errors=True)

    def enforce_disk_cap(self, ended: str, keep_root: str | None = None) -> None:
        """Over the cap, whole finished lineages go, oldest first; never the one that just ended."""
        cap = self.settings.disk_cap_mb * 1024 * 1024
        with self._lock:
            if self.disk_used is None:
                self.disk_used = tree_size(self.runs_dir)
            else:
                self.disk_used += tree_size(self.runs_dir / ended)  # a run writes only until it ends
            if self.disk_used <= cap:
                return
        for root in self.store.finished_roots_oldest_first():
            if (self.disk_used or 0) <= cap:
                break
            if root.id == keep_root:
                continue
            before = self.disk_used or 0
            try:
                self._delete(root.id)
            except NotAllowed:  # became active meanwhile
                continue
            log.info("disk cap: removed run %s (%d bytes)", root.id, before - (self.disk_used or 0))

    # --- sessions that left ---
    def expire_idle(self, now: float | None = None) -> int:
        """Remove the runs and files of sessions idle for SESSION_TTL_DAYS: learners who left
        (or scripts that dropped their cookie) do not keep the disk and the database forever."""
        before = (now or time.time()) - self.settings.session_ttl_days * 86400
        removed = 0
        for root_id in self.store.idle_roots(before):
            try:
                self._delete(root_id)
                removed += 1
            except NotAllowed:  # became active meanwhile: its session is not idle after all
                continue
        if removed:
            log.info("expired %d idle lineages", removed)
        return removed


def tree_size(path: Path) -> int:
    # Files come and go while a run writes (temp files renamed, old checkpoints deleted):
    # one that vanishes between the listing and its stat counts as nothing.
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name), follow_symlinks=False).st_size
            except OSError:
                continue
    return total

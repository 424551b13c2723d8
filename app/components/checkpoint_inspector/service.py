"""Inspecting an uploaded file and keeping the learner's reports.

The file is received by upload.receive_file into a per-session folder under DATA_DIR/uploads,
inspected in the sandbox (memory and time limits from the settings; torch.load with
weights_only=True only) and deleted straight after. Reports stay in memory, per session: the
last few of each learner, never visible to another.
"""
from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from pathlib import Path

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from app.components.checkpoint_inspector.upload import Received, receive_file
from app.jobs.lab_tasks import ci_inspect
from app.jobs.processes import SandboxError, SandboxFailure, call_limited
from app.sessions import session_id

KEEP_PER_SESSION = 5
MAX_SESSIONS = 500          # least recently used sessions' reports are forgotten past this
INSPECTIONS_AT_ONCE = 2


class ReportStore:
    def __init__(self, per_session: int = KEEP_PER_SESSION, sessions: int = MAX_SESSIONS):
        self._data: OrderedDict[str, OrderedDict[str, dict]] = OrderedDict()
        self._lock = threading.Lock()
        self.per_session = per_session
        self.sessions = sessions

    def add(self, sid: str, entry: dict) -> None:
        with self._lock:
            reports = self._data.setdefault(sid, OrderedDict())
            self._data.move_to_end(sid)
            reports[entry["id"]] = entry
            while len(reports) > self.per_session:
                reports.popitem(last=False)
            while len(self._data) > self.sessions:
                self._data.popitem(last=False)

    def get(self, sid: str, report_id: str) -> dict | None:
        with self._lock:
            return self._data.get(sid, {}).get(report_id)

    def list(self, sid: str) -> list[dict]:
        with self._lock:
            return list(reversed(self._data.get(sid, {}).values()))


def store(request: Request) -> ReportStore:
    return request.app.state.inspector_reports


def limit_bytes(request: Request) -> int:
    return request.app.state.settings.upload_max_mb * 1024 * 1024


def upload_folder(request: Request) -> Path:
    # Named after a hash of the session id: the id itself never appears on disk.
    digest = hashlib.sha256(session_id(request).encode()).hexdigest()[:24]
    return Path(request.app.state.settings.data_dir) / "uploads" / digest


_slots = threading.BoundedSemaphore(INSPECTIONS_AT_ONCE)


def _inspect_blocking(request: Request, received: Received) -> dict:
    settings = request.app.state.settings
    limits = {"max_file_bytes": limit_bytes(request)}
    try:
        with _slots:
            return call_limited(settings, ci_inspect, str(received.path), received.filename, limits)
    except SandboxFailure as exc:
        return _failed(received, "sandbox", exc.type_name, exc.message)
    except SandboxError as exc:
        return _failed(received, "limits", None, f"The inspection stopped: it {exc} (limits: "
                                                 f"{settings.inspect_timeout_s:.0f} s, {settings.inspect_memory_mb} MB).")


def _failed(received: Received, stage: str, error_type: str | None, error: str) -> dict:
    return {"ok": False, "filename": received.filename, "extension": None, "format": None, "bytes": received.size,
            "stage": stage, "error_type": error_type, "error": error, "verdict": None, "zip": None,
            "metadata": None, "tree": [], "truncated": False,
            "totals": {"leaves": 0, "tensors": 0, "numel": 0, "tensor_bytes": 0}, "notes": []}


async def inspect_upload(request: Request, drain: bool = False) -> dict:
    """Receive, inspect, delete, remember. Raises upload.UploadRejected for bad requests."""
    folder = upload_folder(request)
    limit = limit_bytes(request)
    received = await receive_file(request, folder, limit, drain=2 * limit if drain else 0)
    try:
        report = await run_in_threadpool(_inspect_blocking, request, received)
    finally:
        received.path.unlink(missing_ok=True)
        try:
            folder.rmdir()  # only if empty: another upload of the session may be in flight
        except OSError:
            pass
    entry = {"id": secrets.token_urlsafe(9), "filename": received.filename, "bytes": received.size,
             "created": time.time(), "report": report}
    store(request).add(session_id(request), entry)
    return entry


def summary(entry: dict) -> dict:
    report = entry["report"]
    verdict = report.get("verdict") or {}
    return {"id": entry["id"], "filename": entry["filename"], "bytes": entry["bytes"], "created": entry["created"],
            "ok": report.get("ok"), "safe": verdict.get("safe"), "stage": report.get("stage")}

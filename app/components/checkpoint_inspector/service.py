"""Inspecting an uploaded file and keeping the learner's reports.

The file is received by upload.receive_file into a per-session folder under DATA_DIR/uploads,
inspected in the sandbox (memory and time limits from the settings; torch.load with
weights_only=True only) and deleted straight after. The sandbox cuts every report to
REPORT_BYTES of JSON before sending it back; reports are then kept on disk, per session
(the last few of each learner, never visible to another), and expire after REPORT_TTL_HOURS:
the web process holds none of them in memory, whatever is uploaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import anyio
from fastapi import Request

from app.components.checkpoint_inspector.upload import Received, UploadRejected, body_cap, receive_file
from app.components.labs import sandbox_limiter
from app.jobs.lab_tasks import ci_inspect
from app.jobs.processes import SandboxError, SandboxFailure, call_limited
from app.sessions import has_session, session_id

_ID = re.compile(r"^[A-Za-z0-9_-]{8,32}$")
SWEEP_EVERY_S = 60.0
# A report's JSON at most (the sandbox cuts it and says "… N more"): a 4 KB pickle can
# otherwise describe 90 MB of key paths.
REPORT_BYTES = 512 * 1024


def session_digest(sid: str) -> str:
    # Folders are named after a hash of the session id: the id itself never appears on disk.
    return hashlib.sha256(sid.encode()).hexdigest()[:24]


class ReportStore:
    """Reports as JSON files: DATA_DIR/reports/<session digest>/<id>.json, with a small
    <id>.summary.json beside each so that listing a learner's reports reads a few hundred bytes.

    Bounded per session (per_session newest kept), in age (ttl_s) and in sessions (the least
    recently written folders past max_sessions go first)."""

    def __init__(
        self,
        root: Path,
        per_session: int = 5,
        ttl_s: float = 72 * 3600,
        max_sessions: int = 2000,
        max_bytes: int = 200 * 1024 * 1024,
    ):
        self.root = Path(root)
        self.per_session = per_session
        self.ttl_s = ttl_s
        self.max_sessions = max_sessions
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._swept = 0.0
        self._written = 0  # bytes written since the last sweep measured the folder

    def _folder(self, sid: str) -> Path:
        return self.root / session_digest(sid)

    def add(self, sid: str, entry: dict) -> None:
        folder = self._folder(sid)
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in ((f"{entry['id']}.json", entry), (f"{entry['id']}.summary.json", summary(entry))):
            tmp = folder / f".{name}.{secrets.token_hex(4)}.tmp"
            self._written += tmp.write_bytes(json.dumps(data, ensure_ascii=False).encode())
            os.replace(tmp, folder / name)  # readers see the old list or the new one, never half a file
        with self._lock:
            for old in self._summaries(folder)[self.per_session :]:
                self._remove(folder, old["id"])
        # Over a tenth of the disk budget written since the last look: look now, not in a minute.
        self.sweep(force=self._written > self.max_bytes // 10)

    @staticmethod
    def _remove(folder: Path, report_id: str) -> None:
        for name in (f"{report_id}.summary.json", f"{report_id}.json"):
            (folder / name).unlink(missing_ok=True)

    def _summaries(self, folder: Path) -> list[dict]:
        """Newest first. Files may vanish between listing and reading (another tab's upload
        pushing an old report out, the sweep): those are skipped, not errors."""
        out = []
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return []
        for name in names:
            if not name.endswith(".summary.json") or name.startswith("."):
                continue
            try:
                out.append(json.loads((folder / name).read_text()))
            except (OSError, ValueError):
                continue
        cutoff = time.time() - self.ttl_s
        return sorted(
            (e for e in out if e.get("created", 0) >= cutoff), key=lambda e: e.get("created", 0), reverse=True
        )

    def get(self, sid: str, report_id: str) -> dict | None:
        if not _ID.match(report_id):
            return None
        try:
            entry = json.loads((self._folder(sid) / f"{report_id}.json").read_text())
        except (OSError, ValueError):
            return None
        return entry if entry.get("created", 0) >= time.time() - self.ttl_s else None

    def list(self, sid: str) -> list[dict]:
        return self._summaries(self._folder(sid))[: self.per_session]

    def sweep(self, force: bool = False) -> None:
        """Delete expired reports, then whole sessions' folders, least recently written first,
        past max_sessions or past max_bytes in all (REPORTS_DISK_MB)."""
        now = time.time()
        if not force and now - self._swept < SWEEP_EVERY_S:
            return
        self._swept, self._written = now, 0
        try:
            folders = [(f.stat().st_mtime, f) for f in self.root.iterdir() if f.is_dir()]
        except FileNotFoundError:
            return
        folders.sort(reverse=True)
        total = 0
        for i, (mtime, folder) in enumerate(folders):
            if i >= self.max_sessions or mtime < now - self.ttl_s:
                shutil.rmtree(folder, ignore_errors=True)
                continue
            size = 0
            try:
                for f in folder.iterdir():
                    st = f.stat()
                    if st.st_mtime < now - self.ttl_s:
                        f.unlink(missing_ok=True)
                    else:
                        size += st.st_size
            except FileNotFoundError:
                continue
            total += size
            if total > self.max_bytes:
                shutil.rmtree(folder, ignore_errors=True)
                total -= size


def sweep_uploads(settings, older_than_s: float = 3600.0) -> None:
    """Uploads are deleted straight after their inspection; a server killed meanwhile leaves
    them behind. At start-up, remove what is older than any upload in progress could be."""
    root = Path(settings.data_dir) / "uploads"
    cutoff = time.time() - older_than_s
    for folder in root.iterdir() if root.is_dir() else []:
        for f in folder.iterdir() if folder.is_dir() else []:
            try:
                if f.stat().st_mtime < cutoff:
                    f.unlink()
            except OSError:
                continue
        with contextlib.suppress(OSError):
            folder.rmdir()


def make_store(settings) -> ReportStore:
    return ReportStore(
        Path(settings.data_dir) / "reports",
        per_session=settings.reports_per_session,
        ttl_s=settings.report_ttl_hours * 3600,
        max_bytes=settings.reports_disk_mb * 1024 * 1024,
    )


def store(request: Request) -> ReportStore:
    return request.app.state.inspector_reports


def limit_bytes(request: Request) -> int:
    return request.app.state.settings.upload_max_mb * 1024 * 1024


def upload_folder(request: Request) -> Path:
    return Path(request.app.state.settings.data_dir) / "uploads" / session_digest(session_id(request))


def report_limits(settings) -> dict:
    return {
        "max_file_bytes": settings.upload_max_mb * 1024 * 1024,
        "report_bytes": REPORT_BYTES,
    }


class Gate:
    """How many received files may wait for a sandbox (each keeps its file on disk), and uploads
    in flight per session (so one browser's slow or repeated uploads cannot take every place)."""

    def __init__(self, waiting_max: int, per_session: int):
        self.waiting_max = waiting_max
        self.per_session = per_session
        self.waiting = 0  # received, waiting for or in the sandbox
        self.sessions: dict[str, int] = {}


def gate(request: Request) -> Gate:
    return request.app.state.inspector_gate


def _inspect_blocking(settings, received: Received) -> dict:
    # A header-only upload is a sparse file of the real size, above max_file_bytes: the sandbox
    # reads it from its header, and "sent" tells it which bytes really came.
    limits = report_limits(settings) | {"sent": received.sent}
    try:
        return call_limited(settings, ci_inspect, str(received.path), received.filename, limits)
    except SandboxFailure as exc:
        return _failed(received, "sandbox", exc.type_name, exc.message[:2000])
    except SandboxError as exc:
        return _failed(
            received,
            "limits",
            None,
            f"The inspection stopped: it {exc} (limits: "
            f"{settings.inspect_timeout_s:.0f} s, {settings.inspect_memory_mb} MB).",
        )


def _failed(received: Received, stage: str, error_type: str | None, error: str) -> dict:
    return {
        "ok": False,
        "filename": received.filename,
        "extension": None,
        "format": None,
        "bytes": received.size,
        "stage": stage,
        "error_type": error_type,
        "error": error,
        "verdict": None,
        "zip": None,
        "metadata": None,
        "tree": [],
        "truncated": False,
        "totals": {"leaves": 0, "tensors": 0, "numel": 0, "tensor_bytes": 0},
        "notes": [],
        "more": {"leaves": 0, "globals": 0, "metadata": 0, "zip_entries": 0, "notes": 0},
        "reading": "full",
        "kind": None,
        "audit": None,
        "sent": received.sent,
    }


async def inspect_upload(request: Request, drain: bool = False) -> dict:
    """Receive, inspect, delete, remember. Raises upload.UploadRejected for bad requests."""
    settings = request.app.state.settings
    g = gate(request)
    limit = limit_bytes(request)
    if not has_session(request):
        await _refuse(
            request,
            drain,
            limit,
            UploadRejected(
                403, "no_session", "no session yet: open a page of the lesson (or GET /api/session) first"
            ),
        )
    sid = session_id(request)
    if g.sessions.get(sid, 0) >= g.per_session:
        await _refuse(
            request,
            drain,
            limit,
            UploadRejected(
                429, "busy_session", f"at most {g.per_session} uploads of one browser are inspected at once"
            ),
        )
    g.sessions[sid] = g.sessions.get(sid, 0) + 1
    try:
        folder = upload_folder(request)
        received = await receive_file(request, folder, limit, drain=2 * body_cap(limit) if drain else 0)
        try:
            limiter = sandbox_limiter(request.app)  # the server's one (a waiting upload holds no thread)
            if g.waiting >= g.waiting_max + int(limiter.total_tokens):
                raise UploadRejected(503, "busy", "too many inspections are waiting; try again in a minute")
            g.waiting += 1
            try:
                # The limiter is taken before a thread is: waiting uploads cost no thread of the
                # request pool, and the sandbox's threads are counted apart from it.
                report = await anyio.to_thread.run_sync(
                    _inspect_blocking, settings, received, limiter=limiter
                )
            finally:
                g.waiting -= 1
        finally:
            received.path.unlink(missing_ok=True)
            with contextlib.suppress(
                OSError
            ):  # only if empty: another upload of the session may be in flight
                folder.rmdir()
    finally:
        g.sessions[sid] -= 1
        if not g.sessions[sid]:
            del g.sessions[sid]
    entry = {
        "id": secrets.token_urlsafe(9),
        "filename": received.filename,
        "bytes": received.size,
        "created": time.time(),
        "report": report,
    }
    await anyio.to_thread.run_sync(store(request).add, sid, entry)
    return entry


async def _refuse(request: Request, drain: bool, limit: int, exc: UploadRejected):
    if drain:  # a browser still sending must get to read the answer
        await _drain(request, 2 * limit)
    raise exc


async def _drain(request: Request, cap: int) -> None:
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > cap:
            return


def summary(entry: dict) -> dict:
    report = entry["report"]
    verdict = report.get("verdict") or {}
    return {
        "id": entry["id"],
        "filename": entry["filename"],
        "bytes": entry["bytes"],
        "created": entry["created"],
        "ok": report.get("ok"),
        "safe": verdict.get("safe"),
        "stage": report.get("stage"),
    }


def key_tree(report: dict) -> dict:
    """The report's leaves grouped by module prefix (the dotted path's segments): each node with
    its direct leaves, its child nodes, and the number of keys, tensors and tensor bytes below it."""
    root: dict[str, Any] = {
        "name": "",
        "prefix": "",
        "children": {},
        "leaves": [],
        "count": 0,
        "tensors": 0,
        "bytes": 0,
    }
    for leaf in report.get("tree") or []:
        parts = leaf["path"].split(".")
        node = root
        chain = [root]
        for i, part in enumerate(parts[:-1]):
            node = node["children"].setdefault(
                part,
                {
                    "name": part,
                    "prefix": ".".join(parts[: i + 1]),
                    "children": {},
                    "leaves": [],
                    "count": 0,
                    "tensors": 0,
                    "bytes": 0,
                },
            )
            chain.append(node)
        node["leaves"].append({**leaf, "name": parts[-1]})
        for n in chain:
            n["count"] += 1
            if leaf.get("kind") == "tensor":
                n["tensors"] += 1
                n["bytes"] += leaf.get("bytes") or 0
    return _listed(root)


def _listed(node: dict) -> dict:
    node["children"] = [_listed(c) for c in node["children"].values()]
    return node


def human_bytes(n: int | None) -> str:
    size: float = n or 0
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{size} B"

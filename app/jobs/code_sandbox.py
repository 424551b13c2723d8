"""A sandbox for learners' code, torch-free on the server's side.

Every check is a fresh process tree under bubblewrap: its own user, PID, network (none), IPC and
UTS namespaces; the system, the Python installation, the virtualenv and the lesson's training code
mounted read-only; a private, size-capped tmpfs at /check as the only writable place (the check's
own files, read-only, under /check/in); a new session; killed with the server (--die-with-parent)
and by a wall-clock timeout. Inside, exercise_runner.py sets CPU-time, address-space, file-size
and process-count limits before the learner's code runs. DATA_DIR (run records, the session key)
and the rest of the repository are simply not there.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
BWRAP = shutil.which("bwrap") or "/usr/bin/bwrap"


@dataclass(frozen=True)
class Limits:
    wall_s: float = 60.0  # the whole check
    phase_wall_s: float = 20.0  # one phase (train, resume)
    cpu_s: int = 20  # CPU seconds per phase process
    memory_mb: int = 512  # address space on top of what torch needs
    file_mb: int = 16  # largest file
    tmp_mb: int = 64  # the whole writable /check
    procs: int = 64  # processes and threads of the sandbox's user
    output_kb: int = 64  # printed output kept for the page
    output_max_kb: int = 1024  # printed output at most: past it the check is stopped


@dataclass
class Outcome:
    events: list[dict] = field(default_factory=list)
    output: str = ""
    output_bytes: int = 0
    ended: str = "ok"  # ok | timeout | output | protocol | sandbox
    exit_code: int | None = None
    wall_s: float = 0.0
    first_event_s: float | None = None  # start-up: sandbox + interpreter + torch import

    def of(self, kind: str) -> list[dict]:
        return [e for e in self.events if e.get("ev") == kind]


VENV_INSIDE = "/lab/venv"
# Mount points the sandbox makes itself: nothing of the host's may be needed beneath them.
OWN_MOUNTS = ("/check", "/lab", "/proc", "/dev")


def _interpreter() -> tuple[list[tuple[str, str]], str]:
    """(host path, path inside) read-only mounts the interpreter needs, and its path inside.

    A virtualenv is mounted at /lab/venv rather than at its own path: the host's checkout may lie
    under a path the sandbox uses itself (a clone at /check/..., hidden by the private /check), and
    a virtualenv runs from anywhere (its pyvenv.cfg names the base Python, which stays in place)."""
    venv = os.path.realpath(sys.prefix)
    in_venv = venv != os.path.realpath(sys.base_prefix)
    base = {os.path.realpath(sys.base_prefix), str(Path(os.path.realpath(sys.executable)).parent.parent)}
    base = {r for r in base if not (in_venv and (r == venv or r.startswith(venv + "/")))}
    mounts = [(r, r) for r in sorted(base) if r != "/usr" and not r.startswith("/usr/")]
    exe = sys.executable
    if in_venv:
        mounts.append((venv, VENV_INSIDE))
        exe = f"{VENV_INSIDE}/{os.path.relpath(sys.executable, sys.prefix)}"
    return mounts, exe


def _collisions(mounts: list[tuple[str, str]]) -> list[str]:
    return [
        inside
        for _, inside in mounts
        if inside != VENV_INSIDE and any(inside == own or inside.startswith(own + "/") for own in OWN_MOUNTS)
    ]


def python_inside() -> str:
    """The interpreter's path inside the sandbox."""
    return _interpreter()[1]


def bwrap_args(
    job_dir: str, limits: Limits, info_fd: int | None = None, binds: tuple[tuple[str, str], ...] = ()
) -> list[str]:
    args = (
        [BWRAP]
        + (["--info-fd", str(info_fd)] if info_fd is not None else [])
        + [
            "--unshare-all",
            "--uid",
            "65534",
            "--gid",
            "65534",
            "--die-with-parent",
            "--new-session",
            "--cap-drop",
            "ALL",
            "--ro-bind",
            "/usr",
            "/usr",
            # A private /tmp first: the binds below may live under the host's /tmp (a checkout or
            # virtualenv there) and must be mounted over it, not hidden by it.
            "--size",
            str(8 * 1024 * 1024),
            "--tmpfs",
            "/tmp",
        ]
    )
    for name in ("bin", "lib", "lib64", "sbin"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), f"/{name}"]
        elif path.is_dir():
            args += ["--ro-bind", str(path), f"/{name}"]
    mounts, exe = _interpreter()
    for host, inside in mounts:
        args += ["--ro-bind", host, inside]
    for etc in ("/etc/ld.so.cache", "/etc/localtime"):
        if os.path.exists(etc):
            args += ["--ro-bind", etc, etc]
    args += [
        "--ro-bind",
        str(REPO / "app" / "ml"),
        "/lab/app/ml",
        "--ro-bind",
        str(REPO / "app" / "jobs" / "exercise_runner.py"),
        "/lab/app/jobs/exercise_runner.py",
        *[arg for host, inside in binds for arg in ("--ro-bind", host, inside)],
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--size",
        str(limits.tmp_mb * 1024 * 1024),
        "--tmpfs",
        "/check",
        "--ro-bind",
        job_dir,
        "/check/in",
        "--remount-ro",
        "/",  # the sandbox's own root (mount points bwrap made) is read-only too
        "--chdir",
        "/check",
        "--clearenv",
        "--setenv",
        "OMP_NUM_THREADS",
        "1",
        "--setenv",
        "MKL_NUM_THREADS",
        "1",
        "--setenv",
        "HOME",
        "/check",
        "--setenv",
        "PYTHONDONTWRITEBYTECODE",
        "1",
        "--setenv",
        "PATH",
        "/usr/bin:/bin",
        exe,
        "-I",
        "/lab/app/jobs/exercise_runner.py",
        "/check/in/job.json",
    ]
    return args


@lru_cache(maxsize=1)
def availability() -> tuple[bool, str]:
    """(usable, why not): bubblewrap present, allowed to make its namespaces here, and the
    interpreter starting inside it (so a mount that hides it is found here, not by a learner)."""
    if not os.path.exists(BWRAP):
        return False, "bubblewrap (bwrap) is not installed"
    hidden = _collisions(_interpreter()[0])
    if hidden:
        return False, f"the interpreter lies under a path the sandbox mounts itself: {', '.join(hidden)}"
    with tempfile.TemporaryDirectory(prefix="cl-probe-") as d:
        cmd = bwrap_args(d, Limits())[:-2] + [
            "-c",
            "import json, sys; print(json.dumps(sys.version_info[:2]))",
        ]
        try:
            r = subprocess.run(cmd, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, f"bubblewrap could not start: {exc}"
    if r.returncode != 0 or r.stdout.strip() != json.dumps(list(sys.version_info[:2])).encode():
        why = r.stderr.decode(errors="replace").strip()[:300] or f"exit code {r.returncode}"
        return False, "the sandbox could not start Python: " + why
    return True, ""


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # bwrap leads its own group; its children die with it
    except (ProcessLookupError, PermissionError):
        pass


def _reap_namespace(info_r: int | None) -> None:
    """Kill the sandbox's init and wait until it is gone: the kernel kills every process of its
    PID namespace first, so nothing the learner started (a fork bomb's children) outlives it."""
    if info_r is None:
        return
    try:
        os.set_blocking(info_r, False)
        pid = int(json.loads(os.read(info_r, 4096).decode())["child-pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    end = time.monotonic() + 30
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < end:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break  # a zombie whose namespace is empty; its parent (bwrap) is reaped
        except OSError:
            break
        time.sleep(0.02)


def run(
    job: dict,
    code: str,
    limits: Limits,
    on_event=None,
    sandboxed: bool = True,
    binds: tuple[tuple[str, str], ...] = (),
) -> Outcome:
    """Run one check in a fresh sandbox; blocks until it ends (call it from a worker thread).

    sandboxed=False runs the same runner without bubblewrap (rlimits and timeouts still apply):
    only for code assembled from the lesson's own lines (assemble mode), never for free code.
    binds: (host file, path inside) pairs mounted read-only, e.g. a pretrained source."""
    out = Outcome()
    job = {
        **job,
        "limits": {
            "cpu_s": limits.cpu_s,
            "memory_mb": limits.memory_mb,
            "file_mb": limits.file_mb,
            "procs": limits.procs,
            "phase_wall_s": limits.phase_wall_s,
        },
    }
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cl-check-") as root:
        job_dir = os.path.join(root, "in")
        os.mkdir(job_dir)
        info_r, info_w = os.pipe()  # bwrap writes {"child-pid": N}: the sandbox's init, seen from here
        if sandboxed:
            cmd = bwrap_args(job_dir, limits, info_w, binds)
        else:
            job.update(dir=root, lab=str(REPO), **({"source": binds[0][0]} if binds else {}))
            cmd = [
                sys.executable,
                "-I",
                str(REPO / "app" / "jobs" / "exercise_runner.py"),
                os.path.join(job_dir, "job.json"),
            ]
        Path(job_dir, "job.json").write_text(json.dumps(job))
        Path(job_dir, "solution.py").write_text(code, encoding="utf-8")
        os.chmod(job_dir, 0o755)
        for name in ("job.json", "solution.py"):
            os.chmod(Path(job_dir, name), 0o644)
        try:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                cwd=root,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                close_fds=True,
                pass_fds=(info_w,) if sandboxed else (),
            )
        except OSError as exc:
            os.close(info_r)
            os.close(info_w)
            out.ended = "sandbox"
            out.output = str(exc)
            return out
        os.close(info_w)
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ, "proto")
        sel.register(proc.stderr, selectors.EVENT_READ, "output")
        proto, printed, proto_bytes = b"", bytearray(), 0
        open_streams = 2
        try:
            while open_streams:
                left = limits.wall_s - (time.monotonic() - t0)
                if left <= 0:
                    out.ended = "timeout"
                    break
                for key, _ in sel.select(timeout=min(left, 1.0)):
                    chunk = os.read(key.fileobj.fileno(), 65536)
                    if not chunk:
                        sel.unregister(key.fileobj)
                        open_streams -= 1
                        continue
                    if key.data == "output":
                        out.output_bytes += len(chunk)
                        room = limits.output_kb * 1024 - len(printed)
                        if room > 0:
                            printed += chunk[:room]
                        if out.output_bytes > limits.output_max_kb * 1024:
                            out.ended = "output"
                            open_streams = 0
                            break
                        continue
                    proto_bytes += len(chunk)
                    if proto_bytes > 32 * 1024 * 1024:
                        out.ended = "protocol"
                        open_streams = 0
                        break
                    proto += chunk
                    while b"\n" in proto:
                        line, proto = proto.split(b"\n", 1)
                        try:
                            event = json.loads(line)
                        except ValueError:
                            continue
                        if not isinstance(event, dict):
                            continue
                        if out.first_event_s is None:
                            out.first_event_s = time.monotonic() - t0
                        out.events.append(event)
                        if on_event:
                            on_event(event)
        finally:
            _kill(proc)
            proc.wait()
            _reap_namespace(info_r if sandboxed else None)
            os.close(info_r)
            sel.close()
            proc.stdout.close()
            proc.stderr.close()
        out.exit_code = proc.returncode
        out.output = printed.decode("utf-8", errors="replace")
        out.wall_s = time.monotonic() - t0
        if out.ended == "ok" and not out.of("done") and not out.events:
            out.ended = "sandbox"
    return out


class Gate:
    """At most `at_once` checks run at the same time; at most `waiting` more wait for a slot."""

    def __init__(self, at_once: int, waiting: int):
        self._slots = threading.BoundedSemaphore(at_once)
        self._lock = threading.Lock()
        self._waiting = 0
        self.waiting_max = waiting

    def enter(self) -> bool:
        with self._lock:
            if self._waiting >= self.waiting_max:
                return False
            self._waiting += 1
        self._slots.acquire()
        with self._lock:
            self._waiting -= 1
        return True

    def leave(self) -> None:
        self._slots.release()

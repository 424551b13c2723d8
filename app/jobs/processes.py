"""Starting worker processes cheaply and safely.

A forkserver that has already imported torch starts a worker in ~0.1 s with ~20 MiB of its own
memory, where a spawned interpreter needs ~4 s and ~210 MiB (see ../shared measurements). Plain
fork of a process that has run torch ops can deadlock in OpenMP, so the web process never forks.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import resource
import signal
import threading
from collections import OrderedDict
from collections.abc import Callable
from multiprocessing import forkserver, popen_forkserver
from multiprocessing.connection import Connection
from typing import Any

_lock = threading.Lock()
_ctx: mp.context.ForkServerContext | None = None
PRELOAD = ["app.jobs.worker"]
# One torch thread per training process: on a class's few cores more threads per process
# oversubscribe them and the whole class slows down (bench training).
TORCH_THREADS = 1
# Training runs niced below the web process, so pages stay quick while every core trains.
WORKER_NICE = 10


class _Popen(popen_forkserver.Popen):
    """The forkserver's Popen, with its exit status read once, under a lock.

    CPython's poll() waits for the sentinel pipe, then reads the status the forkserver wrote
    there, without a lock. Two threads polling one process can both find the pipe ready; the
    one that reads second gets EOF and sets returncode to 255, over the real status
    (python/cpython#130895, not fixed in 3.11). Here that happens whenever another thread
    starts any process (Process.start() polls every child) just as a run's process ends and
    the job monitor joins it: a finished run was recorded as failed, "exit code 255"."""

    def __init__(self, process_obj: Any) -> None:
        self._reap_lock = threading.Lock()
        super().__init__(process_obj)

    def poll(self, flag: int = os.WNOHANG) -> int | None:
        if self.returncode is None:
            from multiprocessing.connection import wait

            if not wait([self.sentinel], 0 if flag == os.WNOHANG else None):
                return None
            with self._reap_lock:
                if self.returncode is None:  # another thread may have read it meanwhile
                    try:
                        self.returncode = forkserver.read_signed(self.sentinel)
                    except (OSError, EOFError):  # the forkserver itself died
                        self.returncode = 255
        return self.returncode


class _Process(mp.context.ForkServerProcess):
    @staticmethod
    def _Popen(process_obj: Any) -> _Popen:
        return _Popen(process_obj)


class _Context(mp.context.ForkServerContext):
    Process = _Process


def context(threads: int = 1) -> mp.context.ForkServerContext:
    global _ctx
    with _lock:
        if _ctx is None:
            # Inherited by the forkserver and so by every worker: torch sizes its thread pool once.
            os.environ["OMP_NUM_THREADS"] = str(threads)
            os.environ["MKL_NUM_THREADS"] = str(threads)
            ctx = _Context()
            ctx.set_forkserver_preload(PRELOAD)
            _ctx = ctx
        return _ctx


def warm_up(threads: int = 1) -> None:
    """Start the forkserver now (it imports torch: seconds), not when the first learner clicks."""
    ctx = context(threads)
    p = ctx.Process(target=_noop)
    p.start()
    p.join()


def _noop() -> None:
    pass


PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """A worker must not outlive the server that owns it: a killed server's orphans would go on
    writing checkpoints behind the back of the restarted one. The kernel kills us instead."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGKILL)


def limit_memory(extra_mb: int) -> None:
    # The address space already holds torch's mappings; allow that plus a budget on top.
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[0])
    current = pages * os.sysconf("SC_PAGE_SIZE")
    limit = current + extra_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


class SandboxError(RuntimeError):
    """The short-lived worker did not give an answer: it timed out, ran out of memory or died."""


def _sandbox_entry(conn: Connection, fn: Callable, args: tuple, memory_mb: int, cpu_seconds: int) -> None:
    die_with_parent()
    os.nice(5)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    limit_memory(memory_mb)
    try:
        result: tuple[str, ...] = ("ok", fn(*args))
    except MemoryError:
        result = ("error", "MemoryError", "the file needs more memory than the inspector allows")
    except BaseException as exc:  # the error text is the answer: the caller shows it
        result = ("error", type(exc).__name__, str(exc))
    conn.send(result)
    conn.close()


def call_in_sandbox(fn: Callable, *args: Any, timeout: float = 20.0, memory_mb: int = 1024) -> Any:
    """Run fn(*args) in a fresh short-lived process with memory and time limits.

    Returns its result; re-raises its exception as SandboxFailure(type name, message)."""
    ctx = context()
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(
        target=_sandbox_entry, args=(sender, fn, args, memory_mb, int(timeout) + 1), daemon=True
    )
    proc.start()
    sender.close()
    try:
        if not receiver.poll(timeout):
            proc.kill()
            raise SandboxError(f"gave up after {timeout:.0f} s")
        try:
            status, *payload = receiver.recv()
        except EOFError:
            proc.join(2)
            raise SandboxError(f"the worker died (exit code {proc.exitcode})") from None
    finally:
        receiver.close()
        proc.join(2)
        if proc.is_alive():
            proc.kill()
    if status == "ok":
        return payload[0]
    raise SandboxFailure(*payload)


def call_limited(settings: Any, fn: Callable, *args: Any) -> Any:
    """call_in_sandbox with the time and memory the settings give every throwaway sandbox. How
    many run at once is bounded by the caller, which holds a place of the web process's one
    sandbox limiter (app.components.labs.sandbox_limiter) while it waits here."""
    return call_in_sandbox(
        fn, *args, timeout=settings.inspect_timeout_s, memory_mb=settings.inspect_memory_mb
    )


# Answers about one file (a checkpoint's "inside" view): the same file gives the same answer,
# so it is asked once. Keyed by path, size and mtime: a rewritten file is asked again.
CACHE_SIZE = 256
_cache: OrderedDict[tuple, tuple[str, Any]] = OrderedDict()
_cache_lock = threading.Lock()


def call_cached(settings: Any, fn: Callable, path: str, *args: Any) -> Any:
    """call_limited(settings, fn, path, *args), once per version of the file: a page asked for by
    a whole class, or by a script in a loop, starts one sandbox, not one per request."""
    try:
        st = os.stat(path)
        key = (fn.__module__, fn.__qualname__, path, st.st_size, st.st_mtime_ns, args)
    except OSError:
        key = None  # gone or unreadable: let the sandbox say what torch says
    if key is not None:
        with _cache_lock:
            hit = _cache.get(key)
            if hit is not None:
                _cache.move_to_end(key)
        if hit is not None:
            kind, value = hit
            if kind == "ok":
                return value
            raise SandboxFailure(*value)
    try:
        result: tuple[str, Any] = ("ok", call_limited(settings, fn, path, *args))
    except SandboxFailure as exc:  # torch's verdict on this file: as stable as a result
        result = ("error", (exc.type_name, exc.message))
    if key is not None:
        with _cache_lock:
            _cache[key] = result
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    if result[0] == "ok":
        return result[1]
    raise SandboxFailure(*result[1])


class SandboxFailure(Exception):
    def __init__(self, type_name: str, message: str):
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name
        self.message = message

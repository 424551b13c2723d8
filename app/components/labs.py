"""Running torch from the web process, which never imports it: the chapter-6 labs (app.ml.labs),
inspections, transfer views and a checkpoint's "inside" view each run in a throwaway sandbox
process (processes.call_limited), at most SANDBOXES_MAX at once in the whole server.

That bound is one limiter, `sandbox_limiter(app)`: every caller waits for a place on the event
loop before it takes a thread (the `SandboxSlot` dependency, `sandbox_slot_held`, or anyio's
`to_thread.run_sync(..., limiter=...)`). Answers that are the same for everyone are cached in
the web process (components.cache.app_cache: one computation per key). Labs that write files
get a fresh folder under DATA_DIR/tmp, deleted as soon as the answer is in.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import anyio
from fastapi import Depends, HTTPException, Request

from app.components.cache import app_cache
from app.jobs.processes import SandboxError, SandboxFailure, call_limited


class LabUnavailable(HTTPException):
    """The lab itself could not run (timeout, memory, a crash): not one of the errors it teaches."""

    def __init__(self, message: str):
        super().__init__(503, f"the lab could not be computed: {message}")
        self.message = message


def sandbox_limiter(app: Any) -> anyio.CapacityLimiter:
    """The server's places for sandbox processes (SANDBOXES_MAX). Made on first use, on the event
    loop (a limiter belongs to one)."""
    limiter = getattr(app.state, "sandbox_limiter", None)
    if limiter is None:
        limiter = app.state.sandbox_limiter = anyio.CapacityLimiter(app.state.settings.sandboxes_max)
    return limiter


@contextlib.asynccontextmanager
async def sandbox_slot_held(request: Request) -> AsyncIterator[bool]:
    """Wait for one of SANDBOXES_MAX places on the event loop, before any thread is taken: a class
    clicking every lab at once waits here at no cost to the pages' thread pool (a thread blocked
    on a lock would hold one of its 40 threads). Yields False if no place came within the
    inspection timeout; the lab then says so instead of running."""
    limiter, borrower = sandbox_limiter(request.app), object()
    got = False
    with anyio.move_on_after(request.app.state.settings.inspect_timeout_s):
        await limiter.acquire_on_behalf_of(borrower)
        got = True
    try:
        yield got
    finally:
        if got:
            limiter.release_on_behalf_of(borrower)


async def _sandbox_slot(request: Request) -> AsyncIterator[None]:
    async with sandbox_slot_held(request) as got:
        request.state.sandbox_waited_out = not got
        yield


# A route parameter `_: SandboxSlot` makes the route wait for a sandbox place before its thread.
SandboxSlot = Annotated[None, Depends(_sandbox_slot)]


def sandbox(request: Request, fn: Callable, *args: Any) -> Any:
    settings = request.app.state.settings
    if getattr(request.state, "sandbox_waited_out", False):
        raise LabUnavailable("waited too long for a free sandbox (the class is busy); try again")
    try:
        return call_limited(settings, fn, *args)
    except (SandboxFailure, SandboxError) as exc:
        raise LabUnavailable(str(exc)) from None


@contextlib.contextmanager
def work_folder(request: Request) -> Iterator[str]:
    """A fresh folder under DATA_DIR/tmp for one lab run; removed afterwards, whatever happened."""
    root = Path(request.app.state.settings.data_dir) / "tmp"
    root.mkdir(parents=True, exist_ok=True)
    folder = root / f"lab-{secrets.token_hex(8)}"
    folder.mkdir()
    try:
        yield str(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def cached(request: Request, key: tuple, compute: Callable[[], dict]) -> dict:
    # The cache's own bound on computations at once is the sandbox limiter's, which the caller holds.
    settings = request.app.state.settings
    return app_cache(request.app, concurrent=settings.sandboxes_max).get(key, compute)

"""Running the chapter-6 labs (app.ml.labs) from the web process, which never imports torch.

Each lab call goes through processes.call_in_sandbox (a fresh, limited process). Answers that
are the same for everyone are cached in the web process (components.cache.app_cache: one
computation per key, at most two at once). Labs that write files get a fresh folder under
DATA_DIR/tmp, deleted as soon as the answer is in.
"""
from __future__ import annotations

import contextlib
import secrets
import shutil
from pathlib import Path
from typing import Any, Callable, Iterator

from fastapi import HTTPException, Request

from app.components.cache import app_cache
from app.jobs.processes import SandboxError, SandboxFailure, call_limited


class LabUnavailable(HTTPException):
    """The lab itself could not run (timeout, memory, a crash): not one of the errors it teaches."""

    def __init__(self, message: str):
        super().__init__(503, f"the lab could not be computed: {message}")
        self.message = message


def sandbox(request: Request, fn: Callable, *args: Any) -> Any:
    settings = request.app.state.settings
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
    return app_cache(request.app).get(key, compute)

"""Lab calls that tests run in fresh child processes, as the web layer's sandbox does.

The saveload lab is about what a process has (not) imported, so it must never run inside the
pytest process: a child forked from a server with torch preloaded mirrors the sandbox exactly.
"""

from __future__ import annotations

import sys


def save_both(workdir: str) -> dict:
    from app.ml.labs import saveload

    assert "labnet" not in sys.modules
    return saveload.save_both(workdir)


def load_after_refactor(workdir: str, refactor: str) -> dict:
    from app.ml.labs import saveload

    assert "labnet" not in sys.modules  # a fresh process, like the sandbox
    return saveload.load_after_refactor(workdir, refactor)


def save_then_load(workdir: str, refactor: str) -> dict:
    """Both calls in one process: the purge of sys.modules must make the refactor visible."""
    from app.ml.labs import saveload

    saveload.save_both(workdir)
    return saveload.load_after_refactor(workdir, refactor)

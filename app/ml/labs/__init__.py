"""Hands-on labs of chapter 6: every function runs real PyTorch and returns plain JSON-able data.

The web layer calls these inside a throwaway sandbox process and renders the returned dicts,
so nothing here raises for the failures the lessons teach: they are captured as the exception's
type name and its text, exactly as the library produced them.

Shared helpers live here so that each lab module stays small.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:  # the helpers themselves need no torch
    import torch

# torch wraps a few words of some messages in terminal bold codes (ESC[1m ... ESC[0m).
# They are formatting, not text: a browser would show them as stray characters.
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def error_text(exc: BaseException) -> str:
    """str(exc) as the library wrote it, minus terminal colour codes."""
    return _ANSI.sub("", str(exc))


# The globals a lab's snippets run in (run_snippet): what the shown code defines, by name.
Namespace = dict[str, Any]
# A clinic case's evidence: facts shown to the learner, and the checks that must all hold for "fixed".
Facts = dict[str, Any]
Proof = dict[str, bool]


class Case(TypedDict):
    """A clinic case (clinic, clinic_practice): its files, its broken code and its right fix."""

    title: str
    # Writes the case's files; returns the names its snippets need and the reference to check against.
    setup: Callable[[Path], tuple[Namespace, dict[str, Any]]]
    broken_code: str
    fix_code: str
    # Reads only what the learner's code left in the namespace (whichever candidate fix ran).
    evidence: Callable[[Namespace, dict[str, Any]], tuple[Facts, Proof]]


def captured(exc: BaseException | None) -> dict[str, str | None]:
    """{"error_type", "error"} for an exception, or both None when the code ran fine."""
    if exc is None:
        return {"error_type": None, "error": None}
    return {"error_type": type(exc).__name__, "error": error_text(exc)}


def run_snippet(code: str, namespace: Namespace) -> BaseException | None:
    """Execute the exact code shown to the learner; return the exception it raised, if any.

    Running the displayed text itself (rather than a parallel implementation) guarantees the
    page never shows code that differs from what produced the result.
    """
    try:
        exec(compile(code, "<lab>", "exec"), namespace)
    except Exception as exc:
        return exc
    return None


@contextlib.contextmanager
def working_dir(path: str | os.PathLike) -> Iterator[None]:
    """chdir for the duration, so snippets can say "weights.pt" instead of a temp path."""
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def first_values(t: torch.Tensor, n: int = 4) -> list[float]:
    """The first n values of a tensor as plain floats (for before/after tables)."""
    return [float(x) for x in t.detach().reshape(-1)[:n].tolist()]

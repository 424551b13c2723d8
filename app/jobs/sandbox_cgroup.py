"""A process cap for one sandbox when the server runs as root: a pids cgroup of its own.

RLIMIT_NPROC does not bind the host's root (and the sandbox's user maps to the server's), so as
root the cap is the kernel's pids controller: each sandbox starts inside a fresh cgroup whose
pids.max is the cap (a shell joins it, then execs bubblewrap, so every process of the sandbox is
born inside). Where no pids cgroup can be made, a root server does not run learners' code."""

from __future__ import annotations

import os
import secrets
import time
from functools import lru_cache
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")


def needed() -> bool:
    return os.geteuid() == 0


@lru_cache(maxsize=1)
def parent() -> Path | None:
    """A cgroup folder where pids-capped children can be made, or None."""
    candidates = [CGROUP / "pids"]  # cgroup v1's pids hierarchy
    try:
        own = next(
            line.split(":", 2)[2].strip()
            for line in Path("/proc/self/cgroup").read_text().splitlines()
            if line.startswith("0::")
        )
        candidates.append(CGROUP / own.lstrip("/"))  # cgroup v2: beneath the server's own cgroup
    except (OSError, StopIteration):
        pass
    for folder in candidates:
        probe = folder / f"checkpoint-lab-probe-{secrets.token_hex(4)}"
        try:
            probe.mkdir()
        except OSError:
            continue
        try:
            if (probe / "pids.max").exists() and (probe / "cgroup.procs").exists():
                (probe / "pids.max").write_text("8")
                return folder
        except OSError:
            pass
        finally:
            probe.rmdir()
    return None


class PidsCap:
    """A fresh cgroup capped at `procs` processes and threads; `wrap` runs a command inside it."""

    def __init__(self, procs: int) -> None:
        base = parent()
        if base is None:
            raise OSError("no writable pids cgroup")
        self.path = base / f"checkpoint-lab-{os.getpid()}-{secrets.token_hex(6)}"
        self.path.mkdir()
        (self.path / "pids.max").write_text(str(procs))

    def wrap(self, cmd: list[str]) -> list[str]:
        return ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', str(self.path / "cgroup.procs"), *cmd]

    def remove(self) -> None:
        """Once its processes are gone (the caller has reaped the sandbox); a leftover is retried."""
        end = time.monotonic() + 10
        while True:
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                if time.monotonic() > end:
                    return
                time.sleep(0.05)

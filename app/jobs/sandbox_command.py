"""The command line of an exercise sandbox (bubblewrap's arguments) and what goes in on its stdin.

The checker's own modules are not mounted in the sandbox: BOOT, the interpreter's whole program,
reads them with the job and the learner's code from stdin, before anything else runs."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
HERE = Path(__file__).parent
BWRAP = shutil.which("bwrap") or "/usr/bin/bwrap"
NOBODY = 65534  # the sandbox's user, inside its own user namespace
# The runner's modules, sent into the sandbox in this order (each imports only those before it).
MODULES = ("json_lines", "exercise_task", "exercise_phases", "exercise_runner")
BOOT = """import json, os, sys, types
def _boot():
    bundle = json.loads(sys.stdin.buffer.readline())
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.path.insert(0, bundle.pop("lab"))
    import app
    package = sys.modules["app.jobs"] = app.jobs = types.ModuleType("app.jobs")
    package.__path__ = []
    for name, source in bundle.pop("modules"):
        module = sys.modules["app.jobs." + name] = types.ModuleType("app.jobs." + name)
        setattr(package, name, module)
        exec(compile(source, "<" + name + ">", "exec"), vars(module))
    return bundle
_run = _boot()
sys.modules["app.jobs.exercise_runner"].main(_run)
"""


VENV_INSIDE = "/lab/venv"
SOURCE_INSIDE = "/lab/source/resnet_mini.pt"
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


def _tmpfs(path: str, mb: int) -> list[str]:
    return ["--size", str(mb * 1024 * 1024), "--tmpfs", path]


def bwrap_args(disk: dict[str, int], info_fd: int | None = None, source_fd: int | None = None) -> list[str]:
    """The bubblewrap command line; its last three arguments are what the interpreter runs.
    disk: the size in MB of each writable place (Limits.disk_mb)."""
    args = [BWRAP, *(["--info-fd", str(info_fd)] if info_fd is not None else [])]
    args += ["--unshare-all", "--uid", str(NOBODY), "--gid", str(NOBODY), "--as-pid-1"]
    args += ["--die-with-parent", "--new-session", "--cap-drop", "ALL", "--ro-bind", "/usr", "/usr"]
    # A private /tmp first: the binds below may live under the host's /tmp (a checkout or
    # virtualenv there) and must be mounted over it, not hidden by it.
    args += _tmpfs("/tmp", disk["/tmp"])
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
    args += ["--ro-bind", str(REPO / "app" / "ml"), "/lab/app/ml"]
    if source_fd is not None:  # opened by the server: the sandbox's user need not reach its folder
        args += ["--ro-bind-fd", str(source_fd), SOURCE_INSIDE]
    args += ["--proc", "/proc", "--dev", "/dev", *_tmpfs("/dev/shm", disk["/dev/shm"])]
    args += [*_tmpfs("/check", disk["/check"]), "--remount-ro", "/", "--chdir", "/check", "--clearenv"]
    env = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HOME": "/check", "PATH": "/usr/bin:/bin"}
    for key, value in {**env, "PYTHONDONTWRITEBYTECODE": "1"}.items():
        args += ["--setenv", key, value]
    return [*args, exe, "-I", "-c", BOOT]


def bundle(job: dict, code: str, lab: str) -> bytes:
    """What the sandbox reads on stdin: the runner's modules, the job, the learner's code."""
    modules = [(name, (HERE / f"{name}.py").read_text(encoding="utf-8")) for name in MODULES]
    return (json.dumps({"lab": lab, "modules": modules, "job": job, "code": code}) + "\n").encode()

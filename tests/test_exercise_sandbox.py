"""Bad input in the exercise sandbox: each ends with a clear verdict and the effect did not happen."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from app.components.checkpoint_exercise import checker
from app.components.checkpoint_exercise.exercises import EXERCISES
from app.jobs import code_sandbox, sandbox_command

REPO = Path(__file__).resolve().parent.parent
# Short limits: the tests wait for them.
LIMITS = code_sandbox.Limits(wall_s=45, phase_wall_s=15, cpu_s=4, memory_mb=256, output_max_kb=256)


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    refs = checker.References(tmp_path_factory.mktemp("refs"))
    # Computed once here, so that each test below measures only the bad code.
    assert code_sandbox.availability() == (True, "")
    v = checker.run_check(EXERCISES["resume"], EXERCISES["resume"]["solution"], refs, code_sandbox.Limits())
    assert v["status"] == "solved", v
    return refs


def test_a_checkout_under_the_sandboxs_own_paths_is_not_hidden(monkeypatch):
    # CI clones into /check/...: a virtualenv there must not be hidden by the private /check.
    monkeypatch.setattr(code_sandbox.sys, "prefix", "/check/work/main/.venv")
    monkeypatch.setattr(code_sandbox.sys, "executable", "/check/work/main/.venv/bin/python")
    mounts, exe = sandbox_command._interpreter()
    assert ("/check/work/main/.venv", sandbox_command.VENV_INSIDE) in mounts and exe == "/lab/venv/bin/python"
    assert sandbox_command._collisions(mounts) == []
    monkeypatch.setattr(code_sandbox.sys, "base_prefix", "/check/python")
    monkeypatch.setattr(code_sandbox.sys, "executable", "/check/python/bin/python3")
    monkeypatch.setattr(code_sandbox.sys, "prefix", "/check/python")
    assert sandbox_command._collisions(sandbox_command._interpreter()[0]) == ["/check/python"]


def check(references, body: str, top: str = "") -> dict:
    code = (
        f"import os, sys, torch\n{top}\n\n"
        f"def load_checkpoint(path, model, optimizer, scheduler):\n{body}\n    return 1\n"
    )
    return checker.run_check(EXERCISES["resume"], code, references, LIMITS)


def sandbox_processes(within: float = 5.0) -> list[str]:
    """The sandboxes' processes still alive once the kernel has had `within` s to take them down.
    The sandbox's end kills its whole PID namespace at once, but a fork bomb's hundreds of
    processes take the kernel a moment to reap; on a loaded machine more than 0.3 s (seen:
    processes in state R and D just after the check returned). A leaked one stays for good."""
    deadline = time.monotonic() + within
    while True:
        out = subprocess.run(["ps", "-eo", "pid,stat,args"], capture_output=True, text=True).stdout
        alive = [line for line in out.splitlines() if "exercise_runner" in line and line.split()[1][0] != "Z"]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def test_infinite_loop_is_stopped(references):
    t = time.monotonic()
    v = check(references, "    while True:\n        pass")
    assert v["status"] == "limit" and v["diagnosis"] in ("cpu", "timeout"), v
    assert time.monotonic() - t < LIMITS.wall_s
    assert not sandbox_processes()


def test_sleeping_forever_hits_the_wall_clock(references):
    v = check(references, "    import time\n    time.sleep(3600)")
    assert (v["status"], v["diagnosis"]) == ("limit", "timeout"), v
    assert not sandbox_processes()


def test_fork_bomb_is_refused(references):
    v = check(references, "    while True:\n        os.fork()")
    assert v["status"] == "error" and "os.fork is not available" in v["details"]["message"], v


def test_fork_bomb_around_the_hook_stops_at_the_process_cap(references):
    # libc's fork directly: no audit event. The process cap and the sandbox's end stop it.
    body = (
        "    import ctypes\n    libc = ctypes.CDLL(None)\n    n = 0\n"
        "    for _ in range(100000):\n        if libc.fork() < 0:\n            n += 1\n"
        "    raise RuntimeError(f'fork failed {n} times')"
    )
    v = check(references, body)
    assert v["status"] in ("error", "limit"), v
    assert not sandbox_processes()


def test_huge_allocation_is_a_memory_error(references):
    v = check(references, "    x = bytearray(8 * 1024 ** 3)")
    assert (v["status"], v["diagnosis"]) == ("limit", "memory"), v


def test_writes_outside_the_check_folder_do_not_land(references, tmp_path):
    targets = [
        Path("/tmp") / f"cl-marker-{uuid.uuid4().hex}",
        REPO / "app" / "ml" / "marker.txt",
        REPO / f"marker-{uuid.uuid4().hex}",
        tmp_path / "marker",
    ]
    body = (
        "".join(
            f"    try:\n        open({str(p)!r}, 'w').write('x')\n"
            "    except OSError as e:\n        print('refused', e)\n"
            for p in targets
        )
        + "    raise SystemExit('done')"
    )
    v = check(references, body)
    assert v["status"] == "error", v
    # /tmp inside is the sandbox's own small tmpfs: a write there lands in it, not on the host
    # (the checkout itself may sit under the host's /tmp, as a CI clone does). Elsewhere: refused.
    outside_tmp = [p for p in targets if not str(p).startswith("/tmp/")]
    assert v["output"].count("refused") >= len(outside_tmp), v["output"]
    assert not any(p.exists() for p in targets)


def test_os_system_is_refused_and_has_no_effect(references):
    marker = Path("/tmp") / f"cl-marker-{uuid.uuid4().hex}"
    v = check(references, f"    os.system('touch {marker}')")
    assert v["status"] == "error" and "os.system is not available" in v["details"]["message"], v
    assert not marker.exists()


def test_a_shell_around_the_hook_cannot_touch_the_host(references):
    marker = Path("/tmp") / f"cl-marker-{uuid.uuid4().hex}"
    body = (
        f"    import ctypes\n    rc = ctypes.CDLL(None).system(b'touch {marker}; echo shell-ran')\n"
        "    raise SystemExit('done')"
    )
    v = check(references, body)
    assert v["status"] == "error"
    assert not marker.exists()


def test_network_is_unreachable(references):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    accepted = []

    def accept():
        end = time.monotonic() + 20
        while time.monotonic() < end:
            try:
                accepted.append(server.accept())
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    body = f"    import socket\n    socket.create_connection(('127.0.0.1', {port}), timeout=2)"
    v = check(references, body)
    assert v["status"] == "error" and "network is not available" in v["details"]["message"], v
    # Around the hook: the raw syscall through ctypes also fails (there is no network at all).
    body = (
        "    import ctypes, struct\n    libc = ctypes.CDLL(None, use_errno=True)\n"
        "    fd = libc.socket(2, 1, 0)\n"
        f"    addr = struct.pack('!HH4s8x', 2, {port}, bytes([127, 0, 0, 1]))\n"
        "    addr = struct.pack('H', 2) + addr[2:]\n"
        "    rc = libc.connect(fd, addr, 16)\n"
        "    raise SystemExit(f'connect returned {rc} errno {ctypes.get_errno()}')"
    )
    v = check(references, body)
    # The sandbox has ended and its connect failed: no connection can still be on its way.
    assert "connect returned -1" in v["details"]["message"], v
    server.close()
    assert accepted == []


def test_data_dir_and_secret_are_not_readable(references, tmp_path):
    secret = "s3cret-" + uuid.uuid4().hex
    data = REPO / "data"
    data.mkdir(exist_ok=True)
    probe = data / f"probe-{uuid.uuid4().hex}.key"
    probe.write_text(secret)
    try:
        body = (
            "".join(
                f"    try:\n        print(open({str(p)!r}).read())\n"
                "    except OSError as e:\n        print('unreadable', e)\n"
                for p in (probe, REPO / "data" / "secret.key", tmp_path / "x")
            )
            + "    print(sorted(os.listdir('/')))\n    raise SystemExit('done')"
        )
        v = check(references, body)
        assert secret not in v["output"] and v["output"].count("unreadable") == 3, v["output"]
    finally:
        probe.unlink()


def test_megabytes_of_output_are_cut(references):
    v = check(references, "    while True:\n        print('x' * 10000)")
    assert (v["status"], v["diagnosis"]) == ("limit", "output"), v
    assert len(v["output"]) <= LIMITS.output_kb * 1024
    assert not sandbox_processes()

"""Payloads and small helpers the hostile tests share: every payload is built here, in code."""

from __future__ import annotations

import io

import httpx
import torch

HX = {"HX-Request": "true"}
SIM = "/api/checkpoint-simulator"


# ------------------------------------------------------------------ payloads


def amplifier(depth: int, leaves: int = 1900, key_chars: int = 1000):
    """A few KB on disk, ~90 MB of dotted key paths once joined: one long key (pickled once,
    then memoised), nested `depth` deep, over a list of small ints."""
    key = "k" * key_chars
    node: object = list(range(leaves))
    for _ in range(depth):
        node = {key: node}
    return node


def amplifier_bytes(depth: int = 20, leaves: int = 1900) -> bytes:
    buf = io.BytesIO()
    torch.save(amplifier(depth, leaves), buf)
    return buf.getvalue()


def many_globals_pickle(n: int) -> bytes:
    """A protocol-2 pickle naming n distinct globals (GLOBAL, then POP): nothing else."""
    body = b"".join(b"cmod%d\nfn%d\n0" % (i, i) for i in range(n))
    return b"\x80\x02" + body + b"N."


def list_opcode_pickle() -> bytes:
    """[1, 2] written with MARK ... LIST: harmless, but torch's weights-only unpickler does not
    implement LIST."""
    return b"\x80\x02(K\x01K\x02l."


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


# ------------------------------------------------------------------ the inspector itself


def established(client: httpx.Client) -> None:
    """What a browser does first: open the chapter page (it sets the session cookie)."""
    assert client.get("/en/06-model-io-checkpoint").status_code == 200

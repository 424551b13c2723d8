"""hostile: the hardening figures at scale (the suite in tests/hostile/ checks them small).

- crash while saving: --hs-saves runs, each SIGKILLed by itself half way through writing its
  epoch-2 checkpoint, two workers at a time: how many ended "crashed" (not "failed"), how many
  atomic checkpoints torch.load could not read afterwards, how many naive ones were torn.
- server SIGKILLs: --hs-kills times, a server is SIGKILLed mid-training and started again on the
  same DATA_DIR: runs lost, checkpoints lost or unreadable, worker processes left alive.
- attacks (bench/hostile_attacks.py): malicious pickles, path traversal, tampered cookies, one
  learner at another's runs.
Targets: 0 failed, 0 corrupt, 0 lost, 0 orphans, 0 attacks through (counts, not times)."""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import time
from pathlib import Path

import httpx

from bench import hostile_attacks
from bench.common import API, Report, Server, Target

CONFIG = {
    "epochs": 3,
    "lr": 0.02,
    "optimizer": "adam",
    "scheduler": True,
    "checkpoint_every": 1,
    "keep_last": 2,
    "seed": 0,
    "batch_size": 64,
}


def add_args(p) -> None:
    p.add_argument(
        "--hs-saves", type=int, default=400, help="hostile: runs crashed while saving (default 400)"
    )
    p.add_argument(
        "--hs-kills", type=int, default=10, help="hostile: server SIGKILLs mid-training (default 10)"
    )


def crash_while_saving(n: int) -> dict:
    from app.jobs.manager import JobManager
    from app.settings import Settings

    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as d:
        jobs = JobManager(
            Settings(
                data_dir=Path(d) / "data", max_workers=2, max_active_runs_per_session=n, queue_max=n + 10
            )
        )
        jobs.start()
        try:
            ids = []
            for i in range(n):
                ids.append(
                    jobs.submit_train(
                        f"s{i}", {**CONFIG, "seed": i}, {"pace_ms": 0, "crash_while_saving_at": 2}
                    ).id
                )
            deadline = time.monotonic() + 60 + 3 * n
            while time.monotonic() < deadline:
                runs = [jobs.store.get(r) for r in ids]
                if not any(r.active for r in runs) and all(
                    jobs.store.events(r.id, "survivors") for r in runs if r.status == "crashed"
                ):
                    break
                time.sleep(0.5)
            out = {
                "runs": n,
                "crashed": 0,
                "other": {},
                "atomic": 0,
                "atomic_bad": 0,
                "naive": 0,
                "naive_torn": 0,
                "temp": 0,
            }
            for r in (jobs.store.get(i) for i in ids):
                if r.status != "crashed":
                    out["other"][r.status] = out["other"].get(r.status, 0) + 1
                    continue
                out["crashed"] += 1
                for f in jobs.store.events(r.id, "survivors")[0]["files"]:
                    if ".tmp" in f["file"]:
                        out["temp"] += 1  # the write under way when the process died: never a checkpoint
                    elif f["file"].startswith("naive/"):
                        out["naive"] += 1
                        out["naive_torn"] += not f["ok"]
                    else:
                        out["atomic"] += 1
                        out["atomic_bad"] += not f["ok"]
            return out
        finally:
            jobs.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def server_kills(k: int) -> dict:
    import torch

    out = {"kills": 0, "runs": 0, "lost": 0, "checkpoints": 0, "bad": 0, "orphans": 0}
    srv = Server(env={"TRANSFER_PREWARM": "false", "MAX_WORKERS": 2})
    cookies = None
    run_ids: list[str] = []
    try:
        for _ in range(k):
            srv.start()
            with httpx.Client(base_url=srv.url, timeout=30, cookies=cookies) as c:
                c.get("/api/session")
                cookies = dict(c.cookies)
                run = c.post(f"{API}/runs", json={"epochs": 200, "checkpoint_every": 2, "pace_ms": 30}).json()
                run_ids.append(run["id"])
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    r = c.get(f"{API}/runs/{run['id']}").json()
                    if len(r["checkpoints"]) >= 2 and r.get("live"):
                        break
                    time.sleep(0.1)
                worker = r["live"]["pid"]
            os.kill(srv.proc.pid, signal.SIGKILL)  # the server process alone, mid-training
            srv.proc.wait(10)
            out["kills"] += 1
            end = time.monotonic() + 10
            while _alive(worker) and time.monotonic() < end:
                time.sleep(0.05)
            out["orphans"] += _alive(worker)
            with contextlib.suppress(ProcessLookupError):  # whatever is left of that server's group
                os.killpg(srv.proc.pid, signal.SIGKILL)
        srv.start()
        with httpx.Client(base_url=srv.url, timeout=30, cookies=cookies) as c:
            for run_id in run_ids:
                out["runs"] += 1
                r = c.get(f"{API}/runs/{run_id}")
                if r.status_code != 200 or r.json()["status"] != "interrupted":
                    out["lost"] += 1
                    continue
                for cp in r.json()["checkpoints"]:
                    out["checkpoints"] += 1
                    try:
                        ckpt = torch.load(
                            srv.data_dir / "runs" / run_id / "checkpoints" / cp["file"], weights_only=True
                        )
                        out["bad"] += ckpt["epoch"] != cp["epoch"]
                    except Exception:
                        out["bad"] += 1
    finally:
        srv.stop()
    return out


def run(args) -> Report:
    rep = Report("hostile")
    t0 = time.monotonic()
    s = crash_while_saving(args.hs_saves)
    rep.row(
        "crash while saving: runs crashed / asked; ended otherwise",
        f"{s['crashed']} / {s['runs']}; {s['other'] or 'none'}  ({time.monotonic() - t0:.0f} s)",
    )
    rep.row("crash while saving: atomic checkpoints unreadable / all", f"{s['atomic_bad']} / {s['atomic']}")
    rep.row(
        "crash while saving: naive files torn / all (as taught); unfinished temp files",
        f"{s['naive_torn']} / {s['naive']}; {s['temp']}",
    )
    t1 = time.monotonic()
    k = server_kills(args.hs_kills)
    rep.row(
        "server SIGKILLs: runs lost / runs; checkpoints unreadable / all; workers left alive",
        f"{k['lost']} / {k['runs']}; {k['bad']} / {k['checkpoints']}; {k['orphans']}"
        f"  ({time.monotonic() - t1:.0f} s)",
    )
    srv = Server(env={"TRANSFER_PREWARM": "false", "MAX_WORKERS": 2}).start()
    try:
        for name, attack in (
            ("malicious pickles", hostile_attacks.pickles),
            ("path traversal", hostile_attacks.traversal),
            ("tampered cookies", hostile_attacks.cookies),
            ("another learner's runs", hostile_attacks.cross_session),
        ):
            tried, refused, through = attack(srv.url)
            rep.row(
                f"{name}: refused / tried",
                f"{refused} / {tried}" + (f"; THROUGH: {through}" if through else ""),
            )
            rep.target(
                Target(
                    f"{name}: got through",
                    len(through) + (tried - refused - len(through)),
                    "<=",
                    0,
                    f"{tried} tried",
                )
            )
    finally:
        srv.stop()
    rep.target(Target("crash while saving: runs not 'crashed'", s["runs"] - s["crashed"], "<=", 0))
    rep.target(Target("crash while saving: atomic checkpoints unreadable", s["atomic_bad"], "<=", 0))
    rep.target(
        Target(
            "server SIGKILLs: runs lost + checkpoints unreadable + orphans",
            k["lost"] + k["bad"] + k["orphans"],
            "<=",
            0,
            f"{k['kills']} kills",
        )
    )
    return rep

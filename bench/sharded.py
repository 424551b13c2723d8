"""sharded: a DCP save on 2 ranks ÷ the same weights saved by one process with torch.save (for information).

Both are timed inside the same run of the ShardedCheckpointLab's save (app.ml.sharded_lab): rank 0
first writes the gathered weights with torch.save, then every rank takes part in dcp.save (its
slowest rank counts). Tiny tensors: the figure is the price of coordinating ranks, not of bytes.
Run alone with `python -m bench.sharded`."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from bench.common import Report, Target, median, table


def add_args(p: Any) -> None:
    p.add_argument("--sharded-runs", type=int, default=5, help="sharded: saves of each kind (median taken)")


def run(args: Any) -> Report:
    import torch

    from app.ml import sharded_lab

    torch.set_num_threads(1)
    rep = Report("sharded")
    dcp_s, plain_s = [], []
    for i in range(args.sharded_runs):
        with tempfile.TemporaryDirectory() as d:
            out = sharded_lab.save(Path(d), "ckpt", 2, "sharded", seed=i)
        assert out["complete"] and all(r["ok"] for r in out["ranks"]), out["ranks"]
        dcp_s.append(max(r["save_s"] for r in out["ranks"]))
        plain_s.append(out["ranks"][0]["torch_save_s"])
    rows = [
        [str(i + 1), f"{d * 1000:.1f} ms", f"{p * 1000:.1f} ms"]
        for i, (d, p) in enumerate(zip(dcp_s, plain_s, strict=True))
    ]
    print(table(rows, ["run", "dcp.save on 2 ranks", "torch.save by 1"]))
    rep.row("median dcp.save, 2 ranks (slowest rank)", f"{median(dcp_s) * 1000:.1f} ms")
    rep.row("median torch.save, 1 process", f"{median(plain_s) * 1000:.1f} ms")
    rep.target(Target("dcp.save on 2 ranks ÷ torch.save by one", median(dcp_s) / median(plain_s), "info"))
    return rep


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.sharded", description=__doc__)
    add_args(parser)
    report = run(parser.parse_args())
    for t in report.targets:
        print(t.line())

"""Short jobs run in a throwaway sandboxed process (processes.call_in_sandbox).

They open checkpoint files with torch.load, so that a truncated or hostile file can only
hurt a process that is about to end anyway.
"""

from __future__ import annotations

import os
from pathlib import Path


def verify_run_files(run_dir: str) -> dict:
    """Every file a run left on disk, and whether torch.load(weights_only=True) accepts it."""
    import torch

    root = Path(run_dir)
    files = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or (path.suffix not in (".pt", ".tmp") and ".tmp" not in path.name):
            continue
        entry = {
            "file": str(path.relative_to(root)),
            "bytes": path.stat().st_size,
            "ok": False,
            "error": None,
        }
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
            entry["ok"] = True
            entry["epoch"] = obj.get("epoch") if isinstance(obj, dict) else None
        except Exception as exc:
            entry["error"] = f"{type(exc).__name__}: {exc}"
        files.append(entry)
    latest = root / "checkpoints" / "latest"
    pointer = latest.read_text().strip() if latest.exists() else None
    return {"files": files, "latest": pointer, "pid": os.getpid()}


def describe_file(path: str) -> dict:
    from app.ml.checkpoint import describe, load_checkpoint

    return describe(load_checkpoint(Path(path)))


def compare_finals(resumed_final: str, reference_final: str) -> dict:
    """Final weights of a resumed run against the uninterrupted reference: max |Δw| beside the
    verdict that the runs' final hashes already give."""
    # Background work: it must not take CPU from the runs still training (a "resume all" set).
    os.nice(19)
    from app.ml.checkpoint import load_checkpoint, max_abs_diff, weights_hash

    a, b = load_checkpoint(Path(resumed_final)), load_checkpoint(Path(reference_final))
    hash_a, hash_b = weights_hash(a), weights_hash(b)
    return {
        "max_abs_diff": max_abs_diff(a, b),
        "hash": hash_a,
        "reference_hash": hash_b,
        "identical": hash_a == hash_b,
    }


def transfer_view(
    pretrained: str, source: str, variant: str, num_classes: int, strategy: str, seed: int
) -> dict:
    """Load the pretrained source into a fresh target with one strategy: every tensor's fate,
    torch's own error if any, and a before/after preview of each tensor."""
    return transfer_views(pretrained, source, variant, [num_classes], [strategy], seed)[
        (num_classes, strategy)
    ]


def transfer_views(
    pretrained: str, source: str, variant: str, class_counts: list[int], strategies: list[str], seed: int
) -> dict:
    """transfer_view for many questions at once: {(num_classes, strategy): view}."""
    import torch

    from app.ml.backbones import build_target, present_source
    from app.ml.transfer import load_with_strategy

    source_sd = torch.load(pretrained, map_location="cpu", weights_only=True)["state_dict"]
    views = {}
    for num_classes in class_counts:
        for strategy in strategies:
            model = build_target(source, variant, num_classes, seed=seed)
            report = load_with_strategy(model, present_source(source_sd, variant), strategy)
            view = report.to_dict()
            view["previews"] = {row.key: report.preview(row.key) for row in report.rows}
            views[(num_classes, strategy)] = view
    return views

"""Will this checkpoint resume training as if nothing happened? The pieces found (resume_parts)
judged against each other: the optimizer's state against the weights by position, the
scheduler's LRs against the optimizer's, and what is missing.

The answer is codes and numbers only (a verdict, findings with their parameters, the ledger
row and the chapter section each links to); the web layer and the command put them in words.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from app.ml.labs import resume_parts as parts

VERDICTS = ("exact", "not_bitwise", "weights_only", "part", "not_training")
# What each finding costs, and where the lesson shows it: (level, simulator ledger row, section).
# "blocks": resuming is not bit for bit without it; "if": only when the run uses that piece.
FINDINGS = {
    "optimizer_shape": ("blocks", "weights", "7.1.1"),
    "optimizer_count": ("blocks", "weights", "7.1.1"),
    "scheduler_lr": ("blocks", "no_scheduler", "7.1.2"),
    "scheduler_groups": ("blocks", "no_scheduler", "7.1.2"),
    "numpy_array": ("blocks", None, "7.1.5"),
    "no_optimizer": ("blocks", "weights", "6.3.3"),
    "no_weights": ("blocks", None, "6.3.3"),
    "no_counter": ("blocks", None, "7.1.3"),
    "no_rng": ("blocks", "no_rng", "6.3.3"),
    "no_scheduler": ("if", "no_scheduler", "7.1.2"),
    "no_python_rng": ("if", "no_rng", "6.3.3"),
    "no_numpy_rng": ("if", "no_rng", "7.1.5"),
    "no_cuda_rng": ("if", "no_rng", "6.3.3"),
    "no_scaler": ("if", None, "7.1.3"),
    "no_ema": ("if", None, "7.1.3"),
    "no_position": ("if", None, "7.2.2"),
    "whole_model": ("blocks", None, "6.2.2"),
    "training_args": ("info", None, "7.4"),
    "prefix": ("info", None, "7.3.1"),
    "optimizer_empty": ("info", None, "7.1.1"),
}
ORDER = list(FINDINGS)  # most important first


def finding(code: str, **params: Any) -> dict:
    level, ledger, section = FINDINGS[code]
    return {"code": code, "level": level, "ledger": ledger, "section": section, "params": params}


def _close(a: float | None, b: float | None) -> bool:
    return a is None or b is None or math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12)


def _optimizer_findings(opt: dict, weights: dict | None) -> list[dict]:
    out = []
    if opt["count"] and not opt["with_state"]:
        out.append(finding("optimizer_empty", path=opt["path"]))
    if weights is None:
        return out
    params = weights["params"]
    if opt["count"] != len(params):
        out.append(finding("optimizer_count", path=opt["path"], optimizer=opt["count"], model=len(params)))
        return out
    if not weights.get("ordered", True):
        # Weights from a safetensors file come in the header's (sorted) order, not the model's:
        # only the shapes as a whole can be compared.
        have = sorted(str(s[0]) for s in opt["shapes"] if s)
        want = sorted(str(shape) for _name, shape in params)
        if have and len(have) == len(want) and have != want:
            out.append(
                finding(
                    "optimizer_shape",
                    path=opt["path"],
                    index=None,
                    name="",
                    shape=None,
                    state_shape=None,
                    wrong=sum(a != b for a, b in zip(have, want, strict=True)),
                    total=len(params),
                )
            )
        return out
    wrong = []
    for i, (shapes, (name, shape)) in enumerate(zip(opt["shapes"], params, strict=False)):
        if shapes and shape not in shapes:
            wrong.append((i, name, shape, shapes[0]))
    if wrong:
        i, name, shape, got = wrong[0]
        out.append(
            finding(
                "optimizer_shape",
                path=opt["path"],
                index=i,
                name=name[:80],
                shape=shape,
                state_shape=got,
                wrong=len(wrong),
                total=len(params),
            )
        )
    return out


def _scheduler_findings(sched: dict, opt: dict | None) -> list[dict]:
    if opt is None:
        return []
    groups = opt["groups"]
    base = sched["base_lrs"]
    if base is not None and len(base) != len(groups):
        return [finding("scheduler_groups", path=sched["path"], scheduler=len(base), optimizer=len(groups))]
    # base_lrs are the LRs the scheduler found on the optimizer when it was built (initial_lr),
    # and _last_lr the LRs it set at its last step (the optimizer's lr since then).
    for i, g in enumerate(groups):
        pairs = []
        if base is not None:
            pairs.append(("base_lrs", base[i], "initial_lr" if g["initial_lr"] is not None else "lr"))
        if sched["last_lr"] is not None and i < len(sched["last_lr"]):
            pairs.append(("_last_lr", sched["last_lr"][i], "lr"))
        for name, value, other in pairs:
            theirs = g[other] if g[other] is not None else g["lr"]
            if name == "base_lrs" and other == "lr" and sched["last_epoch"] not in (0, -1):
                continue  # no initial_lr and the schedule has moved: lr may rightly differ
            if not _close(value, theirs):
                return [
                    finding(
                        "scheduler_lr",
                        path=sched["path"],
                        group=i,
                        field=name,
                        value=value,
                        other=other,
                        other_value=theirs,
                    )
                ]
    return []


def judge(found: dict, kind: str) -> dict:
    """The verdict, the findings (most important first) and a line per piece."""
    weights = max(found["weights"], key=lambda w: w["tensors"], default=None)
    opt = found["optimizers"][0] if found["optimizers"] else None
    sched = found["schedulers"][0] if found["schedulers"] else None
    out: list[dict] = []
    if weights and weights["prefixes"]:
        out.append(finding("prefix", path=weights["path"], prefix=weights["prefixes"][0]))
    for ema in found["ema"]:
        if ema["prefixes"]:
            out.append(finding("prefix", path=ema["path"], prefix=ema["prefixes"][0]))
    if opt:
        out += _optimizer_findings(opt, weights)
    if sched:
        out += _scheduler_findings(sched, opt)
    for np_state in found["numpy"]:
        if np_state["array"]:
            out.append(finding("numpy_array", path=np_state["path"], bit_generator=np_state["bit_generator"]))
    training = bool(weights or opt or sched)
    if training:
        out += _missing(found, weights, opt, sched)
    out.sort(key=lambda f: ORDER.index(f["code"]))
    blocking = [f for f in out if f["level"] == "blocks"]
    if weights and not opt:
        verdict = "weights_only"
    elif weights and opt:
        verdict = "not_bitwise" if blocking else "exact"
    elif opt or sched or _any_state(found):
        verdict = "part"
    else:
        verdict = "not_training"
    if verdict in ("part", "not_training"):
        out = [f for f in out if f["level"] != "if" and f["code"] not in ("no_counter", "no_rng")]
    return {
        "kind": kind,
        "verdict": verdict,
        "findings": out,
        "pieces": pieces(found, weights, opt, sched),
        "files": None,
    }


def _any_state(found: dict) -> bool:
    keys = ("scalers", "torch_cpu", "torch_cuda", "numpy", "python", "data_gen", "loaders", "ema")
    return any(found[k] for k in keys)


def _missing(found: dict, weights: dict | None, opt: dict | None, sched: dict | None) -> list[dict]:
    out = []
    if not weights:
        out.append(finding("no_weights"))
    if not opt:
        out.append(finding("no_optimizer"))
    if not sched:
        out.append(finding("no_scheduler"))
    if not found["counters"]:
        out.append(finding("no_counter"))
    if not found["torch_cpu"]:
        out.append(finding("no_rng"))
    if not found["python"]:
        out.append(finding("no_python_rng"))
    if not found["numpy"]:
        out.append(finding("no_numpy_rng"))
    if not found["torch_cuda"]:
        out.append(finding("no_cuda_rng"))
    if not found["scalers"]:
        out.append(finding("no_scaler"))
    if not found["ema"]:
        out.append(finding("no_ema"))
    if not found["loaders"] and not found["data_gen"]:
        out.append(finding("no_position"))
    return out


def pieces(found: dict, weights: dict | None, opt: dict | None, sched: dict | None) -> list[dict]:
    """One line per kind of training state: where it is (a dotted path), or None when missing."""

    def at(items: list[dict]) -> str | None:
        return items[0]["path"] if items else None

    np_state = found["numpy"][0] if found["numpy"] else None
    counters = ", ".join(f"{c['path']}={c['value']}" for c in found["counters"][:4]) or None
    return [
        {
            "piece": "weights",
            "where": weights and weights["path"],
            "detail": weights and len(weights["params"]),
        },
        {"piece": "optimizer", "where": opt and opt["path"], "detail": opt and opt["count"]},
        {"piece": "scheduler", "where": sched and sched["path"], "detail": sched and sched["last_epoch"]},
        {"piece": "scaler", "where": at(found["scalers"]), "detail": None},
        {"piece": "ema", "where": at(found["ema"]), "detail": None},
        {"piece": "counters", "where": counters, "detail": None},
        {"piece": "torch_cpu", "where": at(found["torch_cpu"]), "detail": None},
        {"piece": "torch_cuda", "where": at(found["torch_cuda"]), "detail": None},
        {"piece": "numpy", "where": at(found["numpy"]), "detail": np_state and np_state["bit_generator"]},
        {"piece": "python", "where": at(found["python"]), "detail": None},
        {"piece": "data", "where": at(found["loaders"]) or at(found["data_gen"]), "detail": None},
    ]


# ------------------------------------------------------------------ what the file is

HF_FILES = {
    "optimizer.pt": "hf_optimizer",
    "scheduler.pt": "hf_scheduler",
    "training_args.bin": "hf_training_args",
    "trainer_state.json": "hf_trainer_state",
    "scaler.pt": "scaler",
    "optimizer.bin": "accelerate_optimizer",
    "scheduler.bin": "accelerate_scheduler",
}


def file_kind(filename: str, obj: Any, found: dict | None, refused: list[str]) -> str:
    """What a single file is, from its name where libraries fix it, otherwise from its content."""
    name = Path(filename).name.lower()
    if name.endswith(".distcp"):
        return "dcp_shard"
    if name == ".metadata":
        return "dcp_metadata"
    if name in HF_FILES and (found is None or name.endswith((".bin", ".json")) or _matches(name, found)):
        return HF_FILES[name]
    if name.startswith("rng_state") and name.endswith(".pth"):
        return "hf_rng"
    if name.startswith("random_states_") and name.endswith(".pkl"):
        return "accelerate_rng"
    if any(g.startswith("torch.nn.modules.") for g in refused):
        return "whole_model"
    if found is None:
        return "other"
    if isinstance(obj, dict) and "pytorch-lightning_version" in obj:
        return "lightning" if found["optimizers"] else "lightning_weights"
    if isinstance(obj, dict) and "model_state_dict" in obj and "optimizer_state_dict" in obj:
        return "lesson"
    if parts.is_state_dict(obj):
        return "state_dict"
    if parts.is_optimizer(obj):
        return "optimizer"
    if parts.is_scheduler(obj):
        return "scheduler"
    if parts.is_scaler(obj):
        return "scaler"
    if found["weights"] and found["optimizers"]:
        return "training_dict"
    if found["weights"]:
        return "weights_dict"
    return "other"


def _matches(name: str, found: dict) -> bool:
    if name.startswith("optimizer"):
        return bool(found["optimizers"])
    if name.startswith("scheduler"):
        return bool(found["schedulers"])
    return bool(found["scalers"])

"""Loading a pretrained state_dict into a different model, and reporting what really happened.

Each strategy runs the real torch call. Failures are captured, not raised, and the report is
built from the model's tensors AFTER the attempt, because load_state_dict copies every tensor
it can before raising: a "failed" load can leave a half-pretrained model behind.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, TypedDict

import torch
from torch import nn
from torch.nn.modules.module import _IncompatibleKeys
from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present

from app.ml.catalog import BUFFER_SUFFIXES, DP_PREFIX, STATUS_HELP, STATUSES, STRATEGIES  # noqa: F401

StateDict = dict[str, torch.Tensor]


def shape_filter(source_sd: StateDict, target_sd: StateDict) -> StateDict:
    """The lesson's filter: the source entries the target can take as they are."""
    return {k: v for k, v in source_sd.items() if k in target_sd and v.shape == target_sd[k].shape}


def _strip_prefix(source_sd: StateDict) -> tuple[StateDict, dict[str, str]]:
    """Prefix-free copy of the checkpoint, plus new key -> original key (for the report)."""
    stripped = dict(source_sd)  # consume_... edits in place; the caller's dict stays intact
    consume_prefix_in_state_dict_if_present(stripped, DP_PREFIX)
    origin = {(k[len(DP_PREFIX) :] if k.startswith(DP_PREFIX) else k): k for k in source_sd}
    return stripped, origin


def _filter_and_load(model: nn.Module, source_sd: StateDict) -> tuple[_IncompatibleKeys, StateDict]:
    model_dict = model.state_dict()
    filtered = shape_filter(source_sd, model_dict)
    model_dict.update(filtered)
    return model.load_state_dict(model_dict), filtered


@dataclass
class TensorRow:
    key: str  # name in the target model (or in the checkpoint, if unused)
    source_key: str | None  # name in the checkpoint as given (may carry `module.`)
    source_shape: list[int] | None
    target_shape: list[int] | None
    status: str
    numel: int
    is_buffer: bool
    changed: bool | None  # did loading change the target tensor at all?
    equals_source: bool | None  # torch.equal(target after loading, source tensor)


class StatusCount(TypedDict):
    tensors: int
    numel: int
    parameters: int  # elements in parameters
    buffers: int  # elements in buffers


class Totals(TypedDict):
    """Counts per status (see STATUSES), and the share of the target's parameters that arrived."""

    transferred: StatusCount
    filtered: StatusCount
    not_loaded: StatusCount
    new: StatusCount
    unused: StatusCount
    target_parameters: int
    transferred_parameter_fraction: float


@dataclass
class LoadReport:
    strategy: str
    ok: bool
    error_type: str | None
    error_message: str | None
    missing_keys: list[str] | None  # as returned by load_state_dict (None if it raised)
    unexpected_keys: list[str] | None
    filter_kept: list[str] | None  # keys the shape filter let through (filter strategies)
    filter_dropped: list[str] | None
    rows: list[TensorRow]
    totals: Totals
    # The tensors themselves, for previews; never serialised.
    before: StateDict = field(default_factory=dict, repr=False)
    after: StateDict = field(default_factory=dict, repr=False)
    source: StateDict = field(default_factory=dict, repr=False)

    def row(self, key: str) -> TensorRow:
        return next(r for r in self.rows if r.key == key)

    @property
    def outcome(self) -> str:
        """ "raised"; "loaded_nothing" when nothing raised yet not one tensor came from the checkpoint
        (strict=False with every key missing, a filter that kept nothing); else "loaded"."""
        if not self.ok:
            return "raised"
        return "loaded" if self.totals["transferred"]["tensors"] else "loaded_nothing"

    def keys_with(self, status: str) -> list[str]:
        return [r.key for r in self.rows if r.status == status]

    def summary(self) -> dict[str, Any]:
        """Everything but the per-tensor rows."""
        d = self.to_dict()
        d.pop("rows")
        return d

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "code": STRATEGIES[self.strategy]["code"],
            "ok": self.ok,
            "outcome": self.outcome,
            "error": None if self.ok else {"type": self.error_type, "message": self.error_message},
            "missing_keys": self.missing_keys,
            "unexpected_keys": self.unexpected_keys,
            "filter_kept": self.filter_kept,
            "filter_dropped": self.filter_dropped,
            "rows": [asdict(r) for r in self.rows],
            "totals": self.totals,
        }

    def preview(self, key: str, first: int = 8, bins: int = 12) -> dict[str, Any]:
        """tensor_preview for one row (a key only in the source has no before/after)."""
        row = self.row(key)
        src = self.source.get(row.source_key) if row.source_key else None
        if key not in self.after:
            assert src is not None, "a row not in the target comes from the checkpoint"
            return {
                "key": key,
                "status": row.status,
                "only_in_source": True,
                **tensor_preview(src, src, src, first, bins),
            }
        return {
            "key": key,
            "status": row.status,
            "only_in_source": False,
            **tensor_preview(self.before[key], self.after[key], src, first, bins),
        }


def _status(
    row_src: torch.Tensor | None, before: torch.Tensor, after: torch.Tensor | None
) -> tuple[str, bool | None, bool | None]:
    if after is None:
        return "unused", None, None
    changed = not torch.equal(before, after)
    if row_src is None:
        return "new", changed, None
    if row_src.shape != after.shape:
        return "filtered", changed, False
    equal = torch.equal(after, row_src)
    return ("transferred" if equal else "not_loaded"), changed, equal


def _totals(rows: list[TensorRow]) -> Totals:
    counts = {s: StatusCount(tensors=0, numel=0, parameters=0, buffers=0) for s in STATUSES}
    for r in rows:
        t = counts[r.status]
        t["tensors"] += 1
        t["numel"] += r.numel
        t["buffers" if r.is_buffer else "parameters"] += r.numel
    target = [r for r in rows if r.target_shape is not None and not r.is_buffer]
    target_params = sum(r.numel for r in target)
    moved = sum(r.numel for r in target if r.status == "transferred")
    return Totals(
        transferred=counts["transferred"],
        filtered=counts["filtered"],
        not_loaded=counts["not_loaded"],
        new=counts["new"],
        unused=counts["unused"],
        target_parameters=target_params,
        transferred_parameter_fraction=moved / target_params if target_params else 0.0,
    )


def load_with_strategy(model: nn.Module, source_sd: StateDict, strategy: str) -> LoadReport:
    """Load `source_sd` into `model` (in place) with a strategy; never raises for its failure."""
    if strategy not in STRATEGIES:
        raise KeyError(f"unknown strategy {strategy!r}")
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    buffers = {n for n, _ in model.named_buffers()}
    origin = {k: k for k in source_sd}
    result: _IncompatibleKeys | None = None
    kept: StateDict | None = None
    error: Exception | None = None
    try:
        if strategy == "strict":
            result = model.load_state_dict(source_sd, strict=True)
        elif strategy == "non_strict":
            result = model.load_state_dict(source_sd, strict=False)
        elif strategy == "shape_filter":
            result, kept = _filter_and_load(model, source_sd)
        else:
            stripped, origin = _strip_prefix(source_sd)
            result, kept = _filter_and_load(model, stripped)
    except Exception as e:
        error = e
    after = {k: v.detach().clone() for k, v in model.state_dict().items()}

    rows = []
    for key in after:
        skey = origin.get(key)
        src = source_sd.get(skey) if skey is not None else None
        status, changed, equal = _status(src, before[key], after[key])
        rows.append(
            TensorRow(
                key,
                skey,
                list(src.shape) if src is not None else None,
                list(after[key].shape),
                status,
                after[key].numel(),
                key in buffers,
                changed,
                equal,
            )
        )
    used = {r.source_key for r in rows if r.source_key is not None}
    for norm, skey in origin.items():
        if skey not in used:
            v = source_sd[skey]
            rows.append(
                TensorRow(
                    norm,
                    skey,
                    list(v.shape),
                    None,
                    "unused",
                    v.numel(),
                    norm.rsplit(".", 1)[-1] in BUFFER_SUFFIXES,
                    None,
                    None,
                )
            )

    dropped = None
    if kept is not None:
        dropped = [r.source_key for r in rows if r.source_key and r.key not in kept]
    return LoadReport(
        strategy=strategy,
        ok=error is None,
        error_type=type(error).__name__ if error else None,
        error_message=str(error) if error else None,
        missing_keys=list(result.missing_keys) if result is not None else None,
        unexpected_keys=list(result.unexpected_keys) if result is not None else None,
        filter_kept=list(kept) if kept is not None else None,
        filter_dropped=dropped,
        rows=rows,
        totals=_totals(rows),
        before=before,
        after=after,
        source=dict(source_sd),
    )


def _stats(t: torch.Tensor) -> dict[str, float]:
    f = t.detach().float().flatten()
    return {
        "mean": f.mean().item(),
        "std": f.std().item() if f.numel() > 1 else 0.0,
        "min": f.min().item(),
        "max": f.max().item(),
    }


def tensor_preview(
    before: torch.Tensor, after: torch.Tensor, source: torch.Tensor | None, first: int = 8, bins: int = 12
) -> dict[str, Any]:
    """Numbers that prove (or disprove) a copy: leading entries, stats, shared-range histograms."""
    tensors = {"before": before, "after": after}
    if source is not None:
        tensors["source"] = source
    flat = {k: v.detach().float().flatten() for k, v in tensors.items()}
    lo = min(v.min().item() for v in flat.values())
    hi = max(v.max().item() for v in flat.values())
    if hi <= lo:  # constant tensors (fresh BN stats, counters): widen so histc has a range
        lo, hi = lo - 0.5, hi + 0.5
    equals_source = source is not None and source.shape == after.shape and torch.equal(after, source)
    return {
        "shape": list(after.shape),
        "numel": after.numel(),
        "dtype": str(after.dtype),
        "first": {k: v[:first].tolist() for k, v in flat.items()},
        "stats": {k: _stats(v) for k, v in flat.items()},
        "histogram": {
            "edges": torch.linspace(lo, hi, bins + 1).tolist(),
            **{k: torch.histc(v, bins=bins, min=lo, max=hi).long().tolist() for k, v in flat.items()},
        },
        "after_equals_source": equals_source,
        "after_equals_before": bool(torch.equal(after, before)),
        "changed_fraction": (
            (flat["after"] != flat["before"]).float().mean().item() if after.shape == before.shape else 1.0
        ),
    }

"""The load view told as a story: what differs first, what simply transferred folded by module.

Pure functions over the view computed by torch (app.ml.transfer.LoadReport.to_dict): no torch
here, so the web process can group rows for its pages and its JSON API alike.
"""

from __future__ import annotations

from app.ml.catalog import DP_PREFIX

# The order in which fates are told: what went wrong first, the quiet majority last.
FATE_ORDER = ("filtered", "not_loaded", "prefix_shape", "new", "unused", "prefix", "transferred")
# Fates whose groups are folded by default: nothing to fix there, or one fix covers them all.
FOLDED = ("transferred", "prefix")


def module_of(key: str) -> str:
    """The top-level module a tensor belongs to (`layer1.conv1.weight` -> `layer1`)."""
    return key.split(".", 1)[0] if "." in key else key


def prefix_pairs(rows: list[dict]) -> dict[str, str]:
    """Checkpoint keys that match a model key once `module.` is removed: {source key: model key}.

    Only rows torch left unmatched count (a model key that is `new`, a checkpoint key `unused`)."""
    new = {r["key"] for r in rows if r["status"] == "new"}
    return {
        r["source_key"]: r["source_key"][len(DP_PREFIX) :]
        for r in rows
        if r["status"] == "unused"
        and r["source_key"]
        and r["source_key"].startswith(DP_PREFIX)
        and r["source_key"][len(DP_PREFIX) :] in new
    }


def story_rows(rows: list[dict]) -> list[dict]:
    """One row per tensor, with a `module.x` checkpoint key and its model key `x` merged into one
    `prefix` row (or `prefix_shape` when the shapes differ as well)."""
    pairs = prefix_pairs(rows)
    unused = {r["source_key"]: r for r in rows if r["status"] == "unused"}
    paired_targets = set(pairs.values())
    out = []
    for r in rows:
        if r["status"] == "unused" and r["source_key"] in pairs:
            continue
        if r["status"] == "new" and r["key"] in paired_targets:
            src_key = DP_PREFIX + r["key"]
            src = unused[src_key]
            fate = "prefix" if src["source_shape"] == r["target_shape"] else "prefix_shape"
            out.append({**r, "source_key": src_key, "source_shape": src["source_shape"], "fate": fate})
        else:
            out.append({**r, "fate": r["status"]})
    return out


def groups(rows: list[dict]) -> list[dict]:
    """Rows grouped by fate and top-level module, in telling order.

    Each group: {fate, module, rows, tensors, numel, folded}. Groups of rows that differ come
    first and unfolded; transferred tensors (and keys that differ only by `module.`) fold."""
    merged = story_rows(rows)
    order: dict[tuple[str, str], list[dict]] = {}
    for r in merged:
        module = module_of(r["key"] if r["target_shape"] is not None else r["source_key"] or r["key"])
        order.setdefault((r["fate"], module), []).append(r)
    result = [
        {
            "fate": fate,
            "module": module,
            "rows": rs,
            "tensors": len(rs),
            "numel": sum(r["numel"] for r in rs),
            "folded": fate in FOLDED,
        }
        for (fate, module), rs in order.items()
    ]
    result.sort(key=lambda g: FATE_ORDER.index(g["fate"]))  # stable: modules keep model order
    return result


def compare(before: dict, after: dict) -> dict:
    """What changed between two loads of the same checkpoint into the same target: tensors per
    status before and after, and the keys whose status changed."""
    statuses = ("transferred", "filtered", "not_loaded", "new", "unused")
    was = {r["key"]: r["status"] for r in before["rows"] if r["target_shape"] is not None}
    now = {r["key"]: r["status"] for r in after["rows"] if r["target_shape"] is not None}
    changed = [k for k in now if was.get(k) != now[k]]
    return {
        "strategy_before": before["strategy"],
        "strategy_after": after["strategy"],
        "ok_before": before["ok"],
        "ok_after": after["ok"],
        "totals": {s: [before["totals"][s]["tensors"], after["totals"][s]["tensors"]] for s in statuses},
        "changed_keys": changed,
    }

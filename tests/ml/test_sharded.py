"""Sharded checkpoints on real ranks (gloo on the CPU): saved on N, loaded on M, a rank killed
during the save, and DDP's rules for files and RNG state."""

from pathlib import Path

import pytest
import torch

from app.ml import sharded_lab as lab

pytestmark = pytest.mark.slow


def _all_ok(outcome: dict) -> None:
    assert all(r["ok"] and r["exit"] == 0 for r in outcome["ranks"]), outcome["ranks"]


def _covers_every_row_once(slices: list[dict]) -> None:
    """The slice map from `.metadata` names every row of every tensor exactly once."""
    by_tensor: dict[str, list[list[int]]] = {}
    for s in slices:
        by_tensor.setdefault(s["tensor"], []).append(s["rows"])
    assert by_tensor, slices
    for name, rows in by_tensor.items():
        shape = next(s["shape"] for s in slices if s["tensor"] == name)
        covered = sorted(r for start, end in rows for r in range(start, end))
        assert covered == list(range(shape[0])), (name, rows)


def _loads_exactly(outcome: dict, world: int) -> None:
    _all_ok(outcome)
    assert len(outcome["ranks"]) == world
    for rank in outcome["ranks"]:
        assert rank["tensors"], rank
        assert all(t["max_abs_diff"] == 0.0 for t in rank["tensors"]), rank["tensors"]


def test_two_sharded_ranks_save_their_own_rows_and_the_checkpoint_loads_on_four_and_on_one(
    tmp_path: Path,
) -> None:
    saved = lab.save(tmp_path, "step-4", world=2, sharding="sharded", seed=3)
    _all_ok(saved)
    assert saved["complete"]
    assert [f["name"] for f in saved["files"]] == [".metadata", "__0_0.distcp", "__1_0.distcp"]
    _covers_every_row_once(saved["slices"])
    # Sharded like FSDP: each rank's file holds half the rows of every weight.
    first = [s for s in saved["slices"] if s["tensor"] == "model.0.weight"]
    assert sorted((s["rows"], s["file"]) for s in first) == [
        ([0, 8], "__0_0.distcp"),
        ([8, 16], "__1_0.distcp"),
    ]

    on_four = lab.load(tmp_path, "step-4", world=4, sharding="sharded", seed=3)
    _loads_exactly(on_four, 4)
    assert [t["rows"] for t in on_four["ranks"][3]["tensors"] if t["tensor"] == "0.weight"] == [[12, 16]]

    on_one = lab.load(tmp_path, "step-4", world=1, sharding="sharded", seed=3)
    _loads_exactly(on_one, 1)
    assert on_one["ranks"][0]["tensors"][0]["rows"] == [0, 16]


def test_replicated_ranks_write_each_tensor_once_and_a_world_of_one_reads_it_sharded_on_two(
    tmp_path: Path,
) -> None:
    saved = lab.save(tmp_path, "ddp", world=4, sharding="replicated", seed=5)
    _all_ok(saved)
    _covers_every_row_once(saved["slices"])
    # Every rank holds every weight, yet DCP writes each tensor once, spread over the ranks' files.
    assert len(saved["slices"]) == 4
    assert len({s["file"] for s in saved["slices"]}) > 1
    _loads_exactly(lab.load(tmp_path, "ddp", world=2, sharding="sharded", seed=5), 2)

    alone = lab.save(tmp_path, "alone", world=1, sharding="sharded", seed=5)
    _all_ok(alone)
    assert [f["name"] for f in alone["files"]] == [".metadata", "__0_0.distcp"]
    _loads_exactly(lab.load(tmp_path, "alone", world=2, sharding="sharded", seed=5), 2)


def test_a_rank_killed_during_the_save_leaves_no_metadata_and_the_previous_checkpoint_intact(
    tmp_path: Path,
) -> None:
    _all_ok(lab.save(tmp_path, "step-4", world=2, sharding="sharded", seed=7))
    killed = lab.save(tmp_path, "step-8", world=2, sharding="sharded", seed=7, steps=8, kill_rank=1)
    coordinator, victim = killed["ranks"]
    assert victim["exit"] == -9
    assert not coordinator["ok"] and coordinator["error"], coordinator
    # Every shard file is on disk, but the coordinator never wrote the metadata that makes a checkpoint.
    assert not killed["complete"]
    assert {f["name"] for f in killed["files"]} == {"__0_0.distcp", "__1_0.distcp"}
    error = lab.partial_load_error(tmp_path, "step-8", seed=7)
    assert ".metadata" in error and str(tmp_path) not in error
    _loads_exactly(lab.load(tmp_path, "step-4", world=1, sharding="sharded", seed=7), 1)


def test_ddp_files_and_per_rank_rng_state(tmp_path: Path) -> None:
    rules = lab.ddp_rules(tmp_path, world=2, seed=11)
    _all_ok(rules)
    assert [f["name"] for f in rules["rank0_only"]] == ["model.pt"]
    assert [f["name"] for f in rules["every_rank"]] == ["model-rank0.pt", "model-rank1.pt"]
    replicas = [
        torch.load(tmp_path / "every_rank" / f["name"], weights_only=True) for f in rules["every_rank"]
    ]
    assert all(torch.equal(replicas[0][k], replicas[1][k]) for k in replicas[0])

    r0, r1 = rules["ranks"]
    assert r0["mask_live"] != r1["mask_live"]  # each rank draws its own dropout
    assert r0["mask_rank0_state"] == r1["mask_rank0_state"]  # rank 0's state everywhere: one mask
    assert r0["mask_own_state"] == r0["mask_live"] and r1["mask_own_state"] == r1["mask_live"]

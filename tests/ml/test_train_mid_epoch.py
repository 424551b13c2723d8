"""Resuming in the middle of an epoch: with the sampler's state the run goes on with exactly the
next batch of the same order (bit-identical); without it samples are trained twice or never."""

import pytest
import torch

from app.ml import epoch_order
from app.ml.checkpoint import CheckpointStore, load_checkpoint
from app.ml.layout import checkpoint_name, checkpoint_position, list_checkpoints
from app.ml.train import TrainConfig, Trainer, train

CFG = TrainConfig(epochs=4, checkpoint_every=2, keep_last=20, mid_epoch_checkpoint=True)
CRASH_EPOCH = 3  # the mid-epoch checkpoint of epoch 3: 2 epochs done, 19 of 38 batches of the third
BATCHES, HALF, BS = 38, 19, 64


@pytest.fixture(scope="module")
def reference(one_thread, tmp_path_factory):
    """The uninterrupted run, through train() with its mid-epoch checkpoints on disk."""
    folder = tmp_path_factory.mktemp("ref")
    trainer = Trainer.fresh(CFG)
    orders, events = {}, []

    def on_event(e):
        events.append(e)
        if e["type"] == "epoch":
            orders[e["epoch"]] = trainer.last_order.clone()

    digest = train(trainer, CheckpointStore(folder, CFG.keep_last), on_event=on_event)
    name = checkpoint_name(CRASH_EPOCH - 1, HALF)
    ckpt = load_checkpoint(folder / "checkpoints" / name)  # weights_only=True, as a resume loads it
    return {
        "hash": digest,
        "orders": orders,
        "events": events,
        "ckpt": ckpt,
        "folder": folder,
        "file": name,
        "losses": list(trainer.loss_history),
        "step": trainer.step,
    }


def resume(reference, mode, tmp_path):
    """Resume from the mid-epoch checkpoint; the record is taken as the worker takes it."""
    # Loaded afresh: a loaded optimizer state shares its tensors with the dict it came from, and
    # training would change them for the next resume of the module.
    ckpt = load_checkpoint(reference["folder"] / "checkpoints" / reference["file"])
    trainer = Trainer.from_checkpoint(ckpt, mode)
    sampler = ckpt["sampler"]
    rec = {}

    def on_event(e):
        if e["type"] == "epoch" and e["epoch"] == sampler["epoch"]:
            rec.update(epoch_order.record(sampler, trainer.last_order, trainer.last_start, BS))
            rec["order"] = trainer.last_order.clone()

    digest = train(trainer, CheckpointStore(tmp_path / mode, CFG.keep_last), on_event=on_event)
    return trainer, digest, rec


def test_a_checkpoint_is_saved_half_way_through_every_epoch(reference):
    saved = [e for e in reference["events"] if e["type"] == "checkpoint"]
    assert [(e["epoch"], e["batch"]) for e in saved] == [(0, 19), (1, 19), (2, 0), (2, 19), (3, 19), (4, 0)]
    assert all(e["batches"] == BATCHES for e in saved if e["batch"])
    # On disk they sort by position, a mid-epoch file after the end of the epoch it continues.
    assert [name for _, name, _ in list_checkpoints(reference["folder"])] == [
        "ckpt-epoch-0000-batch-0019.pt",
        "ckpt-epoch-0001-batch-0019.pt",
        "ckpt-epoch-0002.pt",
        "ckpt-epoch-0002-batch-0019.pt",
        "ckpt-epoch-0003-batch-0019.pt",
        "ckpt-epoch-0004.pt",
    ]
    assert checkpoint_position("ckpt-epoch-0002-batch-0019.pt") == (2, 19)
    assert checkpoint_position("ckpt-epoch-0004.pt") == (4, 0)
    assert checkpoint_position("ckpt-epoch-0004.pt.abc.tmp") is None


def test_the_sampler_state_is_in_the_checkpoint(reference):
    ckpt = reference["ckpt"]
    s = ckpt["sampler"]
    assert ckpt["epoch"] == CRASH_EPOCH - 1 and ckpt["step"] == (CRASH_EPOCH - 1) * BATCHES + HALF
    assert s["epoch"] == CRASH_EPOCH and s["next_batch"] == HALF and len(s["step_losses"]) == HALF
    # The generator state at the epoch's start gives back the epoch's permutation.
    assert torch.equal(epoch_order.interrupted_order(s, 2400), reference["orders"][CRASH_EPOCH])
    end = load_checkpoint(reference["folder"] / "checkpoints" / "ckpt-epoch-0002.pt")
    assert end["sampler"] is None


def test_with_the_sampler_state_the_resume_is_bit_identical(reference, tmp_path):
    trainer, digest, rec = resume(reference, "everything", tmp_path)
    assert digest == reference["hash"]
    assert trainer.loss_history == reference["losses"]  # exact floats, the interrupted epoch too
    assert trainer.step == reference["step"]
    assert torch.equal(rec["order"], reference["orders"][CRASH_EPOCH])
    assert rec["same_order"] and rec["start"] == HALF and rec["before"] == HALF
    assert (rec["twice"], rec["never"], rec["steps"]) == (0, 0, BATCHES)
    assert all(pb == [0, 0] for pb in rec["per_batch"]) and len(rec["per_batch"]) == BATCHES


def _by_sets(ref_order, before, new_order, start):
    done = set(ref_order[: before * BS].tolist())
    after = set(new_order[start * BS :].tolist())
    return len(done & after), 2400 - len(done | after)


def test_without_the_position_the_epoch_starts_again_with_a_new_order(reference, tmp_path):
    trainer, digest, rec = resume(reference, "weights_optimizer", tmp_path)
    assert digest != reference["hash"]
    assert not rec["same_order"] and rec["start"] == 0
    # Every sample of the 19 batches trained before the crash is trained again; none is skipped.
    assert rec["twice"] == HALF * BS == 1216 and rec["never"] == 0
    assert (rec["twice"], rec["never"]) == _by_sets(reference["orders"][CRASH_EPOCH], HALF, rec["order"], 0)
    assert rec["steps"] == HALF + BATCHES and trainer.step == reference["step"] + HALF
    assert rec["per_batch"][:HALF] == [[BS, 0]] * HALF and rec["per_batch"][HALF:] == [[0, 0]] * (
        BATCHES - HALF
    )


def test_position_without_the_order_skips_the_wrong_samples(reference, tmp_path):
    _, digest, rec = resume(reference, "no_rng", tmp_path)
    assert digest != reference["hash"]
    assert not rec["same_order"] and rec["start"] == HALF and rec["steps"] == BATCHES
    twice, never = _by_sets(reference["orders"][CRASH_EPOCH], HALF, rec["order"], HALF)
    assert (rec["twice"], rec["never"]) == (twice, never)
    # As many samples are trained twice as are never trained (the epoch still has 2400 places).
    assert rec["twice"] == rec["never"] > 300
    assert sum(t for t, _ in rec["per_batch"]) == rec["twice"]
    assert sum(n for _, n in rec["per_batch"]) == rec["never"]
    # Twice only among the batches done before the crash, never only among those after it.
    assert all(n == 0 for _, n in rec["per_batch"][:HALF]) and all(t == 0 for t, _ in rec["per_batch"][HALF:])


def test_all_but_the_scheduler_keeps_the_order(reference, tmp_path):
    _, _, rec = resume(reference, "no_scheduler", tmp_path)
    assert rec["same_order"] and (rec["twice"], rec["never"]) == (0, 0)


def test_an_old_checkpoint_without_a_sampler_key_still_resumes(reference):
    ckpt = {k: v for k, v in reference["ckpt"].items() if k != "sampler"}
    trainer = Trainer.from_checkpoint(ckpt, "everything")
    assert trainer.pending is None and trainer.epoch == CRASH_EPOCH - 1
    assert TrainConfig.from_dict(
        {k: v for k, v in CFG.to_dict().items() if k != "mid_epoch_checkpoint"}
    ) == TrainConfig(epochs=4, checkpoint_every=2, keep_last=20)

"""Resuming training: bit-identical when everything is restored, and each omission's real effect."""

import json
import signal

import pytest
import torch

from app.ml.checkpoint import CheckpointStore, load_checkpoint, max_abs_diff, save_atomic
from app.ml.data import make_dataset, train_val_split
from app.ml.train import RESTORE_MODES, TrainConfig, Trainer

from . import workers

CFG = TrainConfig()  # the lesson's defaults: 30 epochs, Adam, step decay every 10 epochs
RESUME_AT = 20  # a checkpoint epoch after the first LR decay, before the second
BASE_LR = CFG.lr


# ------------------------------------------------------------------ config and data


def test_config_round_trips_through_json():
    cfg = TrainConfig(epochs=12, lr=0.02, optimizer="sgd", scheduler=False, seed=7)
    again = TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg
    assert TrainConfig.from_dict({"lr": 1}).lr == 1.0 and isinstance(
        TrainConfig.from_dict({"lr": 1}).lr, float
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"epochs": 0},
        {"optimizer": "rmsprop"},
        {"lr": -0.1},
        {"lr": "fast"},
        {"batch_size": True},
        {"checkpoint_every": 0},
        {"keep_last": 0},
        {"seed": -1},
        {"scheduler": "yes"},
        {"momentum": 0.9},
    ],
)
def test_config_rejects_nonsense(bad):
    with pytest.raises(ValueError):
        TrainConfig.from_dict(bad)


def test_dataset_is_fixed_whatever_the_global_rng():
    torch.manual_seed(1)
    X1, y1 = make_dataset()
    torch.manual_seed(2)
    X2, y2 = make_dataset()
    assert torch.equal(X1, X2) and torch.equal(y1, y2)
    assert X1.shape == (3000, 2) and X1.dtype == torch.float32 and y1.dtype == torch.int64
    assert sorted(y1.unique().tolist()) == [0, 1, 2]
    Xt, _, Xv, yv = train_val_split(X1, y1)
    assert len(Xt) + len(Xv) == 3000 and len(Xv) == 600
    assert all(c > 150 for c in torch.bincount(yv).tolist())  # every class in validation


# ------------------------------------------------------------------ fresh-process resume


def test_full_resume_in_a_fresh_process_is_bit_identical(tmp_path):
    """Reference and crashed runs in parallel; the crashed one is resumed in a new process."""
    ctx = workers.forkserver()
    ref_dir, run_dir = tmp_path / "ref", tmp_path / "run"
    ref = ctx.Process(target=workers.run_training, args=(str(ref_dir), CFG.to_dict()))
    crashed = ctx.Process(
        target=workers.run_training, args=(str(run_dir), CFG.to_dict()), kwargs={"kill_at_epoch": 17}
    )
    ref.start(), crashed.start()
    ref.join(120), crashed.join(120)
    assert ref.exitcode == 0
    assert crashed.exitcode == -signal.SIGKILL
    assert not (run_dir / "result.json").exists()

    store = CheckpointStore(run_dir, keep_last=CFG.keep_last)
    assert store.latest().epoch == 15  # epochs 16 and 17 were lost with the process
    assert [i.epoch for i in store.list()] == [5, 10, 15]

    resumed = ctx.Process(
        target=workers.run_training, args=(str(run_dir), CFG.to_dict()), kwargs={"restore": "everything"}
    )
    resumed.start()
    resumed.join(120)
    assert resumed.exitcode == 0

    want = json.loads((ref_dir / "result.json").read_text())
    got = json.loads((run_dir / "result.json").read_text())
    assert got["weights_hash"] == want["weights_hash"]
    assert got["loss_history"] == want["loss_history"]  # exact float equality, all 30 epochs
    final_ref = CheckpointStore(ref_dir, 3).load_final()
    final_run = CheckpointStore(run_dir, 3).load_final()
    assert max_abs_diff(final_ref, final_run) == 0.0

    ref_epochs = {
        e["epoch"]: e for e in workers.read_events(ref_dir / "events.jsonl") if e["type"] == "epoch"
    }
    res_events = workers.read_events(run_dir / "events-resume.jsonl")
    res_epochs = [e for e in res_events if e["type"] == "epoch"]
    assert [e["epoch"] for e in res_epochs] == list(range(16, 31))
    for e in res_epochs:
        assert e["step_losses"] == ref_epochs[e["epoch"]]["step_losses"]
        assert e["lr"] == ref_epochs[e["epoch"]]["lr"]
    assert [e["epoch"] for e in res_events if e["type"] == "checkpoint"] == [20, 25, 30]
    assert res_events[-1] == {"type": "done", "weights_hash": want["weights_hash"], "epoch": 30}


# ------------------------------------------------------------------ in-process omission effects


def _recorded_epoch(trainer):
    """One epoch's result plus what tests need to see: full data order, RNG at epoch start."""
    rng_at_start = torch.get_rng_state()
    r = trainer.run_epoch()
    r["order"] = trainer.last_order.clone()
    r["rng_at_start"] = rng_at_start
    return r


def _run_to_end(trainer):
    out = {}
    while trainer.epoch < trainer.config.epochs:
        r = _recorded_epoch(trainer)
        out[r["epoch"]] = r
    return out


@pytest.fixture(scope="module")
def reference(one_thread, tmp_path_factory):
    """Uninterrupted run; its epoch-20 checkpoint goes through a real file and weights_only load."""
    store = CheckpointStore(tmp_path_factory.mktemp("ref"), keep_last=10)
    trainer = Trainer.fresh(CFG)
    epochs, ckpt = {}, None
    while trainer.epoch < CFG.epochs:
        r = _recorded_epoch(trainer)
        epochs[r["epoch"]] = r
        if trainer.epoch == RESUME_AT:
            ckpt = load_checkpoint(store.path(store.save(trainer.checkpoint())))
    return {
        "epochs": epochs,
        "ckpt": ckpt,
        "weights": trainer.model.state_dict(),
        "hash": trainer.weights_hash(),
    }


_resumed_cache = {}


@pytest.fixture
def resumed(reference):
    def get(mode):
        if mode not in _resumed_cache:
            t = Trainer.from_checkpoint(reference["ckpt"], mode)
            _resumed_cache[mode] = {
                "epochs": _run_to_end(t),
                "weights": t.model.state_dict(),
                "hash": t.weights_hash(),
            }
        return _resumed_cache[mode]

    return get


def _lrs(epochs, first=RESUME_AT + 1):
    return [epochs[e]["lr"] for e in range(first, CFG.epochs + 1)]


def test_reference_lr_follows_the_step_decay(reference):
    lrs = [reference["epochs"][e]["lr"] for e in range(1, 31)]
    assert lrs == [BASE_LR] * 10 + [BASE_LR / 2] * 10 + [BASE_LR / 4] * 10


def test_everything_in_process_matches_too(reference, resumed):
    run = resumed("everything")
    assert run["hash"] == reference["hash"]
    assert max_abs_diff(run["weights"], reference["weights"]) == 0.0


def test_scheduler_and_optimizer_order_on_resume(reference):
    ckpt = reference["ckpt"]
    decayed = ckpt["optimizer_state_dict"]["param_groups"][0]["lr"]
    assert decayed == BASE_LR / 4  # already the LR for epoch 21: the scheduler stepped
    full = Trainer.from_checkpoint(ckpt, "everything")
    assert full.optimizer.param_groups[0]["lr"] == decayed
    assert full.optimizer.param_groups[0]["initial_lr"] == BASE_LR
    assert full.scheduler.last_epoch == RESUME_AT
    for mode in ("no_scheduler", "weights_optimizer", "weights"):
        t = Trainer.from_checkpoint(ckpt, mode)
        # The loaded param_groups said 'lr' = decayed; a fresh scheduler must win.
        assert t.optimizer.param_groups[0]["lr"] == BASE_LR, mode
        assert t.scheduler.last_epoch == 0
    assert Trainer.from_checkpoint(ckpt, "weights").optimizer.state_dict()["state"] == {}
    wo = Trainer.from_checkpoint(ckpt, "weights_optimizer").optimizer.state_dict()["state"]
    assert torch.equal(wo[0]["exp_avg"], ckpt["optimizer_state_dict"]["state"][0]["exp_avg"])


def test_weights_only_resume_spikes_the_loss(reference, resumed):
    ref, run = reference["epochs"], resumed("weights")["epochs"]
    first = RESUME_AT + 1
    # Fresh Adam moments make its first steps full-size, and the LR is back at base (4x the
    # reference's by then): the first epoch back costs clearly more than the reference's.
    assert run[first]["loss"] > 1.2 * ref[first]["loss"]
    assert _lrs(run) == [BASE_LR] * 10
    assert resumed("weights")["hash"] != reference["hash"]
    assert max_abs_diff(resumed("weights")["weights"], reference["weights"]) > 1e-3


def test_weights_optimizer_resume_resets_lr_and_data_order(reference, resumed):
    ref, run = reference["epochs"], resumed("weights_optimizer")["epochs"]
    first = RESUME_AT + 1
    assert _lrs(run) == [BASE_LR] * 10 and _lrs(ref) == [BASE_LR / 4] * 10
    assert torch.equal(run[first]["order"], ref[1]["order"])
    assert not torch.equal(run[first]["order"], ref[first]["order"])
    assert max_abs_diff(resumed("weights_optimizer")["weights"], reference["weights"]) > 1e-3


def test_no_scheduler_resume_jumps_back_to_base_lr(reference, resumed):
    ref, run = reference["epochs"], resumed("no_scheduler")["epochs"]
    first = RESUME_AT + 1
    assert _lrs(ref) == [BASE_LR / 4] * 10
    assert _lrs(run) == [BASE_LR] * 10  # the fresh schedule would only decay at epoch 31
    # Same weights, batch and dropout mask: the first step's loss is identical; after one
    # update at the wrong LR the runs part.
    assert torch.equal(run[first]["order"], ref[first]["order"])
    assert run[first]["step_losses"][0] == ref[first]["step_losses"][0]
    assert run[first]["step_losses"][1] != ref[first]["step_losses"][1]
    assert max_abs_diff(resumed("no_scheduler")["weights"], reference["weights"]) > 1e-3


def test_no_rng_resume_replays_epoch_one_randomness(reference, resumed):
    ref, run = reference["epochs"], resumed("no_rng")["epochs"]
    first = RESUME_AT + 1
    assert _lrs(run) == _lrs(ref)  # the schedule itself was restored
    assert torch.equal(run[first]["order"], ref[1]["order"])
    assert not torch.equal(run[first]["order"], ref[first]["order"])
    # Dropout draws from the global RNG: it starts the resumed epoch where epoch 1 started.
    assert torch.equal(run[first]["rng_at_start"], ref[1]["rng_at_start"])
    assert not torch.equal(run[first]["rng_at_start"], ref[first]["rng_at_start"])
    assert run[first]["step_losses"][0] != ref[first]["step_losses"][0]
    assert max_abs_diff(resumed("no_rng")["weights"], reference["weights"]) > 1e-4


def test_every_mode_keeps_the_epoch_counter(reference):
    for mode in RESTORE_MODES:
        t = Trainer.from_checkpoint(reference["ckpt"], mode)
        assert (t.epoch, t.step) == (RESUME_AT, reference["ckpt"]["step"])
        assert t.run_epoch()["epoch"] == RESUME_AT + 1
    with pytest.raises(ValueError):
        Trainer.from_checkpoint(reference["ckpt"], "most_things")


def test_sgd_momentum_is_restored(one_thread, tmp_path):
    cfg = TrainConfig(epochs=4, optimizer="sgd")
    a = Trainer.fresh(cfg)
    a.run_epoch(), a.run_epoch()
    save_atomic(a.checkpoint(), tmp_path / "c.pt")
    a.run_epoch()  # consumes the global RNG from exactly the checkpointed state
    b = Trainer.from_checkpoint(load_checkpoint(tmp_path / "c.pt"))  # rewinds that RNG
    assert b.optimizer.param_groups[0]["momentum"] == 0.9
    assert b.optimizer.state_dict()["state"][0]["momentum_buffer"].abs().sum() > 0
    b.run_epoch()
    assert a.weights_hash() == b.weights_hash()


def test_the_task_does_not_saturate(reference):
    # Held-out numbers must keep telling runs apart: no model gets every validation point right.
    final = reference["epochs"][CFG.epochs]
    assert 0.85 < final["acc"] < 0.99
    assert final["val_loss"] > 0.05


def test_an_epoch_reports_every_step(one_thread):
    # Speed is measured in bench/, never asserted here.
    t = Trainer.fresh(CFG)
    steps = []
    r = t.run_epoch(on_step=steps.append)
    assert r["seconds"] > 0
    assert len(steps) == r["step"] == len(r["step_losses"]) == 38  # ceil(2400 / 64)
    assert steps[0] == {"epoch": 1, "step": 1, "loss": r["step_losses"][0], "lr": BASE_LR}
    assert 0.0 <= r["acc"] <= 1.0 and set(r) >= {"epoch", "loss", "acc", "val_loss", "lr", "seconds", "step"}
    json.dumps(r)

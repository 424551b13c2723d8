"""Checkpoint files: weights_only loading, the store, inspection, and real SIGKILLs while saving."""

import json
import os
import random
import signal
import stat
import time

import pytest
import torch

from app.ml import checkpoint as ck
from app.ml.checkpoint import (
    CheckpointStore,
    describe,
    load_checkpoint,
    max_abs_diff,
    save_atomic,
    weights_hash,
)
from app.ml.train import TrainConfig, Trainer

from . import workers


@pytest.fixture(scope="module")
def trained():
    """A trainer one epoch in, so the checkpoint carries real optimizer and RNG state."""
    t = Trainer.fresh(TrainConfig(epochs=3))
    t.run_epoch()
    return t


def test_checkpoint_loads_with_weights_only(trained, tmp_path):
    ckpt = trained.checkpoint()
    size = save_atomic(ckpt, tmp_path / "c.pt")
    assert size == (tmp_path / "c.pt").stat().st_size > 50_000
    back = torch.load(tmp_path / "c.pt", weights_only=True)
    assert set(back) == {
        "format",
        "epoch",
        "step",
        "config",
        "model_state_dict",
        "optimizer_state_dict",
        "scheduler_state_dict",
        "loss_history",
        "sampler",
        "rng",
    }
    assert back["sampler"] is None  # saved at an epoch's end: no place inside an epoch to keep
    assert back["format"] == "checkpoint-lab/1" and back["epoch"] == 1 and back["step"] == 38
    assert weights_hash(back["model_state_dict"]) == trained.weights_hash()
    assert back["rng"]["python"] == ckpt["rng"]["python"]
    assert torch.equal(back["rng"]["data_order"], ckpt["rng"]["data_order"])
    assert TrainConfig.from_dict(back["config"]) == trained.config


def test_checkpoint_is_a_snapshot_not_live_tensors(tmp_path):
    t = Trainer.fresh(TrainConfig(epochs=3))
    t.run_epoch()
    ckpt = t.checkpoint()
    before = weights_hash(ckpt["model_state_dict"])
    exp_avg = ckpt["optimizer_state_dict"]["state"][0]["exp_avg"].clone()
    t.run_epoch()
    assert weights_hash(ckpt["model_state_dict"]) == before != t.weights_hash()
    assert torch.equal(ckpt["optimizer_state_dict"]["state"][0]["exp_avg"], exp_avg)


def test_weights_hash_and_max_abs_diff():
    a = {"w": torch.tensor([1.0, 2.0, 3.0]), "b": torch.zeros(2)}
    b = {"b": torch.zeros(2), "w": torch.tensor([1.0, 2.0, 3.0])}
    assert weights_hash(a) == weights_hash(b)  # key order does not matter
    assert max_abs_diff(a, b) == 0.0
    c = {
        "w": torch.tensor([1.0, 2.0, torch.nextafter(torch.tensor(3.0), torch.tensor(4.0))]),
        "b": torch.zeros(2),
    }
    assert weights_hash(c) != weights_hash(a)  # one ulp is enough
    assert 0.0 < max_abs_diff(a, c) < 1e-6
    assert weights_hash({"w": a["w"].double(), "b": a["b"]}) != weights_hash(a)  # dtype counts
    assert weights_hash({"w": a["w"].reshape(3, 1), "b": a["b"]}) != weights_hash(a)
    with pytest.raises(ValueError):
        max_abs_diff(a, {"w": a["w"]})


def test_save_atomic_fsyncs_the_file_and_its_folder(trained, tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def spy(fd):
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(ck.os, "fsync", spy)
    save_atomic(trained.checkpoint(), tmp_path / "c.pt")
    assert synced == ["file", "dir"]
    assert os.listdir(tmp_path) == ["c.pt"]  # no temp file left behind


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_files_get_the_mode_the_umask_gives(tmp_path, umask, mode):
    # mkstemp would make every checkpoint 0600: unreadable for a teammate on a shared machine.
    old = os.umask(umask)
    try:
        save_atomic({"w": torch.zeros(2)}, tmp_path / "c.pt")
        store = CheckpointStore(tmp_path / "run", keep_last=2)
        store._write_pointer("epoch_0001.pt")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "c.pt").stat().st_mode) == mode
    assert stat.S_IMODE(store.pointer.stat().st_mode) == mode
    assert sorted(os.listdir(tmp_path)) == ["c.pt", "run"]


def test_store_prunes_and_points_to_latest(trained, tmp_path):
    store = CheckpointStore(tmp_path, keep_last=3)
    assert store.latest() is None and store.list() == []
    base = trained.checkpoint()
    for epoch in (2, 4, 6, 8, 10):
        info = store.save({**base, "epoch": epoch})
        assert info.file == f"ckpt-epoch-{epoch:04d}.pt" and info.bytes > 0 and info.seconds > 0
    assert [i.epoch for i in store.list()] == [6, 8, 10]
    assert store.pointer.read_text().strip() == "ckpt-epoch-0010.pt"
    assert store.latest().epoch == 10
    assert load_checkpoint(store.path(store.latest()))["epoch"] == 10
    assert load_checkpoint(store.naive_path)["epoch"] == 10  # the naive copy exists too

    (store.dir / "ckpt-epoch-0012.pt.abc.tmp").write_bytes(b"half a checkpoint")
    assert [i.epoch for i in store.list()] == [6, 8, 10]  # temp files are not checkpoints
    assert store.clean_temp() == 1 and store.temp_files() == []

    store.pointer.unlink()  # without a pointer, the newest file is the latest
    assert store.latest().epoch == 10

    store.save_final(trained.model.state_dict())
    assert weights_hash(store.load_final()) == trained.weights_hash()


def test_describe_adam_checkpoint(trained, tmp_path):
    save_atomic(trained.checkpoint(), tmp_path / "c.pt")
    d = describe(load_checkpoint(tmp_path / "c.pt"))
    json.dumps(d)
    assert [k["key"] for k in d["keys"]][:3] == ["format", "epoch", "step"]
    tensors = {t["key"]: t for t in d["model"]["tensors"]}
    assert tensors["fc2.weight"] == {
        "key": "fc2.weight",
        "shape": [64, 64],
        "dtype": "float32",
        "numel": 4096,
        "bytes": 16384,
    }
    assert d["model"]["numel"] == sum(p.numel() for p in trained.model.parameters())
    state = d["optimizer"]["state"]
    assert len(state) == 6 and state[0]["param"] == 0
    assert set(state[2]["entries"]) == {"step", "exp_avg", "exp_avg_sq"}
    assert state[2]["entries"]["exp_avg_sq"]["shape"] == [64, 64]
    assert state[2]["entries"]["step"] == 38
    group = d["optimizer"]["param_groups"][0]
    assert group["lr"] == 0.01 and group["betas"] == [0.9, 0.999] and group["params"] == list(range(6))
    assert d["scheduler"]["last_epoch"] == 1 and d["scheduler"]["_last_lr"] == [0.01]
    assert d["rng"] == {"python_state_len": 625, "torch_bytes": 5056, "data_order_bytes": 5056}


def test_describe_sgd_checkpoint_without_scheduler():
    t = Trainer.fresh(TrainConfig(epochs=2, optimizer="sgd", scheduler=False))
    t.run_epoch()
    d = describe(t.checkpoint())
    json.dumps(d)
    assert set(d["optimizer"]["state"][0]["entries"]) == {"momentum_buffer"}
    assert d["optimizer"]["param_groups"][0]["momentum"] == 0.9
    assert d["scheduler"] is None


def _new_temp_file(folder, before: set[str], deadline: float) -> None:
    """Until a save has begun writing a temp file that was not there before (a condition, not a time)."""
    while not {f.name for f in folder.glob("*.tmp")} - before:
        assert time.monotonic() < deadline, "no save began writing"


def test_atomic_writer_survives_real_sigkills(trained, tmp_path):
    """Kill a process that saves in a loop, at random moments and as soon as a save has begun
    writing: no final file is ever torn."""
    ctx = workers.forkserver()
    source = tmp_path / "source" / "trained.pt"
    source.parent.mkdir()
    save_atomic(trained.checkpoint(), source)
    folder = tmp_path / "saves"
    folder.mkdir()
    expected = trained.weights_hash()
    rnd = random.Random(20240601)
    kills_mid_write = 0
    for i in range(25):
        temps_before = {f.name for f in folder.glob("*.tmp")}
        ready = ctx.Event()
        p = ctx.Process(target=workers.save_atomic_forever, args=(str(folder), str(source), ready))
        p.start()
        assert ready.wait(60)
        if i % 2:
            _new_temp_file(folder, temps_before, time.monotonic() + 60)
        else:
            time.sleep(rnd.uniform(0.0, 0.05))  # a random moment: between saves, or in one
        os.kill(p.pid, signal.SIGKILL)
        p.join(30)
        assert p.exitcode == -signal.SIGKILL
        kills_mid_write += bool({f.name for f in folder.glob("*.tmp")} - temps_before)
        finals = sorted(f for f in folder.iterdir() if not f.name.endswith(".tmp"))
        assert [f.name for f in finals] in (["ckpt-a.pt"], ["ckpt-a.pt", "ckpt-b.pt"])
        for f in finals:
            assert weights_hash(load_checkpoint(f)["model_state_dict"]) == expected, f.name
    # Proof that kills really landed while a save was writing: most of the twelve sent as soon as
    # a temp file appeared (one can still come after its rename: the write itself is short).
    assert kills_mid_write >= 5


def test_crash_while_saving_tears_the_naive_file_only(tmp_path):
    ctx = workers.forkserver()
    cfg = TrainConfig(epochs=6, checkpoint_every=2)
    p = ctx.Process(
        target=workers.run_training, args=(str(tmp_path), cfg.to_dict()), kwargs={"crash_while_saving_at": 4}
    )
    p.start()
    p.join(120)
    assert p.exitcode == -signal.SIGKILL

    events = workers.read_events(tmp_path / "events.jsonl")
    assert [(e["type"], e["epoch"]) for e in events] == [
        ("epoch", 1),
        ("epoch", 2),
        ("checkpoint", 2),
        ("epoch", 3),
        ("epoch", 4),
    ]

    store = CheckpointStore(tmp_path, keep_last=cfg.keep_last)
    good_size = store.list()[0].bytes
    assert 0 < store.naive_path.stat().st_size < good_size
    with pytest.raises((RuntimeError, OSError)):  # torch's own complaint about a torn zip
        torch.load(store.naive_path, weights_only=True)

    assert [i.epoch for i in store.list()] == [2]
    assert store.latest().epoch == 2
    ckpt = load_checkpoint(store.path(store.latest()))
    assert ckpt["epoch"] == 2
    temps = store.temp_files()
    assert len(temps) == 1 and temps[0].name.startswith("ckpt-epoch-0004.pt.")
    assert temps[0].stat().st_size == store.naive_path.stat().st_size  # both stopped together
    assert store.clean_temp() == 1 and store.temp_files() == []
    assert not (tmp_path / "result.json").exists() and not store.final_path.exists()

    # And training resumes from what survived.
    t = Trainer.from_checkpoint(ckpt)
    assert t.epoch == 2 and t.run_epoch()["epoch"] == 3

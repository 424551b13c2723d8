"""The checkpoint exercises' checker on known-good and known-bad solutions: each really trains in
the sandbox, is really SIGKILLed, resumes in a fresh process and is compared bit for bit."""

from __future__ import annotations

import pytest

from app.components.checkpoint_exercise import checker
from app.components.checkpoint_exercise.exercises import EXERCISES
from app.jobs import code_sandbox

LIMITS = code_sandbox.Limits()


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    return checker.References(tmp_path_factory.mktemp("refs"))


_SEEN: dict[tuple[str, str], dict] = {}


def check(references, exercise: str, code: str) -> dict:
    """Each distinct solution is checked once (a check takes seconds); tests share verdicts."""
    key = (exercise, code)
    if key not in _SEEN:
        _SEEN[key] = checker.run_check(EXERCISES[exercise], code, references, LIMITS)
    return _SEEN[key]


SAVE_GOOD = EXERCISES["save"]["solution"]
LOAD_GOOD = EXERCISES["resume"]["solution"]


def _save(entries: str) -> str:
    return (
        "import torch\n\n\ndef save_checkpoint(path, model, optimizer, scheduler, epoch):\n"
        f"    torch.save({{{entries}}}, path)\n"
    )


def _load(body: str) -> str:
    return (
        "import torch\n\n\ndef load_checkpoint(path, model, optimizer, scheduler):\n"
        "    ckpt = torch.load(path, weights_only=True)\n" + body
    )


ALL = (
    '"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), '
)


def test_reference_solutions_are_bit_identical(references):
    for name, code in (("save", SAVE_GOOD), ("resume", LOAD_GOOD)):
        v = check(references, name, code)
        assert v["status"] == "solved", v
        assert [c["identical"] for c in v["checks"]] == [True, True]
        assert v["checks"][1]["hidden"] and v["checks"][1]["crash_after"] != v["checks"][0]["crash_after"]


@pytest.mark.parametrize(
    "entries, diagnosis",
    [
        (
            (
                '"model": model.state_dict(), "scheduler": scheduler.state_dict(), "epoch": epoch, '
                '"rng": torch.get_rng_state()'
            ),
            "optimizer",
        ),
        (
            (
                '"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch, '
                '"rng": torch.get_rng_state()'
            ),
            "scheduler",
        ),
        (ALL + '"epoch": epoch', "rng"),
    ],
)
def test_save_missing_state_is_named(references, entries, diagnosis):
    v = check(references, "save", _save(entries))
    assert (v["status"], v["diagnosis"]) == ("wrong", diagnosis), v
    assert v["checks"][0]["identical"] is False


def test_save_without_optimizer_state_shows_the_loss_jump(references):
    v = check(
        references,
        "save",
        _save(
            '"model": model.state_dict(), "scheduler": scheduler.state_dict(), '
            '"epoch": epoch, "rng": torch.get_rng_state()'
        ),
    )
    loss = v["details"]["evidence"]["loss"]
    assert loss["epoch"] == 4 and loss["resumed"] > loss["reference"]


def test_save_hard_coded_epoch_passes_the_visible_check_only(references):
    v = check(references, "save", _save(ALL + '"epoch": 3, "rng": torch.get_rng_state()'))
    assert (v["status"], v["diagnosis"]) == ("wrong", "epoch"), v
    assert v["checks"][0]["identical"] and v["details"]["hidden"] and v["details"]["visible_passed"]
    assert (v["details"]["start_epoch"], v["details"]["expected_start"]) == (4, 6)


def test_save_an_optimizer_object_fails_with_torchs_message(references):
    v = check(
        references,
        "save",
        _save(
            '"model": model.state_dict(), "optimizer": optimizer, '
            '"scheduler": scheduler.state_dict(), "epoch": epoch, "rng": torch.get_rng_state()'
        ),
    )
    assert (v["status"], v["diagnosis"]) == ("error", "error"), v
    assert v["details"]["where"] == "lesson" and "weights_only" in v["details"]["message"].lower().replace(
        " ", "_"
    )


@pytest.mark.parametrize(
    "body, diagnosis",
    [
        (
            '    model.load_state_dict(ckpt["model"])\n    scheduler.load_state_dict(ckpt["scheduler"])\n'
            '    torch.set_rng_state(ckpt["rng"])\n    return ckpt["epoch"] + 1\n',
            "optimizer",
        ),
        (
            '    model.load_state_dict(ckpt["model"])\n    optimizer.load_state_dict(ckpt["optimizer"])\n'
            '    torch.set_rng_state(ckpt["rng"])\n    return ckpt["epoch"] + 1\n',
            "scheduler",
        ),
        (
            '    model.load_state_dict(ckpt["model"])\n    optimizer.load_state_dict(ckpt["optimizer"])\n'
            '    scheduler.load_state_dict(ckpt["scheduler"])\n    return ckpt["epoch"] + 1\n',
            "rng",
        ),
        # Wrong order: the random state restored first, then re-seeded "for reproducibility".
        (
            (
                '    torch.set_rng_state(ckpt["rng"])\n    torch.manual_seed(0)\n'
                '    model.load_state_dict(ckpt["model"])\n'
                '    optimizer.load_state_dict(ckpt["optimizer"])\n'
                '    scheduler.load_state_dict(ckpt["scheduler"])\n    return ckpt["epoch"] + 1\n'
            ),
            "rng",
        ),
        # Wrong order: the scheduler stepped after loading, as if the loaded epoch had not been counted.
        (
            (
                '    model.load_state_dict(ckpt["model"])\n'
                '    optimizer.load_state_dict(ckpt["optimizer"])\n'
                '    scheduler.load_state_dict(ckpt["scheduler"])\n    scheduler.step()\n'
                '    torch.set_rng_state(ckpt["rng"])\n    return ckpt["epoch"] + 1\n'
            ),
            "scheduler",
        ),
        (
            (
                '    model.load_state_dict(ckpt["model"])\n'
                '    optimizer.load_state_dict(ckpt["optimizer"])\n'
                '    scheduler.load_state_dict(ckpt["scheduler"])\n    torch.set_rng_state(ckpt["rng"])\n'
                '    return ckpt["epoch"]\n'
            ),
            "epoch",
        ),
    ],
)
def test_resume_known_bad(references, body, diagnosis):
    v = check(references, "resume", _load(body))
    assert (v["status"], v["diagnosis"]) == ("wrong", diagnosis), v


def test_resume_rng_diagnosis_says_the_order_changed(references):
    v = check(
        references,
        "resume",
        _load(
            '    model.load_state_dict(ckpt["model"])\n    optimizer.load_state_dict(ckpt["optimizer"])\n'
            '    scheduler.load_state_dict(ckpt["scheduler"])\n    return ckpt["epoch"] + 1\n'
        ),
    )
    assert v["details"]["evidence"]["order"] == {"epoch": 4, "like_epoch_1": True}


def test_resume_no_scheduler_shows_the_lr_jump(references):
    v = check(
        references,
        "resume",
        _load(
            '    model.load_state_dict(ckpt["model"])\n    optimizer.load_state_dict(ckpt["optimizer"])\n'
            '    torch.set_rng_state(ckpt["rng"])\n    return ckpt["epoch"] + 1\n'
        ),
    )
    lr = v["details"]["evidence"]["lr"]
    assert lr["resumed"] > lr["reference"]


def test_resume_hard_coded_epoch_is_caught_by_the_hidden_check(references):
    v = check(
        references,
        "resume",
        _load(
            '    model.load_state_dict(ckpt["model"])\n'
            '    optimizer.load_state_dict(ckpt["optimizer"])\n'
            '    scheduler.load_state_dict(ckpt["scheduler"])\n    torch.set_rng_state(ckpt["rng"])\n'
            "    return 4\n"
        ),
    )
    assert (v["diagnosis"], v["details"]["hidden"], v["details"]["visible_passed"]) == (
        "epoch",
        True,
        True,
    ), v


def test_resume_exception_gives_torchs_message_and_the_learners_line(references):
    v = check(references, "resume", _load('    model.load_state_dict(ckpt["optimizer"])\n    return 1\n'))
    assert (v["status"], v["diagnosis"], v["details"]["where"]) == ("error", "error", "yours"), v
    assert v["details"]["line"] == 6 and v["details"]["type"] == "RuntimeError"
    assert "state_dict" in v["details"]["message"]


def test_syntax_error_has_its_line(references):
    v = check(
        references,
        "resume",
        "import torch\n\ndef load_checkpoint(path, model, optimizer, scheduler)\n    return 1\n",
    )
    assert (v["diagnosis"], v["details"]["type"], v["details"]["line"]) == ("error", "SyntaxError", 3), v


def test_missing_function_is_named(references):
    v = check(references, "resume", "def load(path):\n    return 1\n")
    assert v["diagnosis"] == "error" and "load_checkpoint" in v["details"]["message"]


@pytest.fixture(scope="module")
def source(pretrained_dir):
    return pretrained_dir / "resnet_mini.pt"


def check_with_source(references, source, exercise: str, code: str) -> dict:
    key = (exercise, code)
    if key not in _SEEN:
        _SEEN[key] = checker.run_check(EXERCISES[exercise], code, references, LIMITS, source=source)
    return _SEEN[key]


DEVICE = EXERCISES["device"]["solution"]


@pytest.mark.parametrize(
    "code, diagnosis",
    [
        (DEVICE, "solved"),
        (DEVICE.replace('map_location="cpu", ', ""), "error"),
        # Wrong order: the scheduler built after the optimizer state is in resets the LR.
        (
            DEVICE.replace(
                "    scheduler = make_scheduler(optimizer)           # built before the states are loaded\n",
                "",
            ).replace(
                '    scheduler.load_state_dict(ckpt["scheduler"])\n',
                (
                    "    scheduler = make_scheduler(optimizer)\n"
                    '    scheduler.load_state_dict(ckpt["scheduler"])\n'
                ),
            ),
            "scheduler",
        ),
        # Wrong order: the optimizer built on a model that is then replaced.
        (
            DEVICE.replace(
                "    model = make_model()\n",
                (
                    "    model = make_model()\n    optimizer = make_optimizer(model.parameters())\n"
                    "    model = make_model()\n"
                ),
            ).replace(
                (
                    "    optimizer = make_optimizer(model.parameters())  # ...then build the optimizer on "
                    "its parameters\n"
                ),
                "",
            ),
            "bound",
        ),
    ],
)
def test_device_exercise(references, source, code, diagnosis):
    v = check_with_source(references, source, "device", code)
    assert v["diagnosis"] == diagnosis, v
    if diagnosis == "error":
        assert "map_location" in v["details"]["message"] and v["details"]["line"] == 5


TRANSFER = EXERCISES["transfer"]["solution"]


@pytest.mark.parametrize(
    "code, diagnosis, hidden",
    [
        (TRANSFER, "solved", None),
        (EXERCISES["transfer"]["scaffold"].replace("(source)", "(source, strict=False)"), "error", False),
        # Filtered by name: the visible check passes, the wider block raises in a hidden one.
        (
            TRANSFER.replace("if k in target and v.shape == target[k].shape", 'if not k.startswith("fc.")'),
            "error",
            True,
        ),
        # Shape and name: the 24-class hidden check, whose head fits, is not loaded.
        (
            TRANSFER.replace(
                "v.shape == target[k].shape", 'v.shape == target[k].shape and not k.startswith("fc.")'
            ),
            "by_name",
            True,
        ),
    ],
)
def test_transfer_exercise(references, source, code, diagnosis, hidden):
    v = check_with_source(references, source, "transfer", code)
    assert v["diagnosis"] == diagnosis, v
    if hidden is not None:
        assert v["details"]["hidden"] is hidden
    if diagnosis == "solved":
        assert v["checks"][0]["missing"] == ["fc.weight", "fc.bias"] and v["checks"][2]["missing"] == []


def test_transfer_without_a_source_says_so(references, tmp_path):
    v = checker.run_check(EXERCISES["transfer"], TRANSFER, references, LIMITS, source=tmp_path / "missing.pt")
    assert (v["status"], v["diagnosis"]) == ("limit", "no_source")

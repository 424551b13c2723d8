"""A zipped checkpoint folder is unpacked within bounds: total size (declared and counted),
number of entries, and names that stay inside the folder. A zip bomb or a path-traversal name is
refused with a message saying why, and nothing lands outside the throwaway folder."""

from __future__ import annotations

import json
import stat
import zipfile
from pathlib import Path

import pytest

from app.ml.labs import checkpoint_folder
from app.ml.labs.inspector import inspect_file
from tests.ml.test_inspector_audit import hf_folder

MiB = 1024 * 1024


def zipped(tmp_path: Path, extra: list[tuple[zipfile.ZipInfo | str, bytes]] = ()) -> Path:
    """A real HF Trainer checkpoint folder, zipped (deflated), with extra entries added."""
    hf_folder(tmp_path / "checkpoint-40")
    zpath = tmp_path / "checkpoint-40.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted((tmp_path / "checkpoint-40").iterdir()):
            zf.write(f, f"checkpoint-40/{f.name}")
        for info, data in extra:
            zf.writestr(info, data)
    return zpath


def inspect(path: Path, limits: dict | None = None) -> dict:
    return json.loads(json.dumps(inspect_file(str(path), path.name, limits), default=str))


def test_a_zip_bomb_is_refused_before_it_inflates(tmp_path):
    # 64 MiB of zeros deflates to ~64 KB: a thousandfold, far past 4× a 1 MiB upload limit.
    bomb = zipfile.ZipInfo("checkpoint-40/optimizer.pt.bak")
    bomb.compress_type = zipfile.ZIP_DEFLATED
    zpath = zipped(tmp_path, [(bomb, bytes(64 * MiB))])
    assert zpath.stat().st_size < 2 * MiB
    r = inspect(zpath, {"max_file_bytes": 1 * MiB})
    assert r["ok"] is False and r["stage"] == "limits" and r["error_type"] == "UnsafeZip"
    assert "unpack to 67,1" in r["error"] and "Nothing was unpacked" in r["error"]
    # The same folder without the bomb is read, within the same limits.
    clean = tmp_path / "clean"
    clean.mkdir()
    ok = inspect(zipped(clean), {"max_file_bytes": 1 * MiB})
    assert ok["ok"] and ok["kind"] == "hf_trainer_folder" and ok["audit"]["verdict"] == "exact"


def test_a_lying_entry_cannot_unpack_more_than_it_declares(tmp_path):
    """An entry whose directory says 10 bytes but whose data inflates to 8 MiB."""
    zpath = zipped(tmp_path, [(zipfile.ZipInfo("checkpoint-40/notes.txt"), bytes(8 * MiB))])
    data = bytearray(zpath.read_bytes())
    # Patch the central directory's record of notes.txt: uncompressed size 10.
    cd = data.rfind(b"PK\x01\x02", 0, data.rfind(b"checkpoint-40/notes.txt"))
    data[cd + 24 : cd + 28] = (10).to_bytes(4, "little")
    zpath.write_bytes(bytes(data))
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(zipfile.BadZipFile):
        checkpoint_folder.extract_folder_zip(str(zpath), str(dest), {"max_file_bytes": 1 * MiB})
    assert not (dest / "notes.txt").exists() or (dest / "notes.txt").stat().st_size <= 10


@pytest.mark.parametrize(
    "name", ["../../escaped.pt", "checkpoint-40/../../escaped.pt", "/tmp/escaped.pt", "C:\\escaped.pt"]
)
def test_a_name_leading_outside_the_folder_is_refused(tmp_path, name):
    zpath = zipped(tmp_path, [(name, b"x")])
    r = inspect(zpath)
    assert r["ok"] is False and r["stage"] == "limits" and r["error_type"] == "UnsafeZip"
    assert "points outside its folder" in r["error"] and "escaped.pt" in r["error"]
    assert not list(tmp_path.parent.rglob("escaped.pt")) and not Path("/tmp/escaped.pt").exists()


def test_a_symlink_entry_is_refused(tmp_path):
    link = zipfile.ZipInfo("checkpoint-40/optimizer_link.pt")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    r = inspect(zipped(tmp_path, [(link, b"/etc/passwd")]))
    assert r["ok"] is False and r["error_type"] == "UnsafeZip" and "symbolic link" in r["error"]


def test_too_many_entries_are_refused(tmp_path):
    many = [(f"checkpoint-40/extra/{i}.txt", b"") for i in range(checkpoint_folder.MAX_FILES)]
    r = inspect(zipped(tmp_path, many))
    assert r["ok"] is False and r["error_type"] == "UnsafeZip"
    assert f"at most {checkpoint_folder.MAX_FILES} are read" in r["error"]


def test_files_of_one_name_in_two_folders_are_both_kept(tmp_path):
    """An FSDP save_state puts a shard of each in its own folder: neither overwrites the other."""
    twins = [
        ("step_40/pytorch_model_fsdp_0/__0_0.distcp", b"model"),
        ("step_40/optimizer_0/__0_0.distcp", b"optim"),
    ]
    r = inspect(zipped(tmp_path, twins))
    assert r["ok"], r["error"]
    files = {f["name"]: f["bytes"] for f in r["audit"]["files"]}
    assert files["pytorch_model_fsdp_0____0_0.distcp"] == 5 and files["optimizer_0____0_0.distcp"] == 5
    assert files["optimizer.pt"] > 0


def test_a_zipped_folder_above_the_limit_asks_for_its_files_one_at_a_time(tmp_path):
    """Read from its header only, a zipped folder has its directory but none of its files."""
    zpath = zipped(tmp_path)
    r = inspect(zpath, {"max_file_bytes": zpath.stat().st_size // 2})
    assert r["ok"] is False and r["reading"] == "header" and r["stage"] == "limits"
    assert "one at a time" in r["error"] and "optimizer.pt" in r["error"]

"""The inspector's reading of a checkpoint folder that comes as one file: a zipped folder (HF
Trainer's checkpoint-N/, Accelerate's save_state output), or the Trainer's trainer_state.json."""

from __future__ import annotations

import os
import tempfile
import zipfile

from app.ml.labs import checkpoint_folder, error_text
from app.ml.labs.inspect_safetensors import refuse
from app.ml.labs.inspect_tree import verdict


def folder_zip(res: dict, path: str, limits: dict) -> dict:
    """A zipped checkpoint folder (HF Trainer's checkpoint-N/, Accelerate's save_state output):
    unpacked in a throwaway folder within the limits, and audited as a whole."""
    if res["reading"] == "header":
        return refuse(
            res,
            "limits",
            "A zipped checkpoint folder larger than the upload limit: its files lie between the zip's "
            "head and its directory, which is all a header-only reading has. Upload its files one at a "
            "time (optimizer.pt, scheduler.pt, rng_state.pth, trainer_state.json, …): a large one is then "
            "read from its own header.",
        )
    with tempfile.TemporaryDirectory(prefix="ckpt-folder-") as tmp:
        try:
            checkpoint_folder.extract_folder_zip(path, tmp, limits)
        except (zipfile.BadZipFile, ValueError, OSError) as exc:
            return refuse(res, "limits", error_text(exc), exc)
        audit = checkpoint_folder.audit_folder(tmp, limits)
    res["kind"] = audit["kind"]
    res["audit"] = audit
    res["verdict"] = verdict(
        all(f["safe"] is not False or f.get("allowlist") for f in audit["files"]),
        "A zipped checkpoint folder: each file was read with weights_only=True.",
    )
    res.update(ok=True, stage="done")
    return res


def json_file(res: dict, path: str) -> dict:
    """trainer_state.json on its own: the HF Trainer's step and epoch counters."""
    res["format"] = "json"
    with tempfile.TemporaryDirectory(prefix="ckpt-json-") as tmp:
        os.symlink(os.path.abspath(path), os.path.join(tmp, "trainer_state.json"))
        audit = checkpoint_folder.audit_folder(tmp, {})
    res["kind"] = audit["kind"] = "hf_trainer_state"
    res["audit"] = audit
    res.update(ok=True, stage="done")
    return res

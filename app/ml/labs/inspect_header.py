"""Header-only reading: what a file above the size limit can and cannot be read from.

torch's zip format puts data.pkl first and the zip's directory last, and safetensors its JSON
header first: both are read from their header (structure, keys, dtypes and shapes, pickled
globals, the resume audit) without their tensor data. A web upload above the limit sends only its
head and tail; the server fills the rest with a hole (reads as zeros), which is never read.
"""

from __future__ import annotations

DOCTOR = "python -m app.checkpoint_doctor"


def why_not_header(fmt: str, size: int, limits: dict) -> str:
    """Why a file above the limit is not read: too big even for a header, or a format whose
    tensors are not behind a directory (torch's legacy format, a plain pickle)."""
    over = f"The file has {size:,} bytes; the limit is {limits['max_file_bytes']:,}."
    if fmt == "torch-legacy":
        return (
            f"{over} It is in torch's old format (torch < 1.6, or _use_new_zipfile_serialization=False): "
            "its tensors follow its pickle with no directory to skip them by, so it cannot be read from "
            "its header. Load it and torch.save it again (the zip format), or run "
            f"{DOCTOR} on it with UPLOAD_MAX_MB above its size."
        )
    if fmt == "pickle":
        return (
            f"{over} A plain pickle has no directory: it cannot be read from its header. Save the state "
            f"dict with torch.save (the zip format), or run {DOCTOR} on it with UPLOAD_MAX_MB above "
            "its size."
        )
    return over

"""Responses for files that a running worker may rename or delete at any moment."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import anyio
from fastapi import HTTPException
from fastapi.responses import StreamingResponse

CHUNK = 1 << 20


def held_file_response(
    path: Path, filename: str, missing: str = "that file is no longer on disk"
) -> StreamingResponse:
    """The file as a download, opened now: Starlette's FileResponse stats and opens the path
    later, after the endpoint returned, and a checkpoint that keep-last-N deletes in between
    made that a 500. An open file stays readable after it is unlinked; a file already gone
    is a 404 with `missing` as its reason."""
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed by the body generator when it ends
    except (FileNotFoundError, IsADirectoryError):
        raise HTTPException(404, missing) from None
    size = os.fstat(f.fileno()).st_size

    async def body():
        try:
            while chunk := await anyio.to_thread.run_sync(f.read, CHUNK):
                yield chunk
        finally:
            f.close()

    headers = {
        "content-length": str(size),
        "content-disposition": f"attachment; filename*=utf-8''{quote(filename)}",
    }
    return StreamingResponse(body(), media_type="application/octet-stream", headers=headers)

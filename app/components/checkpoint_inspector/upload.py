"""Receiving one uploaded file without ever holding more than the limit.

The body is read from request.stream() and fed to python-multipart's streaming parser, so
Starlette never buffers it. A Content-Length over the limit is refused before any byte is read;
the bytes are counted anyway (a client may send no length, or lie), and the partial file is
deleted as soon as the limit is passed. The file gets a random server-side name; the name the
client sent is kept only as text.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header

# Boundaries, part headers and a small form field or two around the file.
MULTIPART_OVERHEAD = 64 * 1024
FILE_FIELD = "file"
MAX_NAME_CHARS = 255
# What the file picker suggests. Any name is accepted: the inspector reads the bytes, so a
# checkpoint.pth.tar, a .pkl or a .distcp shard is read if its content is a checkpoint.
ALLOWED_EXTENSIONS = (
    ".pt",
    ".pth",
    ".bin",
    ".ckpt",
    ".tar",
    ".pkl",
    ".distcp",
    ".zip",
    ".json",
    ".safetensors",
)


class UploadRejected(Exception):
    """code: too_large, not_multipart, no_file, extension, malformed."""

    def __init__(self, status: int, code: str, detail: str):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


@dataclass
class Received:
    path: Path
    filename: str  # as the client named it: text only, never a path
    size: int


def extension_of(filename: str) -> str:
    return os.path.splitext(filename)[1].lower()


def _clean_name(raw: bytes) -> str:
    name = raw.decode("utf-8", errors="replace").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable())
    return name[:MAX_NAME_CHARS]


def too_large_detail(limit: int) -> str:
    return f"the file is larger than the upload limit of {limit // (1024 * 1024)} MiB"


async def _discard(stream, received: int, cap: int) -> None:
    async for chunk in stream:
        received += len(chunk)
        if received > cap:
            return


async def receive_file(request: Request, folder: Path, limit: int, drain: int = 0) -> Received:
    """The 'file' part of a multipart body, written to folder under a random name.

    drain: after a refusal for size, read (and discard) the rest of a body up to this many
    bytes, so that a browser still uploading gets to read the answer instead of a reset
    connection. 0 for API clients, which are expected to honour an early 413.
    """
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise UploadRejected(400, "not_multipart", "expected a multipart/form-data body with a 'file' field")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit + MULTIPART_OVERHEAD:
        if int(length) <= drain:
            await _discard(request.stream(), 0, drain)
        raise UploadRejected(413, "too_large", too_large_detail(limit))

    state: dict[str, Any] = {
        "field": b"",
        "value": b"",
        "headers": {},
        "out": None,
        "path": None,
        "filename": None,
        "size": 0,
        "error": None,
        "in_file": False,
        "done": False,
    }

    def on_part_begin():
        state["headers"] = {}

    def on_header_field(data, start, end):
        state["field"] += data[start:end]

    def on_header_value(data, start, end):
        state["value"] += data[start:end]

    def on_header_end():
        state["headers"][state["field"].lower()] = state["value"]
        state["field"], state["value"] = b"", b""

    def on_headers_finished():
        _, disp = parse_options_header(state["headers"].get(b"content-disposition", b""))
        state["in_file"] = False
        if disp.get(b"name") != FILE_FIELD.encode() or b"filename" not in disp or state["path"] is not None:
            return  # another field (ignored) or a second file (ignored)
        filename = _clean_name(disp[b"filename"])
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{secrets.token_hex(16)}.upload"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        state.update(out=os.fdopen(fd, "wb"), path=path, filename=filename, in_file=True)

    def on_part_data(data, start, end):
        if not state["in_file"] or state["error"]:
            return
        state["size"] += end - start
        if state["size"] > limit:
            state["error"] = UploadRejected(413, "too_large", too_large_detail(limit))
            return
        state["out"].write(data[start:end])

    def on_part_end():
        if state["in_file"]:
            state["in_file"] = False
            state["done"] = True

    callbacks = {
        "on_part_begin": on_part_begin,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished,
        "on_part_data": on_part_data,
        "on_part_end": on_part_end,
    }
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]  # plain functions, typed loosely
    received = 0
    stream = request.stream()
    try:
        async for chunk in stream:
            received += len(chunk)
            if received > limit + MULTIPART_OVERHEAD:
                raise UploadRejected(413, "too_large", too_large_detail(limit))
            try:
                parser.write(chunk)
            except UploadRejected:
                raise
            except Exception as exc:  # python-multipart's own parse errors
                raise UploadRejected(400, "malformed", f"malformed multipart body: {exc}") from None
            if state["error"]:
                raise state["error"]
        parser.finalize()
        if state["error"]:
            raise state["error"]
        if state["path"] is None or not state["done"]:
            raise UploadRejected(422, "no_file", f"no file in the '{FILE_FIELD}' field")
        state["out"].close()
        return Received(state["path"], state["filename"], state["size"])
    except BaseException as exc:
        if state["out"] is not None:
            state["out"].close()
        if state["path"] is not None:
            state["path"].unlink(missing_ok=True)
        if isinstance(exc, UploadRejected) and exc.status == 413 and drain:
            await _discard(stream, received, drain)
        raise

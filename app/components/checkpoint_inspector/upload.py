"""Receiving one uploaded file without ever holding more than the limit.

The body is read from request.stream() and fed to python-multipart's streaming parser, so
Starlette never buffers it. A Content-Length over the limit is refused before any byte is read;
the bytes are counted anyway (a client may send no length, or lie), and the partial file is
deleted as soon as the limit is passed. The file gets a random server-side name; the name the
client sent is kept only as text.

A file above the limit may come as its first HEAD_MAX_BYTES ('head'), its last TAIL_MAX_BYTES
('tail') and its real 'size': the server makes a sparse file of that size (the head at 0, the tail
at its end, a hole between that takes no disk) and the sandbox reads it from its header only.
"""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header

# Boundaries, part headers and a small form field or two around the file.
MULTIPART_OVERHEAD = 64 * 1024
FILE_FIELD = "file"
# A file above the limit may be sent as its head and tail: the page's script does that, and the
# sandbox reads it from its header (torch's zip puts data.pkl first and its directory last).
HEAD_FIELD, TAIL_FIELD, SIZE_FIELD = "head", "tail", "size"
MiB = 1024 * 1024
HEAD_MAX_BYTES = 8 * MiB
TAIL_MAX_BYTES = 1 * MiB
MAX_HEADER_FILE_BYTES = 1024 * 1024 * MiB  # a sparse file's apparent size, at most 1 TiB
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
    size: int  # the file's real size (a header-only upload's declared size)
    sent: dict | None = None  # a header-only upload: {"head": bytes, "tail": bytes} really sent


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


class _Part:
    """One part of the body being written to disk, refused as soon as it passes its cap."""

    def __init__(self, path: Path, cap: int, code: str, detail: str):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self.out: IO[bytes] | None = os.fdopen(fd, "wb")
        self.path, self.cap, self.code, self.detail = path, cap, code, detail
        self.size = 0
        self.done = False

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.cap:
            raise UploadRejected(413, self.code, self.detail)
        assert self.out is not None
        self.out.write(data)

    def close(self) -> None:
        if self.out is not None:
            self.out.close()
            self.out = None


def body_cap(limit: int) -> int:
    """The most a request body may hold: a whole file, or a header-only upload's head and tail."""
    return max(limit, HEAD_MAX_BYTES + TAIL_MAX_BYTES) + MULTIPART_OVERHEAD


async def receive_file(request: Request, folder: Path, limit: int, drain: int = 0) -> Received:
    """The 'file' part of a multipart body, written to folder under a random name; or, for a
    file above the limit, its 'head' and 'tail' parts and its 'size', made into a sparse file of
    that size (see header_only).

    drain: after a refusal for size, read (and discard) the rest of a body up to this many
    bytes, so that a browser still uploading gets to read the answer instead of a reset
    connection. 0 for API clients, which are expected to honour an early 413.
    """
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise UploadRejected(400, "not_multipart", "expected a multipart/form-data body with a 'file' field")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > body_cap(limit):
        if int(length) <= drain:
            await _discard(request.stream(), 0, drain)
        raise UploadRejected(413, "too_large", too_large_detail(limit))

    caps = {
        FILE_FIELD: (limit, "too_large", too_large_detail(limit)),
        HEAD_FIELD: (
            HEAD_MAX_BYTES,
            "head_too_large",
            f"the head is larger than {HEAD_MAX_BYTES // MiB} MiB",
        ),
        TAIL_FIELD: (
            TAIL_MAX_BYTES,
            "tail_too_large",
            f"the tail is larger than {TAIL_MAX_BYTES // MiB} MiB",
        ),
    }
    parts: dict[str, _Part] = {}
    state: dict[str, Any] = {"field": b"", "value": b"", "headers": {}, "part": None, "text": None}
    filenames: dict[str, str] = {}
    size_text = bytearray()

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
        name = disp.get(b"name", b"").decode("latin-1")
        state["part"] = state["text"] = None
        if name == SIZE_FIELD and b"filename" not in disp:
            state["text"] = size_text
            return
        if name not in caps or b"filename" not in disp or name in parts:
            return  # another field (ignored) or a second file (ignored)
        filenames[name] = _clean_name(disp[b"filename"])
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{secrets.token_hex(16)}.upload"
        state["part"] = parts[name] = _Part(path, *caps[name])

    def on_part_data(data, start, end):
        if state["part"] is not None:
            state["part"].write(data[start:end])
        elif state["text"] is not None:
            state["text"] += data[start:end]
            if len(state["text"]) > 32:
                raise UploadRejected(422, "header_size", "the 'size' field is not a number of bytes")

    def on_part_end():
        if state["part"] is not None:
            state["part"].done = True
        state["part"] = state["text"] = None

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
            if received > body_cap(limit):
                raise UploadRejected(413, "too_large", too_large_detail(limit))
            try:
                parser.write(chunk)
            except UploadRejected:
                raise
            except Exception as exc:  # python-multipart's own parse errors
                raise UploadRejected(400, "malformed", f"malformed multipart body: {exc}") from None
        parser.finalize()
        for part in parts.values():
            part.close()
        return _assembled(parts, filenames, bytes(size_text), limit)
    except BaseException as exc:
        for part in parts.values():
            part.close()
            part.path.unlink(missing_ok=True)
        if isinstance(exc, UploadRejected) and exc.status == 413 and drain:
            await _discard(stream, received, drain)
        raise


def _assembled(parts: dict[str, _Part], filenames: dict[str, str], size_text: bytes, limit: int) -> Received:
    """The whole file, or the sparse file a header-only upload makes."""
    done = {name: part for name, part in parts.items() if part.done}
    if FILE_FIELD in done and HEAD_FIELD not in parts:
        for name, part in parts.items():
            if name != FILE_FIELD:
                part.path.unlink(missing_ok=True)
        f = done[FILE_FIELD]
        return Received(f.path, filenames[FILE_FIELD], f.size)
    if HEAD_FIELD not in done:
        raise UploadRejected(422, "no_file", f"no file in the '{FILE_FIELD}' field")
    if FILE_FIELD in parts:
        raise UploadRejected(
            422,
            "header_mixed",
            f"send the whole file in '{FILE_FIELD}', or its '{HEAD_FIELD}' and '{TAIL_FIELD}'",
        )
    if TAIL_FIELD in parts and TAIL_FIELD not in done:
        raise UploadRejected(422, "no_file", f"the '{TAIL_FIELD}' part ended early")
    head, tail = done[HEAD_FIELD], done.get(TAIL_FIELD)
    text = size_text.decode("ascii", errors="replace").strip()
    if not text.isdigit():
        raise UploadRejected(422, "header_size", "a header-only upload needs the file's real size in 'size'")
    size = int(text)
    tail_size = tail.size if tail else 0
    if size <= limit:
        raise UploadRejected(
            422, "header_not_needed", f"the file fits the upload limit: send it whole in '{FILE_FIELD}'"
        )
    if size > MAX_HEADER_FILE_BYTES:
        raise UploadRejected(
            413, "header_too_large", f"the file is larger than {MAX_HEADER_FILE_BYTES // MiB:,} MiB"
        )
    if head.size == 0 or head.size + tail_size > size:
        raise UploadRejected(
            422,
            "header_parts",
            f"the head ({head.size} bytes) and tail ({tail_size} bytes) do not fit in {size} bytes",
        )
    # A sparse file of the real size: only the blocks written take disk, the hole reads as zeros.
    try:
        with open(head.path, "r+b") as out:
            out.truncate(size)
            if tail is not None:
                out.seek(size - tail.size)
                with open(tail.path, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
    except OSError as exc:  # a file system without sparse files, or one this size
        raise UploadRejected(
            413, "header_too_large", f"the server cannot hold a file of {size:,} bytes ({exc.strerror})"
        ) from None
    if tail is not None:
        tail.path.unlink(missing_ok=True)
    return Received(head.path, filenames[HEAD_FIELD], size, sent={"head": head.size, "tail": tail_size})

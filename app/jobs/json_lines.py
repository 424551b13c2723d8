"""JSON lines read from a pipe: the exercise runner's protocol, on both sides of the sandbox."""

from __future__ import annotations

import json


class TooLong(Exception):
    """More bytes than the reader may keep (a stream that floods or never ends a line)."""


class JsonLines:
    """Splits a byte stream into JSON objects, one a line; a line that is not a JSON object is
    skipped (a stream is never trusted to be well formed). `limit` caps all bytes read."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.read = 0
        self._rest = b""

    def feed(self, chunk: bytes) -> list[dict]:
        self.read += len(chunk)
        if self.read > self.limit:
            raise TooLong(self.read)
        lines = (self._rest + chunk).split(b"\n")
        self._rest = lines.pop()
        events = []
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                events.append(event)
        return events

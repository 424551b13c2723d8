"""A small in-process answer cache shared by components whose results are the same for everyone."""

from __future__ import annotations

import threading
from collections import OrderedDict


class ViewCache:
    """Answers keyed by the question; one computation per key at a time, a few keys at once."""

    def __init__(self, size: int = 512, concurrent: int = 2):
        self._items: OrderedDict[tuple, dict] = OrderedDict()
        self._lock = threading.Lock()
        self._inflight: dict[tuple, threading.Lock] = {}
        self._slots = threading.BoundedSemaphore(concurrent)
        self.size = size

    def get(self, key: tuple, compute) -> dict:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            gate = self._inflight.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                if key in self._items:
                    return self._items[key]
            with self._slots:
                value = compute()
            with self._lock:
                self._items[key] = value
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
                self._inflight.pop(key, None)
            return value

    def peek(self, key: tuple):
        """The answer if it is known, else None; never computes (callers on the event loop)."""
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: tuple, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __contains__(self, key: tuple) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


_create_lock = threading.Lock()


def app_cache(app, name: str = "labs_cache", size: int = 256, concurrent: int = 2) -> ViewCache:
    """The app's cache called name, made on first use (components share one, and so its slots)."""
    cache = getattr(app.state, name, None)
    if cache is None:
        with _create_lock:
            cache = getattr(app.state, name, None)
            if cache is None:
                cache = ViewCache(size=size, concurrent=concurrent)
                setattr(app.state, name, cache)
    return cache

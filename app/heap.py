"""The web process's heap and Python's cycle collector.

A full collection walks every container object the process holds. After start-up that is
~130,000 (modules, templates, prerendered views), and by the middle of a class ~300,000: one
full collection then held the GIL for 60-180 ms, and every page, live view and event stream
waited behind it (the chapter's p99 under load). What start-up builds lives as long as the
process, so it is moved out of the collector's reach once it is built (gc.freeze); the
collector then walks only what the class creates."""
from __future__ import annotations

import gc


def settle() -> None:
    """Collect once, then exempt everything alive now from future collections."""
    gc.collect()
    gc.freeze()

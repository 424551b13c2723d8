"""The web process's heap and Python's cycle collector.

A full collection walks every container object the process holds. After start-up that is
~130,000 (modules, templates, prerendered views), and by the middle of a class ~300,000: one
full collection then held the GIL for 60-180 ms, and every page, live view and event stream
waited behind it (the chapter's p99 under load). What start-up builds lives as long as the
process, so it is moved out of the collector's reach once it is built (gc.freeze); the
collector then walks only what the class creates.

What the class creates is mostly short-lived (a request's scope, a render's context), and
Python's default starts a young collection every 700 new container objects: ~100 a class, and
every tenth of them a middle one, each holding the GIL. A larger first threshold lets most of
those objects die by reference count before any collection looks at them: a measured class
spent 17 ms instead of 45 ms in the collector (4 collections instead of ~115). Cyclic garbage
waits longer to be freed: until ~10,000 more container objects have been made."""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000  # Python's default is 700; the older generations keep theirs


def settle() -> None:
    """Collect once, then exempt everything alive now from future collections."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *gc.get_threshold()[1:])

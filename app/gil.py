"""How long one thread of the web process may hold the GIL while the event loop waits for it.

The web process draws live views and reads SQLite in threads, while its event loop serves
pages and event streams. A drawing thread runs pure Python and keeps the GIL until the
interpreter asks it to let go: after 5 ms by Python's default. A page request that arrives
meanwhile waits that long before the loop can even read it. In a class, a chapter page's p99
with training had a median of 7.1 ms over six runs at the default and 6.1 ms over sixteen at
1 ms (~2 ms idle). Handing the GIL over more often costs some more switches; the web
process's CPU in those runs stayed within its run-to-run spread."""

from __future__ import annotations

import sys

SWITCH_INTERVAL = 0.001  # seconds; Python's default is 0.005


def share() -> None:
    sys.setswitchinterval(SWITCH_INTERVAL)

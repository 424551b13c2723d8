"""Every Redis key of JOB_BACKEND=celery, with its lifetime, in one place.

Celery only carries a run to its node; everything after that goes through these keys. One
hand-over of a run to a node is named `<web>:<run id>:<token>`: `web` tells this web node's runs
from another's sharing the Redis (a hash of its DATA_DIR), and the fresh token means that a
reference run started again, or a test's second web node, never reads old keys.

| key                      | type   | written by | lifetime                                          |
|--------------------------|--------|------------|---------------------------------------------------|
| lab:<name>:events        | stream | node       | until the run ends and the web node has read all  |
| lab:<name>:ack           | string | web        | ACK_TTL_S; READ_ALL once the run ended            |
| lab:<name>:kill          | string | web        | KILL_TTL_S; LOST_KILL_TTL_S for a run given up on |
| lab:<name>:hb            | string | node       | HEARTBEAT_TTL_S, refreshed every HEARTBEAT_S      |
| lab:<name>:owner         | hash   | node       | until the run ends                                |
| lab:<name>:claim         | string | node / web | CLAIM_TTL_S: a run never starts twice             |
| lab:node:<queue>:<node>  | string | node       | HEARTBEAT_TTL_S: a live node's slots              |
"""

from __future__ import annotations

KILL_TTL_S = 3600  # a crash request, repeated by the web node until the run ends
ACK_TTL_S = 3600  # the last event number the web node has read
ENDED_ACK_TTL_S = 600  # READ_ALL after the end: the node lets the run go at once
CLAIM_TTL_S = 86400  # longer than any run trains
LOST_KILL_TTL_S = 86400  # a lost run is cut off if its node ever reaches Redis again
READ_ALL = 2**62  # an ack past any run's last event


class Keys:
    """The keys of one hand-over of a run to a node."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.events = f"lab:{name}:events"  # stream: the run's events, entry id = "<seq>-0"
        self.ack = f"lab:{name}:ack"  # the last seq the web node has read
        self.kill = f"lab:{name}:kill"  # present: SIGKILL the run's process
        self.heartbeat = f"lab:{name}:hb"  # present while its node is alive
        self.owner = f"lab:{name}:owner"  # hash: node, pid of the run's process, the node's pid
        self.claim = f"lab:{name}:claim"  # SET NX by the node that runs it: never twice

    @classmethod
    def of_owner_key(cls, key: str) -> Keys:
        return cls(key.removeprefix("lab:").removesuffix(":owner"))

    def transient(self) -> list[str]:
        """What goes once the run ended and the web node read it all."""
        return [self.events, self.kill, self.heartbeat, self.owner]


def owner_pattern(web: str) -> str:
    """The owner keys of every run one web node handed out (to stop them after its restart)."""
    return f"lab:{web}:*:owner"


def node_key(queue: str, name: str) -> str:
    """A live node's slots for runs of `queue`, refreshed while it lives."""
    return f"lab:node:{queue}:{name}"

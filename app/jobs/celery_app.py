"""The Celery application shared by the web node (which sends runs) and the worker nodes.

Celery carries each started run to one worker node; everything after that (events, heartbeat,
crash requests) goes through the Redis keys of app/jobs/redis_keys.py, not through Celery, so that a run
is one task no matter how long it trains. No result backend: the run's end is its exit event.
"""

from __future__ import annotations

from celery import Celery

from app.settings import Settings

TASK = "checkpoint_lab.run"
# A message a lost node had taken is never handed to another node by Celery (a year): the web
# node decides that a lost run is "interrupted", and the learner resumes it from a checkpoint.
NEVER_REDELIVER_S = 365 * 86400
# A node refreshes each run's heartbeat key this often (the key lives HEARTBEAT_TTL_S, a setting).
HEARTBEAT_S = 1.0
# A run no node has started this long after it was handed to Celery is "interrupted".
START_TIMEOUT_S = 120.0
# How long a node keeps a finished run's last events for the web node to read (Redis may be
# restarting meanwhile) before it lets the run go.
ACK_TIMEOUT_S = 60.0


def make_celery(settings: Settings) -> Celery:
    app = Celery("checkpoint_lab", broker=settings.redis_url)
    app.conf.update(
        task_default_queue=settings.celery_queue,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        # One run per free slot of a node: acknowledged when it ends, and no slot reserves a
        # second run while the first trains (the web node hands out runs as slots free up).
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        broker_transport_options={"visibility_timeout": NEVER_REDELIVER_S},
        # A restart of Redis must not stop runs that are training: their relays keep their
        # events and send them again once Redis is back.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        broker_connection_retry_on_startup=True,
        worker_send_task_events=False,
        worker_hijack_root_logger=False,
    )
    return app


def node_queue(queue: str, name: str) -> str:
    """The Celery queue only this node consumes: the web node picks the node of each run (one
    with a free slot), so no node reserves a run while another idles (Celery's prefetch with
    late acknowledgement can hold one message more than a node has slots)."""
    return f"{queue}.{name}"

"""A worker node: `python -m app.worker` (JOB_BACKEND=celery on the web node, same REDIS_URL).

The node itself is app/jobs/node.py. This entry module imports nothing at its top on purpose:
multiprocessing runs the main module again, as `__mp_main__`, in every process it starts from
the forkserver (a `-m` module that is not a package's `__main__`), so each run's process would
otherwise import Celery and kombu and build the Celery app before training: ~0.14 s of CPU
per run, which two nodes sharing two cores paid in every run (bench `distributed`).
"""


def main() -> None:
    from app.jobs.node import main as node_main

    node_main()


if __name__ == "__main__":
    main()

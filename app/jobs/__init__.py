"""Background work: training runs in worker processes, their records, and short sandboxed calls."""

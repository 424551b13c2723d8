"""Benchmarks of Checkpoint Lab: `python -m bench [NAME ...] [--record] [--smoke]`.

Each prints ratios measured side by side in one run, because a machine is shared and noisy; a
missed target is printed, never raised. `--record` writes the figures to bench/results/; CI runs
`--smoke` (tiny sizes), which fails only when a benchmark cannot run to the end.
"""

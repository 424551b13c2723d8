"""Benchmarks of Checkpoint Lab: `python -m bench [NAME ...]` (startup, pages, training, classroom).

Each prints ratios measured side by side in one run, because the machine is shared and noisy;
nothing here asserts or fails: the tests never look at times, and CI does not run these.
"""

"""Checkpoint Lab: an interactive lesson on PyTorch model IO and checkpointing."""

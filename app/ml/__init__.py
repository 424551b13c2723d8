"""Pure-PyTorch engine of Checkpoint Lab: data, model, training loop and checkpoint IO.

Nothing here imports the web layer, so it can be tested and run in a worker on its own.
"""

// The CheckpointSimulator: predictions, timeline actions, focus after an action.

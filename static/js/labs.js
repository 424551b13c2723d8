// TransferLearningVisualizer and the labs.

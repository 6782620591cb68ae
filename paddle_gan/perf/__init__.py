"""Speed and memory measurements of the training step: the step benchmark and the soak test."""

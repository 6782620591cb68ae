"""Training: optimizers, the D/G steps, the fit loop and the run driver."""

"""Weights in and out of the suite: export for Paddle Inference, --init-from, CycleGAN
translation of image files."""

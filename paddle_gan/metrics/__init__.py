"""Evaluation metrics for GAN samples."""

from paddle_gan.metrics.distances import (
    class_coverage,
    fid,
    fid_from_stats,
    gaussian_stats,
    inception_score,
    kid,
    precision_recall,
)

__all__ = [
    "class_coverage",
    "fid",
    "fid_from_stats",
    "gaussian_stats",
    "inception_score",
    "kid",
    "precision_recall",
]

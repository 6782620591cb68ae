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

# MNIST feature classifier: imported on first use, since it needs Paddle.
_CLASSIFIER_EXPORTS = ("MnistClassifier", "classifier_outputs", "load_classifier")
__all__ += list(_CLASSIFIER_EXPORTS)


def __getattr__(name: str):
    if name in _CLASSIFIER_EXPORTS:
        from paddle_gan.metrics import classifier

        return getattr(classifier, name)
    raise AttributeError(f"module 'paddle_gan.metrics' has no attribute {name!r}")

"""Does D recognise the digits it trained on better than new ones? A memorisation gauge.

D's mean raw score (logit or critic value) on a fixed subset of the training images and on as
many held-out images, in eval mode and without gradients. A discriminator that generalises
scores both alike; one that memorises its training set scores the held-out digits lower, like
its fakes, and then pushes G towards the training images instead of the digits' distribution.
Logged during training as `d_score_train` and `d_score_held_out` (VisualDL and train_log.jsonl);
docs/models.md shows the MLP GAN's discriminator memorising the 4,500 digits of the embedded
subset, and what dropout in D changed.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import paddle
import paddle.nn as nn

from paddle_gan.blocks import one_hot
from paddle_gan.data import ArrayData
from paddle_gan.models import from_unit_range


class RealScoreProbe:
    """D's mean score on `n` fixed training images and `n` fixed held-out images.

    Args:
        train: the training data ([0, 1] images, labels for a conditional D).
        held_out: the held-out data.
        n: images per set (fewer when a set is smaller; both sets get the same number).
        seed: picks the images.
        value_range: D's input range (the generator's output range).
        num_classes: length of D's one-hot condition (0 = unconditional).
    """

    def __init__(self, train: ArrayData, held_out: ArrayData, n: int, seed: int,
                 value_range: tuple[float, float], num_classes: int = 0) -> None:
        n = min(n, len(train), len(held_out))
        rng = np.random.default_rng([seed, 8080])
        self.sets = {name: self._inputs(data, np.sort(rng.choice(len(data), n, replace=False)),
                                        value_range, num_classes)
                     for name, data in (("train", train), ("held_out", held_out))}

    @staticmethod
    def _inputs(data: ArrayData, index: np.ndarray, value_range: tuple[float, float],
                num_classes: int) -> tuple[paddle.Tensor, Optional[paddle.Tensor]]:
        images = paddle.to_tensor(from_unit_range(data.samples[index], value_range)
                                  .astype(np.float32))  # [n, C, H, W]
        if not num_classes or data.labels is None:
            return images, None
        return images, one_hot(paddle.to_tensor(data.labels[index]), num_classes)  # [n, K]

    def __call__(self, discriminator: nn.Layer) -> dict[str, float]:
        """{"d_score_train": ..., "d_score_held_out": ...}; D's mode is restored afterwards."""
        was_training = discriminator.training
        discriminator.eval()
        try:
            with paddle.no_grad():
                return {f"d_score_{name}": float(discriminator(images, cond).mean())
                        for name, (images, cond) in self.sets.items()}
        finally:
            if was_training:
                discriminator.train()

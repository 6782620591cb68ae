"""An exponential moving average of the generator's weights (Yazici et al. 2019, "The unusual
effectiveness of averaging in GAN training"; ProGAN, StyleGAN and BigGAN sample from one).

The adversarial game makes G's weights oscillate around a good point; their running average
sits nearer to it, so the averaged generator draws cleaner samples at no training cost (it is
never trained, only updated after each G step). Samples, evaluation and export use it when
`--g-ema` is on; the raw G keeps training as before.
"""
from __future__ import annotations

import paddle
import paddle.nn as nn


def ema_decay(decay: float, updates: int) -> float:
    """The decay used at the `updates`-th update (1-based): `decay`, but at most
    (1 + updates) / (10 + updates) early on, so the average forgets its random start quickly
    (TensorFlow's ExponentialMovingAverage with num_updates)."""
    return min(decay, (1.0 + updates) / (10.0 + updates))


class GeneratorAverage:
    """Keeps `average` (a copy of `generator` built before any training) as the EMA of its
    trainable weights; non-trainable state (batch norm's running statistics) is copied.

    Args:
        generator: the generator being trained.
        average: a network of the same architecture, whose weights become the average.
        decay: the EMA's decay per G step (e.g. 0.999).
    """

    def __init__(self, generator: nn.Layer, average: nn.Layer, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.generator = generator
        self.average = average
        self.decay = decay
        self.updates = 0
        self.average.set_state_dict(generator.state_dict())
        self.average.eval()

    def update(self) -> None:
        """One EMA step after a G update."""
        self.updates += 1
        d = ema_decay(self.decay, self.updates)
        with paddle.no_grad():
            for mine, theirs in zip(self.average.parameters(), self.generator.parameters()):
                if theirs.trainable:
                    mine.set_value(mine * d + theirs * (1.0 - d))
                else:
                    mine.set_value(theirs)
            for mine, theirs in zip(self.average.buffers(), self.generator.buffers()):
                mine.set_value(theirs)

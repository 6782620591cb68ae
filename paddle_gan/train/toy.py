"""The toy model's trainer: the standard GAN trainer plus learning rates that decay over the run.

On the 2-D benchmarks Adam's constant step makes the generator's points jitter by about the
modes' width (sigma 0.01 on the ring), which caps the share of high-quality samples; decaying
both learning rates to 0 over the run lets the points settle. The factor is a pure function of
(step, total steps), so a resumed run continues the same schedule.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np
import paddle

from paddle_gan.train.gan import GanTrainer

LR_DECAYS = ("none", "linear", "cosine")


def lr_factor(kind: str, step: int, total: int) -> float:
    """Learning-rate multiplier at `step` (0-based) of a `total`-step run: 1 at the start,
    falling to 0 at the end (linear: 1 - t; cosine: (1 + cos(pi t)) / 2, with t = step / total).
    """
    if kind == "none" or total <= 0:
        return 1.0
    t = min(max(step / total, 0.0), 1.0)
    if kind == "linear":
        return 1.0 - t
    if kind == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * t))
    raise ValueError(f"unknown lr_decay {kind!r}; choose from {', '.join(LR_DECAYS)}")


class ToyTrainer(GanTrainer):
    """GanTrainer whose learning rates follow `cfg.lr_decay` (see `lr_factor`), and whose
    generator step skips the real batch when D has no batch norm (D then scores each point on
    its own, so the real points cannot change D's scores of the fakes)."""

    def g_step(self, real: paddle.Tensor, cond: Optional[paddle.Tensor]
               ) -> dict[str, paddle.Tensor]:
        if self.cfg.d_norm != "none":
            return super().g_step(real, cond)
        fake = self.G(self._latents(real.shape[0]), cond)  # [N, D]
        g_loss = self.loss.g_loss(self._head(self.D(fake, cond)))
        g_loss.backward()
        self.opt_g.step()
        self.opt_g.clear_grad()
        self.opt_d.clear_grad()
        return {"g_loss": g_loss}

    def learning_rates(self) -> tuple[float, float]:
        """(lr_g, lr_d) for the current step."""
        factor = lr_factor(self.cfg.lr_decay, self.position.step, self.total_steps())
        return self.cfg.lr_g * factor, self.cfg.lr_d * factor

    def train_step(self, samples: np.ndarray, labels: Optional[np.ndarray]
                   ) -> dict[str, paddle.Tensor]:
        if self.cfg.lr_decay != "none":
            lr_g, lr_d = self.learning_rates()
            self.opt_g.set_lr(lr_g)
            self.opt_d.set_lr(lr_d)
        return super().train_step(samples, labels)

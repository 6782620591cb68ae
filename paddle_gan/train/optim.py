"""Optimizers from the config, and the per-step seed that makes runs resumable exactly."""
from __future__ import annotations

from typing import Any

import paddle


def make_optimizer(cfg: Any, parameters: list, learning_rate: float) -> paddle.optimizer.Optimizer:
    """Adam(lr, beta1, beta2) or RMSProp(lr) (PyTorch's alpha 0.99 / eps 1e-8, as the WGAN code),
    with optional clipping by global norm (`cfg.clip_grad`)."""
    grad_clip = paddle.nn.ClipGradByGlobalNorm(cfg.clip_grad) if cfg.clip_grad else None
    if cfg.optimizer == "adam":
        return paddle.optimizer.Adam(learning_rate=learning_rate, beta1=cfg.beta1, beta2=cfg.beta2,
                                     parameters=parameters, grad_clip=grad_clip)
    if cfg.optimizer == "rmsprop":
        return paddle.optimizer.RMSProp(learning_rate=learning_rate, rho=0.99, epsilon=1e-8,
                                        parameters=parameters, grad_clip=grad_clip)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}")


def step_seed(seed: int, step: int) -> int:
    """The Paddle RNG seed used for global step `step` of a run seeded with `seed`.

    Seeding every step from (seed, step) makes all randomness of a step (latents, dropout, the
    gradient penalty's t) independent of what happened before, so a resumed run draws exactly
    what the uninterrupted run would have.
    """
    return (seed * 1_000_003 + step * 7919 + 12345) % (2**31 - 1)

"""Optimizers from the config, and the per-step seed that makes runs resumable exactly."""
from __future__ import annotations

from typing import Any

import paddle


#: RMSProp's epsilon as PyTorch (and so the WGAN reference code) adds it: outside the root,
#: p -= lr * g / (sqrt(v) + eps)
RMSPROP_EPS = 1e-8


def rmsprop_inner_epsilon(eps: float) -> float:
    """The epsilon to give Paddle's RMSProp, which adds it *inside* the root
    (p -= lr * g / sqrt(v + eps')), so that it behaves like PyTorch's eps outside the root:
    eps' = eps**2 gives sqrt(v + eps**2), within a factor sqrt(2) of sqrt(v) + eps everywhere and
    equal to it where sqrt(v) >> eps or << eps. Passing 1e-8 itself, as the two are often
    confused, puts a floor of 1e-4 under the denominator, which shrinks every step whose
    gradient's running RMS is below 1e-4 (a weight-clipped critic's often are)."""
    return eps * eps


def make_optimizer(cfg: Any, parameters: list, learning_rate: float) -> paddle.optimizer.Optimizer:
    """Adam(lr, beta1, beta2) or RMSProp(lr) (PyTorch's alpha 0.99 / eps 1e-8 outside the root,
    as the WGAN code), with optional clipping by global norm (`cfg.clip_grad`)."""
    grad_clip = paddle.nn.ClipGradByGlobalNorm(cfg.clip_grad) if cfg.clip_grad else None
    if cfg.optimizer == "adam":
        return paddle.optimizer.Adam(learning_rate=learning_rate, beta1=cfg.beta1, beta2=cfg.beta2,
                                     parameters=parameters, grad_clip=grad_clip)
    if cfg.optimizer == "rmsprop":
        return paddle.optimizer.RMSProp(learning_rate=learning_rate, rho=0.99,
                                        epsilon=rmsprop_inner_epsilon(RMSPROP_EPS),
                                        parameters=parameters, grad_clip=grad_clip)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}")


def step_seed(seed: int, step: int) -> int:
    """The Paddle RNG seed used for global step `step` of a run seeded with `seed`.

    Seeding every step from (seed, step) makes all randomness of a step (latents, dropout, the
    gradient penalty's t) independent of what happened before, so a resumed run draws exactly
    what the uninterrupted run would have.
    """
    return (seed * 1_000_003 + step * 7919 + 12345) % (2**31 - 1)

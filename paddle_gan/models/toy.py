"""MLP generator and discriminator for D-dimensional points: the 2-D GAN of docs/seeds.md section D.

D judges **one point** (the batch only averages the loss), as the seed article insists. Both
networks are `depth` hidden layers of `width` units (`mlp_stack`, fan-in uniform init): G maps
a normal latent z [N, latent_dim] to a point [N, D] with a linear output, D maps a point to a
raw score [N]. A conditional model concatenates the one-hot class to z and to D's input (the
seed's `torch.cat`). Only Linear / BatchNorm1D / element-wise activations and a reshape, so
the critic has the double gradient WGAN-GP needs.

Points keep their natural coordinates in the data; the trainer maps [0, 1] data into
`output_range`, and (0, 1) makes that map the identity. Inside, both networks work in the
target's normalised frame: G's output is `center + half * net(z)` and D sees
`(x - center) / half`, where the target's plotting box `center +- half` is known from the data
set's name (the ring spans about +-1.2, the grid +-4.8). The same learning rates then suit
every target. The frame is a fixed reparametrisation, not a learned one.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import paddle
import paddle.nn as nn

from paddle_gan.blocks import mlp_stack, register_constant
from paddle_gan.errors import UserError
from paddle_gan.models import DataSpec, ModelEntry, register


class ToyGenerator(nn.Layer):
    """z [N, latent_dim] (+ one-hot [N, K]) -> points [N, out_dim] = center + half * net(z).

    Args:
        out_dim: dimension of a point (2 for the 2-D targets).
        latent_dim: length of z ~ N(0, I).
        width: units per hidden layer.
        depth: hidden layers.
        num_classes: length of the one-hot condition (0 = unconditional).
        act: hidden activation.
        norm: "none" or "batch" (BatchNorm1D after each hidden Linear).
        center, half: the target's frame (per coordinate centre, one half-size).
    """

    #: identity map of the data: points are used in their own coordinates
    output_range = (0.0, 1.0)

    def __init__(self, out_dim: int = 2, latent_dim: int = 8, width: int = 128, depth: int = 3,
                 num_classes: int = 0, act: str = "leaky_relu", norm: str = "none",
                 center: Optional[Sequence[float]] = None, half: float = 1.0) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.net = mlp_stack([latent_dim + num_classes] + [width] * depth + [out_dim], act, norm,
                             fan_in_init=True)
        shift = [0.0] * out_dim if center is None else [float(c) for c in center]
        register_constant(self, "shift", shift)
        self.half = float(half)

    def forward(self, z: paddle.Tensor, cond: Optional[paddle.Tensor] = None) -> paddle.Tensor:
        if cond is not None:
            z = paddle.concat([z, cond], axis=1)  # [N, latent_dim + K]
        out = self.net(z)  # [N, out_dim], normalised frame
        return out * self.half + self.shift  # [N, out_dim]


class ToyDiscriminator(nn.Layer):
    """Points [N, in_dim] (+ one-hot [N, K]) -> raw scores [N] of net((x - center) / half).

    Args:
        in_dim: dimension of a point.
        width: units per hidden layer.
        depth: hidden layers.
        num_classes: length of the one-hot condition (0 = unconditional).
        act: hidden activation.
        norm: "none" (each point judged alone, the default) or "batch".
        center, half: the target's frame, as for the generator.
    """

    def __init__(self, in_dim: int = 2, width: int = 128, depth: int = 3, num_classes: int = 0,
                 act: str = "leaky_relu", norm: str = "none",
                 center: Optional[Sequence[float]] = None, half: float = 1.0) -> None:
        super().__init__()
        self.net = mlp_stack([in_dim + num_classes] + [width] * depth + [1], act, norm,
                             fan_in_init=True)
        shift = [0.0] * in_dim if center is None else [float(c) for c in center]
        register_constant(self, "shift", shift)
        self.half = float(half)

    def forward(self, x: paddle.Tensor, cond: Optional[paddle.Tensor] = None) -> paddle.Tensor:
        x = (x - self.shift) / self.half  # [N, in_dim]
        if cond is not None:
            x = paddle.concat([x, cond], axis=1)  # [N, in_dim + K]
        out = self.net(x)  # [N, 1]
        return paddle.reshape(out, [-1])  # [N]


def target_frame(dataset: str, dim: int) -> tuple[list[float], float]:
    """(center, half-size) of the data set's plotting box; (0, 1) for data that is not a
    toy2d target or not 2-D."""
    from paddle_gan.data.toy2d import dataset_target

    if dim != 2:
        return [0.0] * dim, 1.0
    try:
        x0, x1, y0, y1 = dataset_target(dataset).bounds
    except (UserError, ValueError, OSError):
        return [0.0] * dim, 1.0
    return [0.5 * (x0 + x1), 0.5 * (y0 + y1)], 0.5 * max(x1 - x0, y1 - y0)


def build(cfg: Any, spec: DataSpec) -> tuple[nn.Layer, nn.Layer]:
    if len(spec.shape) != 1:
        raise ValueError(f"the toy model makes points [N, D]; the data are {list(spec.shape)} "
                         f"per sample (use a 2-D data set such as ring or grid)")
    dim = spec.shape[0]
    center, half = target_frame(cfg.dataset, dim)
    generator = ToyGenerator(dim, cfg.latent_dim, cfg.width, cfg.depth, spec.num_classes,
                             cfg.activation, cfg.g_norm, center, half)
    discriminator = ToyDiscriminator(dim, cfg.width, cfg.depth, spec.num_classes,
                                     cfg.activation, cfg.d_norm, center, half)
    return generator, discriminator


def defaults(given: Mapping[str, Any], base: Any) -> dict[str, Any]:
    """2-D toy GANs: ReLU MLPs that judge one point (no norm in D), latent 2, batch 256, the
    ring, 25,000 generator iterations (max_steps = 25,000 k) with linearly decaying learning
    rates, no label smoothing or weight average, few host syncs; D every step for the BCE /
    least-squares losses (k 5 for the Wasserstein critics); optimiser settings tuned on the
    benchmark (docs/toy2d.md). The loss is the given one, else `base.loss`."""
    from paddle_gan.losses import LOSSES

    spec = LOSSES.get(given.get("loss", base.loss))
    clipped = spec is not None and spec.weight_clipping
    penalised = spec is not None and spec.gradient_penalty
    k = given.get("k") or (5 if clipped or penalised else 1)
    out: dict[str, Any] = dict(dataset="ring", d_norm="none", activation="relu", latent_dim=2,
                               batch_size=256, k=k, k_schedule="constant", max_steps=25_000 * k,
                               epochs=100_000, lr_decay="linear", label_smoothing=1.0,
                               g_ema=0.0, scalar_every=100,
                               log_every=1000, save_every=20)
    if penalised:  # lambda 0.1: the WGAN-GP authors' setting for their toy tasks
        out.update(lr_g=1e-3, lr_d=1e-3, beta1=0.5, beta2=0.9, gp_lambda=0.1)
    elif not clipped:  # the classifier losses (BCE, least squares, ...)
        out.update(lr_g=1e-3, lr_d=1e-3, beta1=0.5, beta2=0.9)
    return out


register("toy", ModelEntry(build, conditional=True, defaults=defaults,
                           summary="MLP G and D for 2-D points (width x depth), linear output"))

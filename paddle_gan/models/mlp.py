"""Fully connected GAN / WGAN / WGAN-GP networks for MNIST (docs/seeds.md section C).

Generator `z(100) -> 128 -> 256 -> 512 -> 784, tanh` and critic `784 -> 512 -> 256 -> 1`
(linear output), LeakyReLU 0.2, at the default width 128: the hidden sizes are width, 2*width,
4*width for G and 4*width, 2*width for D. `g_norm: batch` puts batch norm after G's hidden
layers (as many public MLP GANs do); D never has a norm. The image shape comes from the data (28x28x1 by
default, since `image_size` asks for 28). No normalisation anywhere, so the same critic serves
the weight-clipped WGAN and the gradient penalty. A one-hot condition, when given, is
concatenated to z and to D's flattened input (a conditional GAN, Mirza & Osindero 2014).
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
import paddle
import paddle.nn as nn

from paddle_gan.blocks import flatten_batch, mlp_stack
from paddle_gan.models import DataSpec, ModelEntry, register

MLP_IMAGE_SIZE = 28


class MLPGenerator(nn.Layer):
    """z [N, latent_dim] (+ one-hot [N, K]) -> image [N, C, H, W] in [-1, 1].

    Args:
        shape: image shape (C, H, W).
        width: first hidden size (the seed's 128); the others are 2x and 4x.
        latent_dim: length of z (the seed's 100).
        num_classes: length of the one-hot condition (0 = unconditional).
        act: hidden activation (LeakyReLU 0.2 by default).
        norm: norm after each hidden layer ("none", the seed's; or "batch").
    """

    output_range = (-1.0, 1.0)

    def __init__(self, shape: tuple[int, int, int], width: int = 128, latent_dim: int = 100,
                 num_classes: int = 0, act: str = "leaky_relu", norm: str = "none") -> None:
        super().__init__()
        self.shape = tuple(shape)
        self.latent_dim = latent_dim
        sizes = [latent_dim + num_classes, width, 2 * width, 4 * width, int(np.prod(shape))]
        self.net = nn.Sequential(mlp_stack(sizes, act, norm), nn.Tanh())

    def forward(self, z: paddle.Tensor, cond: Optional[paddle.Tensor] = None) -> paddle.Tensor:
        if cond is not None:
            z = paddle.concat([z, cond], axis=1)  # [N, latent + K]
        x = self.net(z)  # [N, C*H*W]
        return paddle.reshape(x, [-1, *self.shape])  # [N, C, H, W]


class MLPDiscriminator(nn.Layer):
    """Image [N, C, H, W] (+ one-hot [N, K]) -> raw scores [N].

    Args:
        shape: image shape (C, H, W).
        width: the last hidden size is 2*width, the first 4*width (the seed's 512 -> 256).
        num_classes: length of the one-hot condition (0 = unconditional).
        act: hidden activation (LeakyReLU 0.2).
        dropout: dropout rate after each hidden layer (Goodfellow et al. 2014 trained their
            discriminator with dropout; 0 = none).
    """

    def __init__(self, shape: tuple[int, int, int], width: int = 128, num_classes: int = 0,
                 act: str = "leaky_relu", dropout: float = 0.0) -> None:
        super().__init__()
        self.net = mlp_stack([int(np.prod(shape)) + num_classes, 4 * width, 2 * width, 1], act,
                             dropout=dropout)

    def forward(self, x: paddle.Tensor, cond: Optional[paddle.Tensor] = None) -> paddle.Tensor:
        x = flatten_batch(x)  # [N, C*H*W]; reshape, so WGAN-GP can differentiate twice
        if cond is not None:
            x = paddle.concat([x, cond], axis=1)  # [N, C*H*W + K]
        return self.net(x)[:, 0]  # [N]


def build(cfg: Any, spec: DataSpec) -> tuple[nn.Layer, nn.Layer]:
    """MLP pair for image data `spec` (C, H, W); ValueError for point data."""
    if len(spec.shape) != 3:
        raise ValueError(f"the MLP model makes images [C, H, W], the data are {spec.shape}")
    generator = MLPGenerator(spec.shape, cfg.width, cfg.latent_dim, spec.num_classes,
                             cfg.activation, cfg.g_norm)
    discriminator = MLPDiscriminator(spec.shape, cfg.width, spec.num_classes, "leaky_relu",
                                     cfg.d_dropout)
    return generator, discriminator


register("mlp", ModelEntry(build, image_size=lambda native: MLP_IMAGE_SIZE, conditional=True,
                           settings=("d_dropout",),  # the dropout of its discriminator
                           summary="fully connected G 100-128-256-512-784 (tanh) and "
                                   "D 784-512-256-1, 28x28"))

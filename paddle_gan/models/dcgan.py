"""DCGAN (Radford et al. 2016) as in the TensorFlow seed article (docs/seeds.md section B).

Generator: z -> dense -> 4x4 map -> BN -> LeakyReLU -> dropout -> transposed convolutions up to
the image size -> tanh (no BN on the output layer). Two up-sampling paths:

- 28x28 (MNIST): 4 -> 7 (kernel 4, stride 1, valid) -> 14 -> 28 (kernel 4, stride 2);
- 32x32 (CIFAR-10): 4 -> 8 -> 16 -> 32 (kernel 4, stride 2); 7*2^k and 4*2^k sizes in general.

The 4x4 map has `width * 2^(stages-1)` channels (512 at the default width 128 for 28 and 32),
halving at each stage down to `width` before the output layer.

Discriminator: strided 4x4 convolutions (stride 2, padding 1, as in PyTorch's DCGAN example; a
5x5 layer cost 1.7x more on the CPU here) without pooling: 28 -> 14 -> 7 -> 3, 32 -> 16 -> 8 -> 4;
BN on every layer but the first; LeakyReLU 0.2; a linear layer to one logit per image. With
`d_norm: none` (WGAN-GP) the convolutions get biases instead of BN. Only `paddle.reshape` flattens, so the critic can be differentiated twice.

A one-hot condition, when given, is concatenated to z and, as constant feature maps, to D's input
(D's first block adds those maps' response instead of convolving them: `blocks.Conv2D`).
"""
from __future__ import annotations

from typing import Any, Optional

import paddle
import paddle.nn as nn

from paddle_gan.blocks import (ConvBN, Conv2DTranspose, UpConvBN, conditioned_stack,
                               flatten_batch, make_activation, make_norm2d)
from paddle_gan.models import DataSpec, ModelEntry, register

BASE_SIZE = 4  # side of the generator's first feature map; D stops at this side or below


def upsampling_plan(size: int) -> Optional[tuple[bool, int]]:
    """(starts with the 4 -> 7 valid layer, number of stride-2 layers) for an image side, or None.

    28 -> (True, 2): 4 -> 7 -> 14 -> 28; 32 -> (False, 3): 4 -> 8 -> 16 -> 32.
    """
    doublings, side = 0, size
    while side > 7 and side % 2 == 0:
        side //= 2
        doublings += 1
    if side == 7:
        return True, doublings
    if side == BASE_SIZE and doublings > 0:
        return False, doublings
    return None


def supported_size(native: int) -> int:
    """The image side DCGAN trains at for data of side `native` (native if it has a plan)."""
    if upsampling_plan(native) is not None:
        return native
    return 32 if native < 64 else 64


class DCGANGenerator(nn.Layer):
    """z [N, latent_dim] (+ one-hot [N, K]) -> image [N, C, size, size] in [-1, 1].

    Args:
        size: image side (28, 32, or 7*2^k / 4*2^k).
        channels: image channels.
        width: channels of the last hidden stage; the 4x4 map has width * 2^(stages-1).
        latent_dim: length of z.
        num_classes: length of the one-hot condition (0 = unconditional).
        dropout: dropout rate after the dense block (the seed article's dropout).
        act: activation name (LeakyReLU 0.2 by default).
    """

    output_range = (-1.0, 1.0)

    def __init__(self, size: int, channels: int, width: int = 128, latent_dim: int = 100,
                 num_classes: int = 0, dropout: float = 0.2, act: str = "leaky_relu") -> None:
        super().__init__()
        plan = upsampling_plan(size)
        if plan is None:
            raise ValueError(f"DCGAN makes images of side 7*2^k or 4*2^k (28, 32, 64, ...), "
                             f"not {size}")
        valid_first, doublings = plan
        stages = doublings + int(valid_first)
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.top_channels = width * 2 ** (stages - 1)
        self.dense = nn.Linear(latent_dim + num_classes, self.top_channels * BASE_SIZE ** 2,
                               bias_attr=False)
        self.dense_norm = make_norm2d("batch", self.top_channels)
        self.dense_act = make_activation(act)
        self.dropout = nn.Dropout(dropout)
        layers = []
        in_ch = self.top_channels
        for index in range(stages):
            last = index == stages - 1
            out_ch = channels if last else in_ch // 2
            kernel, stride, pad = (4, 1, 0) if (valid_first and index == 0) else (4, 2, 1)
            if last:  # no BN on the output layer, as the seed and the DCGAN paper say
                layers += [Conv2DTranspose(in_ch, out_ch, kernel, stride=stride, padding=pad),
                           nn.Tanh()]
            else:
                layers.append(UpConvBN(in_ch, out_ch, kernel, stride, pad, act=act, norm="batch"))
            in_ch = out_ch
        self.up = nn.Sequential(*layers)

    def forward(self, z: paddle.Tensor, cond: Optional[paddle.Tensor] = None) -> paddle.Tensor:
        if cond is not None:
            z = paddle.concat([z, cond], axis=1)  # [N, latent + K]
        x = self.dense(z)  # [N, top * 16]
        x = paddle.reshape(x, [-1, self.top_channels, BASE_SIZE, BASE_SIZE])  # [N, top, 4, 4]
        x = self.dropout(self.dense_act(self.dense_norm(x)))  # [N, top, 4, 4]
        return self.up(x)  # [N, C, size, size] in [-1, 1]


class DCGANDiscriminator(nn.Layer):
    """Image [N, C, size, size] (+ one-hot [N, K]) -> logits [N].

    Args:
        size: image side (as for the generator).
        channels: image channels.
        width: channels of the first convolution, doubling at each following one.
        num_classes: length of the one-hot condition (0 = unconditional).
        norm: "batch" (DCGAN), "instance" or "none" (the WGAN-GP critic); never on layer one.
        act: activation name (LeakyReLU 0.2, as the DCGAN paper).
    """

    def __init__(self, size: int, channels: int, width: int = 128, num_classes: int = 0,
                 norm: str = "batch", act: str = "leaky_relu") -> None:
        super().__init__()
        if upsampling_plan(size) is None:
            raise ValueError(f"DCGAN judges images of side 7*2^k or 4*2^k, not {size}")
        self.num_classes = num_classes
        layers, in_ch, out_ch, side = [], channels + num_classes, width, size
        while side > BASE_SIZE:
            first = not layers
            layers.append(ConvBN(in_ch, out_ch, 4, stride=2, padding=1, act=act,
                                 norm="none" if first else norm,
                                 condition_channels=num_classes if first else 0))
            in_ch, out_ch, side = out_ch, out_ch * 2, side // 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(in_ch * side ** 2, 1)

    def forward(self, x: paddle.Tensor, cond: Optional[paddle.Tensor] = None) -> paddle.Tensor:
        # cond enters the first block as K constant maps beside x's C channels
        x = conditioned_stack(self.features, x, cond)  # [N, width * 2^(stages-1), 3, 3] (28)
        # or [..., 4, 4] (32)
        return self.head(flatten_batch(x))[:, 0]  # [N]


def build(cfg: Any, spec: DataSpec) -> tuple[nn.Layer, nn.Layer]:
    """DCGAN pair for data `spec` (C, H, W); ValueError for a size without an up-sampling plan."""
    channels, height, width = spec.shape
    if height != width:
        raise ValueError(f"DCGAN needs square images, the data are {height}x{width}")
    generator = DCGANGenerator(height, channels, cfg.width, cfg.latent_dim, spec.num_classes,
                               cfg.dropout, cfg.activation)
    discriminator = DCGANDiscriminator(height, channels, cfg.width, spec.num_classes,
                                       cfg.d_norm, "leaky_relu")
    return generator, discriminator


register("dcgan", ModelEntry(build, image_size=supported_size, conditional=True,
                             summary="DCGAN: dense + transposed convs, tanh; strided-conv D "
                                     "(28x28 MNIST, 32x32 CIFAR-10)"))

"""The PaddlePaddle tutorial's networks: a PixelShuffle generator and a stride-2 discriminator.

At the default width 128 these are the tutorial's layers (docs/seeds.md section A); `width` scales
every channel count so that CPU runs stay practical. One addition is on by default: a linear
layer maps z to the 10x10 map that the tutorial fills by reshaping z (`--g-input reshape`
restores the tutorial's input). Reshaped, the map is independent noise at every cell and only
convolutions follow, so the image is shift-equivariant away from its border: the centre of a
sample cannot depend on where it is, and the generator draws strokes rather than centred digits
(docs/losses.md has the measurements). With `--conditional` a one-hot class enters both
networks as constant feature maps (G: beside the 10x10 map; D: beside the image), the
conditional GAN of docs/seeds.md section D on the tutorial's networks.
"""
from __future__ import annotations

from typing import Any, Optional

import paddle
import paddle.nn as nn

from paddle_gan.blocks import Conv2D, ConvBN, conditioned_stack, flatten_batch
from paddle_gan.models import DataSpec, ModelEntry, register

SEED_LATENT_DIM = 100  # becomes a 1x10x10 map
SEED_IMAGE_SIZE = 32


class PixelShuffleGenerator(nn.Layer):
    """z [N, 100] -> 1x10x10 (+ 2 coordinate maps) (+ K class maps) -> ConvBN(5, same)
    -> ConvBN(3, valid: 8x8, 16*width ch) -> PixelShuffle(4) (32x32, width ch) -> ConvBN(5, same)
    -> Conv2D(5, same) -> sigmoid.

    Args:
        width: channel count of the 32x32 feature maps (the tutorial's 128).
        channels: image channels.
        act: ConvBN activation ("leaky_relu", "mish" or "relu").
        num_classes: length of the one-hot condition (0 = unconditional).
        z_input: how z becomes the 1x10x10 map: "dense" (Linear(100, 100), then reshape: every
            cell depends on all of z), "reshape" (the tutorial's) or "coords" (reshape, plus
            maps of each cell's row and column in [-1, 1]).
    """

    latent_dim = SEED_LATENT_DIM
    output_range = (0.0, 1.0)

    def __init__(self, width: int = 128, channels: int = 1, act: str = "leaky_relu",
                 num_classes: int = 0, z_input: str = "dense") -> None:
        super().__init__()
        self.num_classes = num_classes
        self.z_input = z_input
        self.project = nn.Linear(SEED_LATENT_DIM, 100) if z_input == "dense" else None
        extra = 2 if z_input == "coords" else 0  # row and column maps
        self.net = nn.Sequential(
            ConvBN(1 + extra + num_classes, width, 5, padding="same", act=act,
                   condition_channels=num_classes),
            ConvBN(width, width * 16, 3, act=act),
            nn.PixelShuffle(4),
            ConvBN(width, width, 5, padding="same", act=act),
            Conv2D(width, channels, 5, padding="same"),  # no BN on the output layer
            nn.Sigmoid(),
        )

    def forward(self, z: paddle.Tensor, cond: Optional[paddle.Tensor] = None) -> paddle.Tensor:
        if self.project is not None:
            z = self.project(z)  # [N, 100], each value a mix of all of z
        x = paddle.reshape(z, [-1, 1, 10, 10])  # [N, 1, 10, 10]
        if self.z_input == "coords":
            ramp = paddle.linspace(-1.0, 1.0, 10)
            ys = paddle.expand(paddle.reshape(ramp, [1, 1, 10, 1]), [x.shape[0], 1, 10, 10])
            xs = paddle.expand(paddle.reshape(ramp, [1, 1, 1, 10]), [x.shape[0], 1, 10, 10])
            x = paddle.concat([x, ys, xs], axis=1)  # [N, 3, 10, 10]
        # cond enters the first block as K constant 10x10 maps
        return conditioned_stack(self.net, x, cond)  # [N, C, 32, 32] in [0, 1]


class StridedDiscriminator(nn.Layer):
    """ConvBN(5, s2) 32->14 -> ConvBN(5, s2) 14->5 -> ConvBN(5, s2) 5->1 -> Conv2D(1x1) -> [N].

    Returns raw scores (logits); the loss decides whether a sigmoid applies.

    Args:
        width: channels of the last two blocks (the tutorial's 128; the first block has width/2).
        channels: image channels.
        norm: "batch" (the tutorial's), "instance" or "none" (the WGAN-GP paper's critic).
        act: ConvBN activation.
        num_classes: length of the one-hot condition (0 = unconditional).
    """

    def __init__(self, width: int = 128, channels: int = 1, norm: str = "batch",
                 act: str = "leaky_relu", num_classes: int = 0) -> None:
        super().__init__()
        half = max(1, width // 2)
        self.net = nn.Sequential(
            ConvBN(channels + num_classes, half, 5, stride=2, norm=norm, act=act,
                   condition_channels=num_classes),
            ConvBN(half, width, 5, stride=2, norm=norm, act=act),
            ConvBN(width, width, 5, stride=2, norm=norm, act=act),
            Conv2D(width, 1, 1),
        )

    def forward(self, x: paddle.Tensor, cond: Optional[paddle.Tensor] = None) -> paddle.Tensor:
        # cond enters the first block as K constant 32x32 maps
        out = conditioned_stack(self.net, x, cond)  # [N, 1, 1, 1]
        return flatten_batch(out)[:, 0]  # [N]


def build(cfg: Any, spec: DataSpec) -> tuple[nn.Layer, nn.Layer]:
    channels, height, width = spec.shape
    if (height, width) != (SEED_IMAGE_SIZE, SEED_IMAGE_SIZE):
        raise ValueError(f"the seed model makes {SEED_IMAGE_SIZE}x{SEED_IMAGE_SIZE} images, "
                         f"the data are {height}x{width}")
    if cfg.latent_dim != SEED_LATENT_DIM:
        raise ValueError(f"latent_dim: the seed generator turns z into a 1x10x10 map, so it "
                         f"needs {SEED_LATENT_DIM}, got {cfg.latent_dim}")
    generator = PixelShuffleGenerator(cfg.width, channels, cfg.activation, spec.num_classes,
                                      cfg.g_input)
    discriminator = StridedDiscriminator(cfg.width, channels, cfg.d_norm, cfg.activation,
                                         spec.num_classes)
    return generator, discriminator


register("seed", ModelEntry(build, image_size=lambda native: SEED_IMAGE_SIZE, conditional=True,
                            settings=("g_input",),  # how its generator turns z into a map
                            # runs stored before g_input existed reshaped z (the tutorial's)
                            stored_defaults={"g_input": "reshape"},
                            summary="the tutorial's PixelShuffle G + stride-2 D, 32x32"))

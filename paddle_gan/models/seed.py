"""The PaddlePaddle tutorial's networks: a PixelShuffle generator and a stride-2 discriminator.

At the default width 128 these are exactly the tutorial's layers (SEEDS.md section A); `width`
scales every channel count so that CPU runs stay practical. With `--conditional` a one-hot
class enters both networks as constant feature maps (G: beside the 10x10 noise map; D: beside
the image), the conditional GAN of SEEDS.md section D on the tutorial's networks.
"""
from __future__ import annotations

from typing import Any, Optional

import paddle
import paddle.nn as nn

from paddle_gan.blocks import ConvBN, append_condition_maps, flatten_batch
from paddle_gan.models import DataSpec, ModelEntry, register

SEED_LATENT_DIM = 100  # reshaped to a 1x10x10 map
SEED_IMAGE_SIZE = 32


class PixelShuffleGenerator(nn.Layer):
    """z [N, 100] -> 1x10x10 (+ K class maps) -> ConvBN(5, same) -> ConvBN(3, valid: 8x8, 16*width ch)
    -> PixelShuffle(4) (32x32, width ch) -> ConvBN(5, same) -> Conv2D(5, same) -> sigmoid.

    Args:
        width: channel count of the 32x32 feature maps (the tutorial's 128).
        channels: image channels.
        act: ConvBN activation ("leaky_relu", "mish" or "relu").
        num_classes: length of the one-hot condition (0 = unconditional).
    """

    latent_dim = SEED_LATENT_DIM
    output_range = (0.0, 1.0)

    def __init__(self, width: int = 128, channels: int = 1, act: str = "leaky_relu",
                 num_classes: int = 0) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.net = nn.Sequential(
            ConvBN(1 + num_classes, width, 5, padding="same", act=act),
            ConvBN(width, width * 16, 3, act=act),
            nn.PixelShuffle(4),
            ConvBN(width, width, 5, padding="same", act=act),
            nn.Conv2D(width, channels, 5, padding="same"),  # no BN on the output layer
            nn.Sigmoid(),
        )

    def forward(self, z: paddle.Tensor, cond: Optional[paddle.Tensor] = None) -> paddle.Tensor:
        x = paddle.reshape(z, [-1, 1, 10, 10])  # [N, 1, 10, 10]
        if cond is not None:
            x = append_condition_maps(x, cond)  # [N, 1 + K, 10, 10]
        return self.net(x)  # [N, C, 32, 32] in [0, 1]


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
            ConvBN(channels + num_classes, half, 5, stride=2, norm=norm, act=act),
            ConvBN(half, width, 5, stride=2, norm=norm, act=act),
            ConvBN(width, width, 5, stride=2, norm=norm, act=act),
            nn.Conv2D(width, 1, 1),
        )

    def forward(self, x: paddle.Tensor, cond: Optional[paddle.Tensor] = None) -> paddle.Tensor:
        if cond is not None:
            x = append_condition_maps(x, cond)  # [N, C + K, 32, 32]
        out = self.net(x)  # [N, 1, 1, 1]
        return flatten_batch(out)[:, 0]  # [N]


def build(cfg: Any, spec: DataSpec) -> tuple[nn.Layer, nn.Layer]:
    channels, height, width = spec.shape
    if (height, width) != (SEED_IMAGE_SIZE, SEED_IMAGE_SIZE):
        raise ValueError(f"the seed model makes {SEED_IMAGE_SIZE}x{SEED_IMAGE_SIZE} images, "
                         f"the data are {height}x{width}")
    if cfg.latent_dim != SEED_LATENT_DIM:
        raise ValueError(f"latent_dim: the seed generator reshapes z to a 1x10x10 map, so it "
                         f"needs {SEED_LATENT_DIM}, got {cfg.latent_dim}")
    generator = PixelShuffleGenerator(cfg.width, channels, cfg.activation, spec.num_classes)
    discriminator = StridedDiscriminator(cfg.width, channels, cfg.d_norm, cfg.activation,
                                         spec.num_classes)
    return generator, discriminator


register("seed", ModelEntry(build, image_size=lambda native: SEED_IMAGE_SIZE, conditional=True,
                            summary="the tutorial's PixelShuffle G + stride-2 D, 32x32"))

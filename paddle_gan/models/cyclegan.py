"""CycleGAN's networks (Zhu et al. 2017, appendix 7.2): a ResNet generator and the PatchGAN.

The registry's `build` returns a (generators, discriminators) pair like every model, but each is
a small container: :class:`GeneratorPair` holds G: A->B (`ab`) and F: B->A (`ba`),
:class:`DiscriminatorPair` holds D_A (`a`, judges domain A) and D_B (`b`). One optimizer per
container updates both of its networks, as in the paper's code. Training is
:class:`paddle_gan.train.cyclegan.CycleGanTrainer` (its entry names the trainer kind "cyclegan").

Images are in [-1, 1] (tanh); `GeneratorPair.translate` takes and returns [0, 1] numpy images.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

import numpy as np
import paddle
import paddle.nn as nn

from paddle_gan.blocks import Conv2D, ConvBN, ResidualBlock, UpConvBN
from paddle_gan.errors import UserError
from paddle_gan.models import DataSpec, ModelEntry, register

DIRECTIONS = ("AtoB", "BtoA")


def up_stage(in_channels: int, out_channels: int, norm: str) -> UpConvBN:
    """The paper's u-k: 3x3 transposed conv, stride 2 (doubles H and W), norm, ReLU."""
    return UpConvBN(in_channels, out_channels, 3, stride=2, padding=1, output_padding=1,
                    act="relu", norm=norm)


class ResnetGenerator(nn.Layer):
    """c7s1-w, d2w, d4w, n x R4w, u2w, uw, c7s1-C, tanh (the paper's 'ResNet generator').

    Reflection padding around the 7x7 convolutions and inside the residual blocks, instance
    norm, ReLU. H and W must be multiples of 4 (two stride-2 downsamplings).

    Args:
        in_channels, out_channels: image channels of the source and target domains.
        width: channels of the first layer (the paper's 64).
        n_blocks: residual blocks (6 for 128 px, 9 for 256 px in the paper).
        norm: "instance" (the paper's), "batch" or "none".
    """

    output_range = (-1.0, 1.0)

    def __init__(self, in_channels: int, out_channels: int, width: int = 64, n_blocks: int = 6,
                 norm: str = "instance") -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Pad2D(3, mode="reflect"),
                                  ConvBN(in_channels, width, 7, act="relu", norm=norm))
        self.down = nn.Sequential(
            ConvBN(width, 2 * width, 3, stride=2, padding=1, act="relu", norm=norm),
            ConvBN(2 * width, 4 * width, 3, stride=2, padding=1, act="relu", norm=norm))
        self.blocks = nn.Sequential(*[ResidualBlock(4 * width, norm) for _ in range(n_blocks)])
        self.up = nn.Sequential(up_stage(4 * width, 2 * width, norm),
                                up_stage(2 * width, width, norm))
        self.head = nn.Sequential(nn.Pad2D(3, mode="reflect"), Conv2D(width, out_channels, 7),
                                  nn.Tanh())

    def forward(self, x: paddle.Tensor, cond: Optional[paddle.Tensor] = None) -> paddle.Tensor:
        h = self.stem(x)  # [N, w, H, W]
        h = self.down(h)  # [N, 4w, H/4, W/4]
        h = self.blocks(h)  # [N, 4w, H/4, W/4]
        h = self.up(h)  # [N, w, H, W]
        return self.head(h)  # [N, C_out, H, W] in [-1, 1]


class PatchDiscriminator(nn.Layer):
    """The PatchGAN: C64 (no norm) - C128 - C256 (stride 2) - C512 (stride 1) - 1-channel conv.

    All convolutions are 4x4 with padding 1, LeakyReLU 0.2. With `n_layers` = 3 stride-2 layers
    each output judges a 70x70 patch (a 256 px image gives a 30x30 grid); 2 gives 34x34, 1 16x16.
    Returns raw patch scores [N, 1, h, w]: the losses average over every patch (a mean over the
    grid), which is the paper's per-patch objective.

    Args:
        in_channels: image channels.
        width: channels of the first layer (the paper's 64); doubles per layer, at most 8x.
        n_layers: stride-2 convolutions.
        norm: "instance" (the paper's), "batch" or "none"; never on the first layer.
    """

    def __init__(self, in_channels: int, width: int = 64, n_layers: int = 3,
                 norm: str = "instance") -> None:
        super().__init__()
        layers: list[nn.Layer] = [ConvBN(in_channels, width, 4, stride=2, padding=1, norm="none")]
        channels = width
        for i in range(1, n_layers):
            out = width * min(2 ** i, 8)
            layers.append(ConvBN(channels, out, 4, stride=2, padding=1, norm=norm))
            channels = out
        out = width * min(2 ** n_layers, 8)
        layers.append(ConvBN(channels, out, 4, stride=1, padding=1, norm=norm))
        layers.append(Conv2D(out, 1, 4, stride=1, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: paddle.Tensor, cond: Optional[paddle.Tensor] = None) -> paddle.Tensor:
        return self.net(x)  # [N, 1, h, w] patch logits


def patch_grid(size: int, n_layers: int) -> tuple[int, int]:
    """(side of the last normalised feature map, side of the patch grid) for a `size` input."""
    for _ in range(n_layers):
        size = (size + 2 - 4) // 2 + 1
    return size - 1, size - 2


class GeneratorPair(nn.Layer):
    """G: A -> B (`ab`) and F: B -> A (`ba`), updated by one optimizer."""

    output_range = ResnetGenerator.output_range

    def __init__(self, ab: nn.Layer, ba: nn.Layer) -> None:
        super().__init__()
        self.ab = ab
        self.ba = ba

    def forward(self, x: paddle.Tensor, direction: str = "AtoB") -> paddle.Tensor:
        return (self.ab if direction == "AtoB" else self.ba)(x)  # [N, C, H, W] in [-1, 1]

    def translate(self, images: np.ndarray, direction: str, batch_size: int = 64) -> np.ndarray:
        """[0, 1] float images [N, C, H, W] -> translated [0, 1] images, in eval mode."""
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be AtoB or BtoA, got {direction!r}")
        net = self.ab if direction == "AtoB" else self.ba
        was_training = net.training
        net.eval()
        out = []
        with paddle.no_grad():
            for start in range(0, len(images), batch_size):
                x = paddle.to_tensor(np.asarray(images[start:start + batch_size], np.float32))
                out.append(((net(x * 2.0 - 1.0) + 1.0) / 2.0).numpy())  # [n, C, H, W]
        if was_training:
            net.train()
        if not out:
            return np.zeros_like(images, dtype=np.float32)
        return np.clip(np.concatenate(out), 0.0, 1.0)


class DiscriminatorPair(nn.Layer):
    """D_A (`a`, real A vs F(B)) and D_B (`b`, real B vs G(A)), updated by one optimizer."""

    def __init__(self, a: nn.Layer, b: nn.Layer) -> None:
        super().__init__()
        self.a = a
        self.b = b

    def forward(self, x: paddle.Tensor, domain: str = "A") -> paddle.Tensor:
        return (self.a if domain == "A" else self.b)(x)  # [N, 1, h, w]


def default_n_blocks(size: int) -> int:
    """The paper's choice: 6 residual blocks up to 128 px, 9 above."""
    return 6 if size <= 128 else 9


def default_d_layers(size: int) -> int:
    """3 stride-2 layers (70x70 patches) from 64 px, 2 (34x34) for smaller images."""
    return 3 if size >= 64 else 2


def build(cfg: Any, spec: DataSpec) -> tuple[GeneratorPair, DiscriminatorPair]:
    """(GeneratorPair, DiscriminatorPair) for images of shape `spec.shape` in both domains.

    ValueError (shown as a one-line UserError by the run driver) for sizes the networks cannot
    take: not a multiple of 4, or too small for the PatchGAN's depth.
    """
    channels, height, width = spec.shape
    size = min(height, width)
    if height % 4 or width % 4 or size < 8:
        raise ValueError(f"the CycleGAN generator needs image sides that are multiples of 4 and "
                         f"at least 8, got {height}x{width} (set --image-size)")
    n_blocks = cfg.n_blocks or default_n_blocks(max(height, width))
    n_layers = cfg.d_layers or default_d_layers(size)
    normed, grid = patch_grid(size, n_layers)
    if normed < 2 or grid < 1:
        raise ValueError(f"{height}x{width} images are too small for a PatchGAN with "
                         f"d_layers={n_layers}: use a smaller --d-layers or a larger --image-size")
    generators = GeneratorPair(ResnetGenerator(channels, channels, cfg.width, n_blocks),
                               ResnetGenerator(channels, channels, cfg.width, n_blocks))
    d_norm = cfg.d_norm or "instance"
    discriminators = DiscriminatorPair(PatchDiscriminator(channels, cfg.width, n_layers, d_norm),
                                       PatchDiscriminator(channels, cfg.width, n_layers, d_norm))
    return generators, discriminators


def defaults(given: Mapping[str, Any], base: Any) -> dict[str, Any]:
    """The CycleGAN paper: LSGAN, Adam(2e-4, 0.5), D and G every step, instance norm, width 64,
    batch 1 on folder data; without --data-dir the built-in MNIST style task (batch 64 keeps it
    fast on CPU). No label smoothing, weight average or loss-given decay (its own schedule is
    --decay-epochs), whatever the loss's defaults say. `base` (the TrainConfig defaults) is not
    needed."""
    dataset = given.get("dataset") or ("unpaired" if given.get("data_dir") else "mnist_style")
    return dict(loss="lsgan", k=1, d_norm="instance", width=64, dataset=dataset,
                lr_g=2e-4, lr_d=2e-4, beta1=0.5, beta2=0.999, label_smoothing=1.0, g_ema=0.0,
                lr_decay="none",
                **({"batch_size": 1} if dataset == "unpaired" else {}))


def check(cfg: Any) -> None:
    """UserError for settings CycleGAN cannot honour: an averaged generator (g_ema) and a
    decay other than its own schedule (lr_decay: --epochs constant, then --decay-epochs)."""
    if cfg.g_ema:
        raise UserError("g_ema: not available for cyclegan (its samples are translations)")
    if cfg.lr_decay != "none":
        raise UserError(f"lr_decay: {cfg.lr_decay!r} is not available for cyclegan: its rates "
                        f"stay constant for --epochs, then decay linearly over --decay-epochs")


register("cyclegan", ModelEntry(
    build, image_size=None, trainer="cyclegan", defaults=defaults, check=check,
    summary="CycleGAN: two ResNet generators + two PatchGANs, cycle/identity losses; unpaired "
            "folders (--data-dir) or the built-in MNIST style task"))

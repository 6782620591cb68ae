"""The tutorial's `from work.ConvBN import ConvBN`, kept working (AI Studio keeps code in work/).

The block itself lives in `paddle_gan.blocks`; this file only re-exports it.
"""
from paddle_gan.blocks import ConvBN, Mish  # noqa: F401

__all__ = ["ConvBN", "Mish"]

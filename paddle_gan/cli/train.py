"""Train a GAN: `python tools/train.py --loss lsgan` (the tutorial's model on MNIST).

Every config key is a flag (`--lr-g 1e-4`) and a YAML key (`--config paddle_gan/configs/x.yaml`);
see README.md for the defaults table.
"""
from __future__ import annotations

from typing import Optional, Sequence

import paddle_gan  # noqa: F401  (CPU settings before Paddle loads)
from paddle_gan.cli import OneLineParser, add_config_flags, add_debug_flag, config_overrides
from paddle_gan.config import make_config


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = OneLineParser(description=__doc__.splitlines()[0])
    add_config_flags(parser)
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    cfg = make_config(config_overrides(args), args.config)
    from paddle_gan.train.run import run_training

    run_training(cfg)
    return 0


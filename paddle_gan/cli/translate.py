"""Translate images with a trained CycleGAN: one PNG per input image.

python tools/translate.py --checkpoint RUN --input DIR_OR_FILE --direction AtoB --out DIR
"""
from __future__ import annotations

from typing import Optional, Sequence

import paddle_gan  # noqa: F401  (CPU settings before Paddle loads)
from paddle_gan.cli import OneLineParser, add_debug_flag, check_output_dir, check_range

#: the most images per forward pass: a CycleGAN generator holds tens of full-resolution
#: feature maps per image (at 256x256 about 100 MB), and a larger batch is no faster on a CPU
MAX_BATCH = 256


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, metavar="RUN",
                        help="a CycleGAN run folder (newest checkpoint) or checkpoint file")
    parser.add_argument("--input", required=True, metavar="DIR_OR_FILE",
                        help="an image file or a folder of images")
    parser.add_argument("--direction", default="AtoB", choices=("AtoB", "BtoA"),
                        help="AtoB uses G: A->B, BtoA uses F: B->A (default: AtoB)")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the PNG outputs")
    parser.add_argument("--batch-size", type=int, default=16, help=f"images per forward pass (1..{MAX_BATCH})")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "gpu"))
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    check_range("--batch-size", args.batch_size, 1, MAX_BATCH)
    check_output_dir(args.out, "--out")  # before any work
    from paddle_gan.errors import UserError
    from paddle_gan.io.translate import check_out_apart, translate_files
    from paddle_gan.runtime import setup_runtime

    check_out_apart(args.input, args.out)

    try:
        setup_runtime(args.device)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    written = translate_files(args.checkpoint, args.input, args.direction, args.out,
                              args.batch_size)
    print(f"wrote {len(written)} image(s) to {args.out}")
    return 0


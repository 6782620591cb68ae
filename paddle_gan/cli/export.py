"""Export a generator for Paddle Inference: `python tools/export.py --checkpoint RUN --out DIR`.

Writes DIR/generator.json + generator.pdiparams (paddle.jit.save; inputs z [N, latent_dim] and,
for conditional models, a one-hot cond [N, num_classes]) and DIR/generator_info.json (latent
size, output range, sample shape, classes) and DIR/generate.py, the self-contained server.
"""
from __future__ import annotations

from typing import Optional, Sequence

import paddle_gan  # noqa: F401  (CPU settings before Paddle loads)
from paddle_gan.cli import OneLineParser, add_debug_flag, check_output_dir


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, metavar="RUN_DIR_OR_FILE",
                        help="a run folder (its newest checkpoint) or a checkpoint .npz")
    parser.add_argument("--out", required=True, metavar="DIR", help="export folder to write")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    check_output_dir(args.out, "--out")

    from paddle_gan.io.export import INFO_FILE, check_export_folder, export_generator
    from paddle_gan.runtime import setup_runtime

    check_export_folder(args.out)

    setup_runtime("cpu")
    info = export_generator(args.checkpoint, args.out)
    shape = "x".join(str(s) for s in info["sample_shape"])
    classes = f", {info['num_classes']} classes" if info["num_classes"] else ""
    print(f"exported {info['source']['model']}/{info['source']['loss']} generator (step "
          f"{info['source']['step']}): z [N, {info['latent_dim']}]{classes} -> {shape} in "
          f"{tuple(info['output_range'])}")
    print(f"wrote {args.out}/{info['files']['model']}, {info['files']['params']}, {INFO_FILE}")
    print(f"generate: python {args.out}/generate.py --model {args.out} --num 64 --out grid.png")
    return 0


"""Draw from a run: `python tools/plot_samples.py --checkpoint RUN_DIR --out FILE.png`.

Default: an n x n grid of samples. --interpolate: n rows of spherical latent interpolation.
--curves: the loss curves from the run's VisualDL log. --progress: a montage of the per-epoch
sample grids (FILE.png) and an animated GIF of all of them (FILE.gif).
"""
from __future__ import annotations

import os
from typing import Optional, Sequence

import paddle_gan  # noqa: F401  (CPU settings before Paddle loads)
from paddle_gan.cli import OneLineParser, add_debug_flag, check_output_file, seed_value
from paddle_gan.errors import UserError


def _run_dir(target: str) -> str:
    from paddle_gan.io.runs import run_dir_of

    if not os.path.exists(target):
        raise UserError(f"--checkpoint {target}: no such file or folder")
    folder = run_dir_of(target)
    if folder is None:
        raise UserError(f"--checkpoint {target}: --curves and --progress need a run folder")
    return folder


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, metavar="RUN_DIR_OR_FILE",
                        help="a run folder (its newest checkpoint) or a checkpoint .npz")
    parser.add_argument("--out", required=True, metavar="FILE.png", help="picture to write")
    parser.add_argument("--n", type=int, default=8, help="grid size n (n x n; default 8)")
    parser.add_argument("--seed", type=seed_value, default=0, help="latent seed (0)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--interpolate", action="store_true", help="latent interpolation rows")
    mode.add_argument("--curves", action="store_true", help="loss curves from the VisualDL log")
    mode.add_argument("--progress", action="store_true",
                      help="montage + animated GIF of the per-epoch sample grids")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    if not 1 <= args.n <= 32:
        raise UserError(f"--n: must be in 1..32, got {args.n}")
    if not args.out.lower().endswith(".png"):
        raise UserError(f"--out {args.out}: give a .png file name")
    check_output_file(args.out, "--out", (args.checkpoint,))  # before any work
    gif = os.path.splitext(args.out)[0] + ".gif"
    if args.progress:
        check_output_file(gif, "--out (its .gif)", (args.checkpoint,))

    from paddle_gan.viz import plots

    if args.curves:
        print(f"wrote {plots.plot_curves(_run_dir(args.checkpoint), args.out)}")
        return 0
    if args.progress:
        for path in plots.plot_progress(_run_dir(args.checkpoint), args.out, gif):
            print(f"wrote {path}")
        return 0

    from paddle_gan.io.runs import load_run
    from paddle_gan.runtime import setup_runtime

    setup_runtime("auto")
    from paddle_gan.viz import get_plotter

    run = load_run(args.checkpoint)
    picture = get_plotter(run.stored_kind)(run, args.n, args.seed, args.interpolate)
    print(f"wrote {plots.save_picture(args.out, picture)} (step {run.step})")
    return 0


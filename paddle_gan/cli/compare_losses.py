"""Compare the losses: `python tools/compare_losses.py --out work/compare`.

Trains the seed model on the embedded MNIST subset with each of gan / minimax / lsgan / wgan /
wgangp for the same number of generator updates (--g-updates; discriminator steps = k x that)
and several seeds, evaluates every run like tools/eval.py and prints a markdown table of
mean +- std over the seeds. Finished runs and evaluations in --out are reused.
"""
from __future__ import annotations

from typing import Optional, Sequence

import paddle_gan  # noqa: F401  (CPU settings before Paddle loads)
from paddle_gan.cli import OneLineParser, add_debug_flag, check_output_dir
from paddle_gan.errors import UserError


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def main(argv: Optional[Sequence[str]] = None) -> int:
    from paddle_gan.experiments.compare import ALL_LOSSES, ComparisonSpec, run_comparison

    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for runs and results")
    parser.add_argument("--losses", default=",".join(ALL_LOSSES),
                        help=f"comma-separated losses (default {','.join(ALL_LOSSES)})")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (0,1,2)")
    parser.add_argument("--g-updates", type=int, default=1000,
                        help="generator updates per run (1000)")
    parser.add_argument("--width", type=int, default=32, help="seed model width (32)")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size (64)")
    parser.add_argument("--dataset", default="mnist5k", help="data set (mnist5k)")
    parser.add_argument("--num-samples", type=int, default=5000,
                        help="samples per evaluation (5000)")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    losses = _csv(args.losses)
    unknown = [name for name in losses if name not in ALL_LOSSES]
    if unknown or not losses:
        raise UserError(f"--losses: unknown {', '.join(unknown) or '(none given)'}; "
                        f"choose from {', '.join(ALL_LOSSES)}")
    try:
        seeds = tuple(int(s) for s in _csv(args.seeds))
    except ValueError:
        raise UserError(f"--seeds: expected comma-separated integers, got {args.seeds!r}") from None
    if not seeds:
        raise UserError("--seeds: give at least one seed")
    check_output_dir(args.out, "--out")  # before any training
    for name in ("g_updates", "width", "batch_size"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')}: must be at least 1")
    spec = ComparisonSpec(args.out, tuple(losses), seeds, args.g_updates, args.width,
                          args.batch_size, args.dataset, args.num_samples)
    table = run_comparison(spec)
    print(table)
    print(f"wrote {args.out}/table.md, results.json and samples_<loss>.png")
    return 0


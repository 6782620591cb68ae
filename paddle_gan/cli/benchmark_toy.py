"""Mode-coverage benchmark: `python tools/benchmark_toy.py [--iterations N] [--json FILE]`.

Trains `--model toy` on the ring (8 modes) and grid (25 modes) targets with every loss and
several seeds for a fixed number of generator iterations, scores each final generator with the
VEEGAN / PacGAN protocol (2,500 samples; modes recovered, % high-quality samples) and prints a
markdown table of mean ± std beside the published numbers. Runs go to --output/<target>_<loss>_s<seed>;
finished runs are reused, so an interrupted benchmark continues where it stopped.
"""
from __future__ import annotations

import json
from typing import Optional, Sequence

import paddle_gan  # noqa: F401  (CPU settings before Paddle loads)
from paddle_gan.cli import OneLineParser, add_debug_flag, check_output_dir, check_output_file


def main(argv: Optional[Sequence[str]] = None) -> int:
    from paddle_gan.losses import LOSSES
    from paddle_gan.experiments.toy_benchmark import TARGETS, BenchmarkSpec

    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=TARGETS,
                        help="targets to run (default: ring grid)")
    parser.add_argument("--losses", nargs="+", default=list(LOSSES), choices=sorted(LOSSES),
                        help="losses to run (default: all)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 per cell (default 5)")
    parser.add_argument("--iterations", type=int, default=BenchmarkSpec.iterations,
                        help=f"generator iterations per run (default {BenchmarkSpec.iterations}; "
                             f"D steps = iterations x k)")
    parser.add_argument("--output", default=BenchmarkSpec.output,
                        help=f"folder of the runs (default {BenchmarkSpec.output})")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads per run (default 1: small MLPs gain little from more)")
    parser.add_argument("--json", default=None, metavar="FILE",
                        help="also write every run and the summary here")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.iterations < 1 or args.threads < 1:
        parser.error("--seeds, --iterations and --threads must be at least 1")
    # output paths are checked before hours of runs, not at the end
    check_output_dir(args.output, "--output")
    if args.json:
        check_output_file(args.json, "--json")

    from paddle_gan.runtime import setup_runtime
    from paddle_gan.experiments.toy_benchmark import (markdown_table, results_json, run_benchmark,
                                          target_reached)

    setup_runtime("auto", args.threads)
    spec = BenchmarkSpec(args.targets, args.losses, tuple(range(args.seeds)), args.iterations,
                         args.output, args.threads)
    results = run_benchmark(spec)
    print()
    print(markdown_table(results))
    reached = target_reached(results)
    print()
    print("target (8/8 ring, >= 24.9/25 grid, >= 95% HQ on both, seed mean) reached by: "
          + (", ".join(reached) if reached else "none"))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results_json(results), handle, indent=2, allow_nan=False)
        print(f"wrote {args.json}")
    return 0


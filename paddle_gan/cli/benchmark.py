"""Time the training step: `python tools/benchmark.py --width 128 --batch-sizes 64`.

One iteration = k D steps + one G step (k defaults to 1 here). For each model x loss x batch
size it prints s/iter, img/s, model GFLOP/iter (counted from the layers), achieved GFLOP/s, the
machine's sgemm GFLOP/s (measured with Paddle in the same run), utilisation = achieved / sgemm,
the suite loop's overhead over a bare loop, and peak RSS. Every training flag applies
(`--no-onednn`, `--to-static`, `--amp`, `--threads`, ...).
"""
from __future__ import annotations

import json
from typing import Optional, Sequence

import paddle_gan  # noqa: F401  (CPU settings before Paddle loads)
from paddle_gan.cli import (OneLineParser, add_config_flags, add_debug_flag, check_output_file,
                            config_overrides)
from paddle_gan.config import make_config
from paddle_gan.errors import UserError


def _names(text: Optional[str]) -> Optional[list[str]]:
    return None if text is None else [t.strip() for t in text.split(",") if t.strip()]


def _sizes(text: Optional[str]) -> Optional[list[int]]:
    names = _names(text)
    if names is None:
        return None
    try:
        sizes = [int(t) for t in names]
    except ValueError:
        raise UserError(f"--batch-sizes: expected comma-separated integers, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise UserError(f"--batch-sizes: expected positive integers, got {text!r}")
    return sizes


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated models (default: --model)")
    parser.add_argument("--losses", help="comma-separated losses (default: --loss)")
    parser.add_argument("--batch-sizes", help="comma-separated batch sizes (default: --batch-size)")
    parser.add_argument("--loops", default="bare,suite",
                        help="bare (in-memory loop), suite (GanTrainer.fit) or both (default)")
    parser.add_argument("--iters", type=int, default=5, help="timed iterations per loop (median)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed iterations first")
    parser.add_argument("--sgemm-size", type=int, default=2048,
                        help="n of the n x n x n sgemm measuring the machine (default 2048)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    add_config_flags(parser)
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    if args.json:
        check_output_file(args.json, "--json")
    overrides = config_overrides(args)
    overrides.setdefault("k", 1)  # one iteration = one D step + one G step unless --k is given
    overrides.setdefault("output", "benchmark-run")  # never written: runs go to a temp folder
    base = make_config(overrides, args.config)

    def make(**case):
        return make_config({**overrides, **case}, args.config)

    from paddle_gan.perf.benchmark import format_table, run_benchmark

    result = run_benchmark(base, _names(args.models) or [base.model],
                           _names(args.losses) or [base.loss],
                           _sizes(args.batch_sizes) or [base.batch_size],
                           _names(args.loops) or [], args.iters, args.warmup,
                           args.sgemm_size, make=make)
    print(format_table(result))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)
        print(f"wrote {args.json}")
    return 0


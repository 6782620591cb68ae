"""Soak test: `python tools/soak.py --steps 10000 --out work/soak` (memory and log growth).

Trains a small model (the 2-D toy GAN by default; `--model seed --width 4` for the tutorial's
network) with VisualDL scalars, train_log.jsonl and the summary line written every step, and
samples the process's RSS and the log sizes every --sample-every steps. Prints the RSS growth
after --warmup steps (the guarantee: under --max-growth percent) and the log bytes per step;
writes OUT/soak.json. Exit code 1 when the growth exceeds --max-growth.
"""
from __future__ import annotations

import argparse
from typing import Optional, Sequence

import paddle_gan  # noqa: F401  (CPU settings before Paddle loads)
from paddle_gan.cli import (OneLineParser, add_debug_flag, check_output_dir, check_range,
                            threads_value)
from paddle_gan.errors import RunFailure, UserError


#: the soak's workloads: model -> its data set and default width
WORKLOADS = {"toy": dict(dataset="ring", width=64), "seed": dict(dataset="mnist5k", width=4)}


#: the longest soak: its samples and the per-step logs are held and written in full
MAX_STEPS = 1_000_000
#: the largest --max-growth in percent (an RSS ten times the baseline)
MAX_GROWTH_PCT = 1000


def check_numbers(args: argparse.Namespace) -> int:
    """UserError naming the flag unless every number is in its range (sizes as the training
    config bounds them); the warm-up in steps (10% of --steps, at least 200, by default)."""
    from paddle_gan.config import SIZE_LIMITS

    check_range("--steps", args.steps, 1, MAX_STEPS)
    check_range("--batch-size", args.batch_size, 1, SIZE_LIMITS["batch_size"])
    if args.width is not None:
        check_range("--width", args.width, 1, SIZE_LIMITS["width"])
    check_range("--sample-every", args.sample_every, 1, MAX_STEPS)
    check_range("--max-growth", args.max_growth, 0, MAX_GROWTH_PCT, "percent")
    warmup = args.warmup if args.warmup is not None else max(200, args.steps // 10)
    if not 0 <= warmup < args.steps:
        raise UserError(f"--warmup: must be in [0, --steps), got {warmup}")
    return warmup


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000, help="training steps (10000)")
    parser.add_argument("--out", required=True, metavar="DIR", help="a new run folder")
    parser.add_argument("--model", default="toy", choices=tuple(WORKLOADS),
                        help="toy (2-D ring, width 64) or seed (MNIST subset, 32x32)")
    parser.add_argument("--width", type=int, default=None, help="width (toy 64, seed 4)")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size (64)")
    parser.add_argument("--sample-every", type=int, default=100,
                        help="measure every N steps (100)")
    parser.add_argument("--warmup", type=int, default=None,
                        help="steps before the baseline measurement (10%% of --steps, >= 200)")
    parser.add_argument("--max-growth", type=float, default=5.0,
                        help="allowed RSS growth after warm-up in percent (5)")
    parser.add_argument("--threads", type=threads_value, default=None,
                        help="CPU threads (all cores)")
    parser.add_argument("--max-memory", type=float, default=None, metavar="GIB",
                        help="memory the run may use (default: the machine's), checked before "
                             "it starts as tools/train.py checks it")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    warmup = check_numbers(args)
    check_output_dir(args.out, "--out")
    from paddle_gan import checkpoint as ckpt_io
    from paddle_gan.config import make_config
    from paddle_gan.runtime import setup_runtime
    from paddle_gan.perf.soak import run_soak

    if ckpt_io.list_checkpoints(args.out):
        raise UserError(f"--out {args.out} already holds a run: choose a new folder")
    workload = WORKLOADS[args.model]
    cfg = make_config({
        "model": args.model, "dataset": workload["dataset"],
        "width": args.width or workload["width"], "batch_size": args.batch_size,
        "max_steps": args.steps, "epochs": 10**6, "output": args.out, "progress": False,
        "log_every": 1, "scalar_every": 1, "threads": args.threads,
        "sample_every": 1, "save_every": 1, "max_memory": args.max_memory})
    setup_runtime(cfg.device, cfg.threads)
    result = run_soak(cfg, args.sample_every, warmup)
    print(result.summary())
    if result.growth_pct > args.max_growth:
        raise RunFailure(f"RSS grew {result.growth_pct:.2f}% after warm-up "
                         f"(limit {args.max_growth}%): see {args.out}/soak.json")
    return 0


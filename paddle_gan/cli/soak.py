"""Soak test: `python tools/soak.py --steps 10000 --out work/soak` (memory and log growth).

Trains a small model (the 2-D toy GAN by default; `--model seed --width 4` for the tutorial's
network) with VisualDL scalars, train_log.jsonl and the summary line written every step, and
samples the process's RSS and the log sizes every --sample-every steps. Prints the RSS growth
after --warmup steps (the guarantee: under --max-growth percent) and the log bytes per step;
writes OUT/soak.json. Exit code 1 when the growth exceeds --max-growth.
"""
from __future__ import annotations

from typing import Optional, Sequence

import paddle_gan  # noqa: F401  (CPU settings before Paddle loads)
from paddle_gan.cli import OneLineParser, add_debug_flag, check_output_dir, threads_value
from paddle_gan.errors import RunFailure, UserError


#: the soak's workloads: model -> its data set and default width
WORKLOADS = {"toy": dict(dataset="ring", width=64), "seed": dict(dataset="mnist5k", width=4)}


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
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    for name in ("steps", "batch_size", "sample_every"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')}: must be at least 1, "
                            f"got {getattr(args, name)}")
    if args.width is not None and args.width < 1:
        raise UserError(f"--width: must be at least 1, got {args.width}")
    warmup = args.warmup if args.warmup is not None else max(200, args.steps // 10)
    if not 0 <= warmup < args.steps:
        raise UserError(f"--warmup: must be in [0, --steps), got {warmup}")
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
        "sample_every": 1, "save_every": 1})
    setup_runtime(cfg.device, cfg.threads)
    result = run_soak(cfg, args.sample_every, warmup)
    print(result.summary())
    if result.growth_pct > args.max_growth:
        raise RunFailure(f"RSS grew {result.growth_pct:.2f}% after warm-up "
                         f"(limit {args.max_growth}%): see {args.out}/soak.json")
    return 0


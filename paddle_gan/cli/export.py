"""Export a generator for Paddle Inference: `python tools/export.py --checkpoint RUN --out DIR`.

Writes DIR/generator.json + generator.pdiparams (paddle.jit.save; inputs z [N, latent_dim] and,
for conditional models, a one-hot cond [N, num_classes]) and DIR/generator_info.json (latent
size, output range, sample shape, classes) and DIR/generate.py, the self-contained server.

`--pretrained-out PREFIX` writes instead the package's shipped-generator files (see
paddle_gan/io/pretrained.py): PREFIX.npz, the sampling generator's state as the checkpoint
holds it, and PREFIX.json with the config, data hash, commits and the metrics of
`tools/eval.py --checkpoint RUN` (measured here, --eval-samples samples). The shipped quickstart
generator is regenerated with
    python tools/export.py --checkpoint RUN --pretrained-out paddle_gan/pretrained/quickstart
"""
from __future__ import annotations

import os
from typing import Optional, Sequence

import paddle_gan  # noqa: F401  (CPU settings before Paddle loads)
from paddle_gan.cli import OneLineParser, add_debug_flag, check_output_dir, check_output_file


def export_pretrained(target: str, prefix: str, eval_samples: int) -> int:
    """The --pretrained-out mode: evaluate the run as tools/eval.py does, then write
    PREFIX.npz and PREFIX.json."""
    from paddle_gan.evaluation import EvalOptions, evaluate_run, result_json
    from paddle_gan.io.export import EXPORTABLE_KINDS
    from paddle_gan.io.pretrained import write_pretrained
    from paddle_gan.io.runs import build_generator, load_run, load_split
    from paddle_gan.errors import UserError
    from paddle_gan.train.sessions import read_sessions

    run = load_run(target)
    if run.stored_kind not in EXPORTABLE_KINDS:
        raise UserError(f"{run.checkpoint.path}: a {run.stored_kind} run; a shipped generator "
                        f"is a latent-to-sample generator ({', '.join(EXPORTABLE_KINDS)} runs)")
    options = EvalOptions(num_samples=eval_samples)
    result, ctx = evaluate_run(run, options)
    doc = result_json(result, ctx)
    doc["seed"] = options.seed
    data = load_split(run, "test")
    commits = sorted({s.get("commit", "unknown") for s in read_sessions(run.run_dir)}) \
        if run.run_dir else []
    info = write_pretrained(prefix, run, build_generator(run, data), data, doc,
                            commits or ["unknown"])
    metrics = ", ".join(f"{k} {info['metrics'][k]:.3f}" for k in ("fid", "precision", "recall"))
    print(f"wrote {prefix}.npz ({os.path.getsize(prefix + '.npz') / 1024:.0f} KB, "
          f"{info['module']} of step {info['step']}) and {prefix}.json ({metrics}, "
          f"{eval_samples} samples)")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, metavar="RUN_DIR_OR_FILE",
                        help="a run folder (its newest checkpoint) or a checkpoint .npz")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", metavar="DIR", help="export folder to write")
    where.add_argument("--pretrained-out", metavar="PREFIX",
                       help="write PREFIX.npz + PREFIX.json, a shipped generator (e.g. "
                            "paddle_gan/pretrained/quickstart)")
    parser.add_argument("--eval-samples", type=int, default=5000,
                        help="--pretrained-out: samples scored for its metrics (5000, as "
                             "tools/eval.py)")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    from paddle_gan.runtime import setup_runtime

    if args.pretrained_out:
        if args.eval_samples < 10:
            from paddle_gan.errors import UserError

            raise UserError(f"--eval-samples: at least 10 are needed, got {args.eval_samples}")
        for suffix in (".npz", ".json"):
            check_output_file(args.pretrained_out + suffix, "--pretrained-out")
        setup_runtime("cpu")
        return export_pretrained(args.checkpoint, args.pretrained_out, args.eval_samples)
    check_output_dir(args.out, "--out")

    from paddle_gan.io.export import INFO_FILE, check_export_folder, export_generator

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

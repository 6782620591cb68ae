"""Score a run offline: `python tools/eval.py --checkpoint RUN_DIR [--json FILE]`.

Generates --num-samples images from the run's generator (eval mode) and compares them with the
held-out images of its data set: FID, KID, Inception Score, precision/recall and class coverage,
in the shipped MNIST classifier's features (MNIST), a local InceptionV3 (--inception-weights), or
a documented random projection of the pixels (other data sets). Never downloads anything.
"""
from __future__ import annotations

import os
from typing import Optional, Sequence

import paddle_gan  # noqa: F401  (CPU settings before Paddle loads)
from paddle_gan.cli import (OneLineParser, add_debug_flag, check_output_file, seed_value,
                            threads_value)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, metavar="RUN_DIR_OR_FILE",
                        help="a run folder (its newest checkpoint) or a checkpoint .npz")
    parser.add_argument("--num-samples", type=int, default=5000,
                        help="samples to generate and score (default 5000)")
    parser.add_argument("--json", default=None, metavar="FILE", help="also write the results here")
    parser.add_argument("--real", action="store_true",
                        help="score real training images instead of samples (the floor)")
    parser.add_argument("--inception-weights", default=None, metavar="PATH",
                        help="local InceptionV3 state dict (.pdparams or .npz) for Inception FID/IS")
    parser.add_argument("--batch-size", type=int, default=500, help="images per pass (500)")
    parser.add_argument("--seed", type=seed_value, default=0,
                        help="seed of the evaluation latents (0)")
    parser.add_argument("--kid-subsets", type=int, default=100,
                        help="KID's random subsets (100; fewer is faster but noisier)")
    parser.add_argument("--threads", type=threads_value, default=None,
                        help="CPU threads (all cores)")
    parser.add_argument("--trust-checkpoint", action="store_true",
                        help="allow a .pdparams --inception-weights file to be unpickled "
                             "(pickle can run code: only for files you trust)")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    # check the output path and refuse untrusted pickles before any work
    if args.json:
        check_output_file(args.json, "--json", (args.checkpoint, args.inception_weights))
    if args.inception_weights:
        from paddle_gan.errors import UserError
        from paddle_gan.io.init_weights import is_pickle_path, require_trust

        if os.path.exists(args.inception_weights) and not os.path.isfile(args.inception_weights):
            raise UserError(f"--inception-weights {args.inception_weights}: not a regular file")
        if not os.path.isfile(args.inception_weights):
            raise UserError(f"--inception-weights {args.inception_weights}: no such file (this "
                            f"tool never downloads; pass Paddle's inception_v3.pdparams)")
        # a quick look before any work; the load decides again from the bytes it loads
        if is_pickle_path(args.inception_weights):
            require_trust(args.inception_weights, args.trust_checkpoint, "--inception-weights")

    from paddle_gan.evaluation import (EvalOptions, evaluate, format_table, held_out_lines,
                                       result_json, write_json)
    from paddle_gan.runtime import setup_runtime

    setup_runtime("auto", args.threads)
    options = EvalOptions(args.num_samples, args.batch_size, args.seed, args.real,
                          args.inception_weights, args.kid_subsets, args.trust_checkpoint)
    result, ctx = evaluate(args.checkpoint, options)
    doc = result_json(result, ctx)
    title = (f"{ctx.run.checkpoint.path} (step {ctx.run.step}, {ctx.kind}, "
             f"{doc.get('feature_space', 'native')} features)")
    print(format_table(result, title))
    for line in held_out_lines(doc):
        print(line)
    if "feature_note" in doc:
        print(f"note: {doc['feature_note']}")
    if "seconds" in doc:
        print("time: " + ", ".join(f"{k} {v:.1f} s" for k, v in doc["seconds"].items()))
    if args.json:
        write_json(doc, args.json)
        print(f"wrote {args.json}")
    return 0


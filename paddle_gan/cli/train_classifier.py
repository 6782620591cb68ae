"""Train the MNIST feature classifier used by tools/eval.py and ship its weights.

`python tools/train_classifier.py` trains on the embedded subset's 4,500 training images and
reports accuracy on its 500 held-out images; `--data-dir` uses full MNIST (60k / 10k) instead.
Writes paddle_gan/metrics/weights/mnist_lenet.npz and the .json sidecar (accuracy, command, seed).
"""
from __future__ import annotations

import shlex
import sys
from typing import Optional, Sequence

import paddle_gan  # noqa: F401  (CPU settings before Paddle loads)
from paddle_gan.cli import (OneLineParser, add_debug_flag, check_output_file, seed_value,
                            threads_value)
from paddle_gan.errors import UserError


def main(argv: Optional[Sequence[str]] = None) -> int:
    from paddle_gan.metrics.classifier import WEIGHTS_PATH

    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="folder with the MNIST idx files")
    parser.add_argument("--epochs", type=int, default=30, help="passes over the data (30)")
    parser.add_argument("--batch-size", type=int, default=64, help="images per batch (64)")
    parser.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (2e-3)")
    parser.add_argument("--shift", type=int, default=2, help="random shift in pixels (2)")
    parser.add_argument("--seed", type=seed_value, default=0, help="random seed (0)")
    parser.add_argument("--threads", type=threads_value, default=None,
                        help="CPU threads (all cores)")
    parser.add_argument("--out", default=WEIGHTS_PATH, help=f"weights file ({WEIGHTS_PATH})")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    for name in ("epochs", "batch_size"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')}: must be at least 1")
    if args.shift < 0 or not 0 < args.lr <= 1:
        raise UserError("--shift must be >= 0 and --lr in (0, 1]")
    check_output_file(args.out, "--out")  # not after 30 epochs

    from paddle_gan.metrics.classifier import save_weights
    from paddle_gan.metrics.classifier_train import load_classifier_data, train_classifier
    from paddle_gan.runtime import setup_runtime

    setup_runtime("cpu", args.threads)
    data = load_classifier_data(args.data_dir)
    print(f"data: {data.note}: train {len(data.train_x)}, held out {len(data.test_x)}", flush=True)
    model, info = train_classifier(data, args.epochs, args.batch_size, args.lr, args.seed,
                                   args.shift)
    given = list(argv if argv is not None else sys.argv[1:])
    info["command"] = " ".join(["python tools/train_classifier.py", *map(shlex.quote, given)])
    save_weights(model, args.out, info)
    print(f"held-out accuracy {info['held_out_accuracy']:.4f} "
          f"(after the 32x32 round trip {info['held_out_accuracy_resized_32']:.4f}); "
          f"wrote {args.out}")
    return 0


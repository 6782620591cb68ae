"""Train the MNIST feature classifier used by tools/eval.py and ship its weights.

The tool's code is paddle_gan/cli/train_classifier.py (also `paddle-gan train-classifier` after
`pip install .`); this file runs it from a checkout, e.g. on AI Studio.
"""
import _bootstrap  # noqa: F401  (puts the repository on sys.path)
import paddle_gan  # noqa: F401  (CPU settings before Paddle loads)
from paddle_gan.cli import run_main
from paddle_gan.cli.train_classifier import main

if __name__ == "__main__":
    run_main(main)

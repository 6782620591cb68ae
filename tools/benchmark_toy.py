"""Mode-coverage benchmark: `python tools/benchmark_toy.py [--iterations N] [--json FILE]`.

The tool's code is paddle_gan/cli/benchmark_toy.py (also `paddle-gan benchmark-toy` after
`pip install .`); this file runs it from a checkout, e.g. on AI Studio.
"""
import _bootstrap  # noqa: F401  (puts the repository on sys.path)
import paddle_gan  # noqa: F401  (CPU settings before Paddle loads)
from paddle_gan.cli import run_main
from paddle_gan.cli.benchmark_toy import main

if __name__ == "__main__":
    run_main(main)

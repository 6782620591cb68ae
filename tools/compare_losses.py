"""Compare the losses: `python tools/compare_losses.py --out work/compare`.

The tool's code is paddle_gan/cli/compare_losses.py (also `paddle-gan compare-losses` after
`pip install .`); this file runs it from a checkout, e.g. on AI Studio.
"""
import _bootstrap  # noqa: F401  (puts the repository on sys.path)
import paddle_gan  # noqa: F401  (CPU settings before Paddle loads)
from paddle_gan.cli import run_main
from paddle_gan.cli.compare_losses import main

if __name__ == "__main__":
    run_main(main)

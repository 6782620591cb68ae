"""Test helper, started by `paddle.distributed.launch` in tests/test_distributed.py:
runs `tools/train.py` with the given arguments in this process and, when training has finished,
writes this rank's parameters and buffers to $DP_DUMP_DIR/rank<r>.npz so that the test can
compare the ranks."""
import os
import runpy
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tools"))  # _bootstrap

import paddle_gan  # noqa: E402,F401  (CPU settings before Paddle loads)
import numpy as np  # noqa: E402

from paddle_gan.train.gan import GanTrainer  # noqa: E402

_fit = GanTrainer.fit


def _fit_and_dump(self: GanTrainer) -> str:
    path = _fit(self)
    rank = os.environ.get("PADDLE_TRAINER_ID", "0")
    state = {f"{net}.{name}": value.numpy()
             for net, module in self.modules().items()
             for name, value in module.state_dict().items()}
    np.savez(os.path.join(os.environ["DP_DUMP_DIR"], f"rank{rank}.npz"), **state)
    return path


GanTrainer.fit = _fit_and_dump
sys.argv = [os.path.join(ROOT, "tools", "train.py")] + sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")

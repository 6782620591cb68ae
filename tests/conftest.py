"""Shared test set-up: CPU settings before Paddle loads, and tiny data / config fixtures."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import paddle_gan  # noqa: E402,F401  (MKL setting before Paddle is imported)
import numpy as np  # noqa: E402
import paddle  # noqa: E402
import pytest  # noqa: E402

from paddle_gan.runtime import setup_runtime  # noqa: E402

setup_runtime("cpu")


@pytest.fixture
def tiny_images():
    """32 random 1x32x32 'images' in [0, 1] with labels 0..3."""
    from paddle_gan.data import ArrayData

    rng = np.random.default_rng(0)
    samples = rng.random((32, 1, 32, 32)).astype(np.float32)
    labels = (np.arange(32) % 4).astype(np.int64)
    return ArrayData(samples, labels, 4, "tiny")


def tiny_config(tmp_path, **overrides):
    """A resolved config for a few fast steps of the seed model: no label smoothing, weight
    average or learning-rate decay (a test that is about one of them sets it), so that a run cut
    in two and resumed to a longer max_steps computes the same steps as one run."""
    from paddle_gan.config import make_config

    values = dict(dataset="mnist5k", width=8, batch_size=8, epochs=1, max_steps=6, k=2,
                  k_schedule="constant", output=str(tmp_path / "run"), progress=False,
                  log_every=2, seed=3, label_smoothing=1.0, g_ema=0.0, lr_decay="none")
    values.update(overrides)
    return make_config(values)


@pytest.fixture
def make_tiny_config(tmp_path):
    return lambda **overrides: tiny_config(tmp_path, **overrides)


@pytest.fixture
def lr_factor_calls(monkeypatch):
    """The (step, total steps) of every learning-rate decay factor the trainer computes."""
    import paddle_gan.train.gan as gan

    calls = []
    real = gan.lr_factor
    monkeypatch.setattr(gan, "lr_factor", lambda kind, step, total: (
        calls.append((step, total)), real(kind, step, total))[1])
    return calls


def run_tool(*args, timeout=300, cwd=ROOT):
    """Run `python tools/<tool> args` and return the CompletedProcess (text output)."""
    import subprocess

    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONWARNINGS": "ignore"})

"""The two recipes of CONTRIBUTING.md, followed literally on a copy of the repository.

Each test copies the package, the tests and the tools to a temporary folder, edits the copy
exactly as its recipe says (nothing else), then runs in a subprocess, with the copy first on
sys.path: the test files the recipe touches, the tests that enumerate every loss or model
(restricted to the new one), and `tools/train.py` for two steps. The source tree is never
written, so a killed run leaves nothing behind in it.
"""
from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import textwrap

from conftest import ROOT

#: the names the recipes are followed with (hinge: the likeliest next loss)
NEW_LOSS = "hinge"
NEW_MODEL = "onelayer"
#: what the copy holds: enough to run the package's tests and tools
COPIED = ("paddle_gan", "tests", "tools", "pytest.ini")


def copy_repository(dest: str) -> str:
    """Copy COPIED from the repository into `dest` (without caches); returns `dest`."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "runs")
    for name in COPIED:
        source = os.path.join(ROOT, name)
        if os.path.isdir(source):
            shutil.copytree(source, os.path.join(dest, name), ignore=ignore)
        else:
            shutil.copy(source, os.path.join(dest, name))
    return dest


def read(copy: str, relative: str) -> str:
    with open(os.path.join(copy, relative), encoding="utf-8") as handle:
        return handle.read()


def write(copy: str, relative: str, text: str) -> None:
    with open(os.path.join(copy, relative), "w", encoding="utf-8") as handle:
        handle.write(text)


def append(copy: str, relative: str, text: str) -> None:
    write(copy, relative, read(copy, relative) + "\n\n" + textwrap.dedent(text))


def enumerating_tests(copy: str, pattern: str) -> list[str]:
    """The test files (relative to `copy`) whose text matches `pattern`: those that
    parametrize over, or loop over, every loss or every model."""
    folder = os.path.join(copy, "tests")
    found = []
    for name in sorted(os.listdir(folder)):
        if name.startswith("test_") and name.endswith(".py") and name != "test_recipes.py":
            with open(os.path.join(folder, name), encoding="utf-8") as handle:
                if re.search(pattern, handle.read()):
                    found.append(f"tests/{name}")
    return found


def run_in_copy(copy: str, *argv: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """`python argv...` in the copy, with the copy first on sys.path (and no other checkout)."""
    env = {**os.environ, "PYTHONPATH": copy, "PYTHONWARNINGS": "ignore",
           "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, *argv], cwd=copy, env=env, capture_output=True,
                          text=True, timeout=timeout)


def run_tests(copy: str, files: list[str], keyword: str) -> str:
    """Run pytest on `files` in the copy, selecting by `keyword`; returns its output after
    asserting that it passed."""
    done = run_in_copy(copy, "-m", "pytest", "-v", "-p", "no:cacheprovider", "-k", keyword,
                       *files)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    return output


def train_two_steps(copy: str, output: str, *flags: str) -> None:
    """`tools/train.py FLAGS` in the copy for two steps; asserts a checkpoint was written."""
    done = run_in_copy(copy, "tools/train.py", *flags, "--dataset", "mnist5k", "--width", "8",
                       "--batch-size", "8", "--max-steps", "2", "--no-progress",
                       "--threads", "1", "--output", output)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert os.listdir(os.path.join(output, "checkpoints")) == ["step_00000002.npz"]


# --------------------------------------------------------------------------- Adding a loss
LOSS_FUNCTIONS = '''
def hinge_d_loss(real_out: Tensor, fake_out: Tensor, real_label: float = 1.0) -> Tensor:
    """Hinge loss of the critic: relu(real_label - D(x)) + relu(1 + D(G(z)))."""
    return F.relu(real_label - real_out).mean() + F.relu(1.0 + fake_out).mean()


def hinge_g_loss(fake_out: Tensor) -> Tensor:
    """Hinge loss of the generator: -D(G(z))."""
    return -fake_out.mean()


'''

LOSS_ENTRY = ('    "hinge": LossSpec("hinge", hinge_d_loss, hinge_g_loss, mean_score,\n'
              '                      summary="hinge loss (geometric GAN)",\n'
              '                      defaults=dict(k=1, optimizer="adam", lr_g=2e-4, lr_d=2e-4,\n'
              '                                    beta1=0.0, beta2=0.9, d_norm="none")),\n')

LOSS_VALUE_TEST = '''
    def test_hinge_values_by_hand():
        from paddle_gan.losses import hinge_d_loss, hinge_g_loss

        real, fake = np.array([2.0, 0.5], np.float32), np.array([-2.0, 0.25], np.float32)
        d_loss = float(hinge_d_loss(paddle.to_tensor(real), paddle.to_tensor(fake)))
        np.testing.assert_allclose(d_loss, (0.0 + 0.5) / 2 + (0.0 + 1.25) / 2, rtol=1e-6)
        np.testing.assert_allclose(float(hinge_g_loss(paddle.to_tensor(fake))), 0.875, rtol=1e-6)
'''


def add_loss(copy: str) -> None:
    """CONTRIBUTING.md's "Adding a loss", step by step."""
    path = "paddle_gan/losses.py"
    text = read(copy, path)
    # 1. two pure functions of D's raw outputs, in losses.py (before the table that names them)
    table = text.index("\nLOSSES: dict[str, LossSpec] = {")
    text = text[:table + 1] + LOSS_FUNCTIONS + text[table + 1:]
    # 2. one LOSSES entry: a line before the table's closing brace
    (node,) = [n for n in ast.parse(text).body if isinstance(n, ast.AnnAssign)
               and getattr(n.target, "id", "") == "LOSSES"]
    lines = text.splitlines(keepends=True)
    assert lines[node.end_lineno - 1].strip() == "}"
    lines.insert(node.end_lineno - 1, LOSS_ENTRY)
    write(copy, path, "".join(lines))
    # 3. a value test in tests/test_losses.py
    append(copy, "tests/test_losses.py", LOSS_VALUE_TEST)


def test_the_loss_recipe_followed_literally_passes_the_tests_it_touches(tmp_path):
    copy = copy_repository(str(tmp_path / "repo"))
    add_loss(copy)
    files = ["tests/test_losses.py", "tests/test_config.py"] + [
        f for f in enumerating_tests(copy, r"\bLOSSES\b|ALL_LOSSES|LOSS_DEFAULTS")
        if f not in ("tests/test_losses.py", "tests/test_config.py")]
    output = run_tests(copy, files, f"{NEW_LOSS} or test_losses or test_config")
    assert "test_losses.py::test_hinge_values_by_hand PASSED" in output
    assert len(re.findall(rf"\[[^\]]*{NEW_LOSS}[^\]]*\] PASSED", output)) >= 5, output[-4000:]
    train_two_steps(copy, str(tmp_path / "run"), "--loss", NEW_LOSS)


# --------------------------------------------------------------------------- Adding a model
MODEL_FILE = '''
"""A one-layer model: a linear G (sigmoid images) and a linear D, for any image shape."""
from __future__ import annotations

from typing import Any, Optional

import paddle
import paddle.nn as nn

from paddle_gan.blocks import flatten_batch
from paddle_gan.models import DataSpec, ModelEntry, register


class OneLayerGenerator(nn.Layer):
    """z -> a linear layer -> sigmoid images of `shape` (C, H, W)."""

    def __init__(self, shape: tuple[int, int, int], latent_dim: int) -> None:
        super().__init__()
        self.shape, self.latent_dim, self.output_range = list(shape), latent_dim, (0.0, 1.0)
        self.fc = nn.Linear(latent_dim, shape[0] * shape[1] * shape[2])

    def forward(self, z: paddle.Tensor, cond: Optional[paddle.Tensor] = None) -> paddle.Tensor:
        x = nn.functional.sigmoid(self.fc(z))  # [N, C*H*W]
        return paddle.reshape(x, [-1, *self.shape])  # [N, C, H, W]


class OneLayerDiscriminator(nn.Layer):
    """Images of `shape` (C, H, W) -> one raw score each."""

    def __init__(self, shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.fc = nn.Linear(shape[0] * shape[1] * shape[2], 1)

    def forward(self, x: paddle.Tensor, cond: Optional[paddle.Tensor] = None) -> paddle.Tensor:
        x = flatten_batch(x)  # [N, C*H*W]
        return self.fc(x)[:, 0]  # [N]


def build(cfg: Any, spec: DataSpec) -> tuple[nn.Layer, nn.Layer]:
    """The one-layer pair for image data `spec`."""
    return OneLayerGenerator(spec.shape, cfg.latent_dim), OneLayerDiscriminator(spec.shape)


register("onelayer", ModelEntry(build, image_size=lambda native: 16, conditional=False,
                                summary="one linear layer each (a recipe check)"))
'''

MODEL_SHAPE_TEST = '''
    def test_onelayer_shapes():
        G, D = build_models(_cfg(model="onelayer", width=4), DataSpec((1, 16, 16), 0))
        images = G(paddle.randn([3, 100]))
        assert list(images.shape) == [3, 1, 16, 16] and list(D(images).shape) == [3]
'''


def add_model(copy: str) -> None:
    """CONTRIBUTING.md's "Adding a model", step by step."""
    # 1. one file in paddle_gan/models/
    write(copy, f"paddle_gan/models/{NEW_MODEL}.py", MODEL_FILE.lstrip())
    # 2. a shape test at a tiny width in tests/test_models_zoo.py
    append(copy, "tests/test_models_zoo.py", MODEL_SHAPE_TEST)


def test_the_model_recipe_followed_literally_passes_the_tests_it_touches(tmp_path):
    copy = copy_repository(str(tmp_path / "repo"))
    add_model(copy)
    files = enumerating_tests(copy, r"model_names\(\)|\bMODELS\b")
    assert "tests/test_models_zoo.py" in files
    output = run_tests(copy, files, NEW_MODEL)
    assert "test_models_zoo.py::test_onelayer_shapes PASSED" in output
    assert len(re.findall(rf"\[[^\]]*{NEW_MODEL}[^\]]*\] PASSED", output)) >= 5, output[-4000:]
    train_two_steps(copy, str(tmp_path / "run"), "--model", NEW_MODEL)


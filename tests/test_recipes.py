"""The two recipes of CONTRIBUTING.md, carried out at test time: a new loss (hinge) is one
LOSSES entry, a new model is one file in paddle_gan/models/. Both then train through the same
path as `tools/train.py`, with no other file touched."""
import os
import sys
import textwrap

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from paddle_gan import losses, models
from paddle_gan.cli import OneLineParser, add_config_flags, config_overrides
from paddle_gan.config import make_config
from paddle_gan.train.run import run_training


def cli_config(*argv):
    """The config tools/train.py builds from these flags."""
    parser = OneLineParser()
    add_config_flags(parser)
    args = parser.parse_args(list(argv))
    return make_config(config_overrides(args), args.config)

HINGE = "hinge_recipe"
MODEL = "recipe_mlp"


def hinge_d_loss(real_out, fake_out, real_label=1.0):
    return F.relu(1.0 - real_out).mean() + F.relu(1.0 + fake_out).mean()


def hinge_g_loss(fake_out):
    return -fake_out.mean()


@pytest.fixture
def hinge_loss():
    losses.LOSSES[HINGE] = losses.LossSpec(
        HINGE, hinge_d_loss, hinge_g_loss, losses.mean_score, summary="hinge (test recipe)",
        defaults=dict(k=1, optimizer="adam", lr_g=2e-4, lr_d=2e-4, beta1=0.0, beta2=0.9,
                      d_norm="none"))
    yield HINGE
    del losses.LOSSES[HINGE]


MODEL_FILE = textwrap.dedent('''
    """A throw-away model: the recipe's one file."""
    import paddle
    import paddle.nn as nn

    from paddle_gan.models import ModelEntry, register


    class Gen(nn.Layer):
        def __init__(self, latent_dim, size):
            super().__init__()
            self.latent_dim, self.size, self.output_range = latent_dim, size, (0.0, 1.0)
            self.fc = nn.Linear(latent_dim, size * size)

        def forward(self, z, cond=None):
            return nn.functional.sigmoid(self.fc(z)).reshape([-1, 1, self.size, self.size])


    class Dis(nn.Layer):
        def __init__(self, size):
            super().__init__()
            self.fc = nn.Linear(size * size, 1)

        def forward(self, x, cond=None):
            return self.fc(x.reshape([x.shape[0], -1])).reshape([-1])


    def build(cfg, spec):
        return Gen(cfg.latent_dim, spec.shape[-1]), Dis(spec.shape[-1])


    register("recipe_mlp", ModelEntry(build, image_size=lambda native: 8,
                                      summary="test recipe"))
''')


@pytest.fixture
def recipe_model():
    path = os.path.join(os.path.dirname(models.__file__), f"{MODEL}.py")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(MODEL_FILE)
    try:
        yield MODEL
    finally:
        os.remove(path)
        models.MODELS.pop(MODEL, None)
        sys.modules.pop(f"paddle_gan.models.{MODEL}", None)


def test_a_new_loss_is_one_losses_entry_and_trains_through_the_cli_path(hinge_loss, tmp_path):
    cfg = cli_config("--loss", hinge_loss, "--dataset", "mnist5k", "--width", "8",
                     "--batch-size", "8", "--max-steps", "2", "--no-progress",
                     "--output", str(tmp_path / "run"))
    assert (cfg.k, cfg.beta1, cfg.d_norm) == (1, 0.0, "none")  # its own defaults
    path = run_training(cfg)
    assert os.path.exists(path)


def test_hinge_values_by_hand(hinge_loss):
    real, fake = np.array([2.0, 0.5], np.float32), np.array([-2.0, 0.25], np.float32)
    expected = np.maximum(0, 1 - real).mean() + np.maximum(0, 1 + fake).mean()
    got = float(losses.get_loss(hinge_loss).d_loss(paddle.to_tensor(real), paddle.to_tensor(fake)))
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_a_new_model_is_one_file_found_without_a_list(recipe_model, tmp_path):
    assert recipe_model in models.model_names()
    cfg = cli_config("--model", recipe_model, "--dataset", "mnist5k", "--batch-size", "8",
                     "--max-steps", "2", "--no-progress", "--output", str(tmp_path / "run"))
    path = run_training(cfg)
    assert os.path.exists(path)

"""Tests for the model zoo: DCGAN (paddle_gan.models.dcgan) and the MLPs (paddle_gan.models.mlp)."""
from __future__ import annotations

import os
import subprocess
import sys

import paddle_gan  # noqa: F401  (CPU settings before Paddle loads)

import numpy as np
import paddle
import paddle.nn as nn
import pytest

from paddle_gan.config import make_config
from paddle_gan.data import ArrayData
from paddle_gan.losses import LOSSES, gradient_penalty
from paddle_gan.models import DataSpec, build_models, get_model, model_names
from paddle_gan.train.run import build_trainer, prepare_data
from paddle_gan.models.dcgan import DCGANDiscriminator, DCGANGenerator, upsampling_plan
from paddle_gan.models.mlp import MLPDiscriminator, MLPGenerator
from paddle_gan.train.gan import GanTrainer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = ("dcgan", "mlp")
SHAPES = ((1, 28, 28), (3, 32, 32))


def _cfg(**values):
    base = dict(model="dcgan", width=4, batch_size=8, k=1, k_schedule="constant", progress=False)
    base.update(values)
    return make_config(base)


def _data(shape=(1, 28, 28), n=16, seed=0) -> ArrayData:
    rng = np.random.default_rng(seed)
    samples = rng.random((n, *shape), dtype=np.float32)
    labels = (np.arange(n) % 10).astype(np.int64)
    return ArrayData(samples, labels, 10, "random")


def _params(layer: nn.Layer) -> list[np.ndarray]:
    return [p.numpy().copy() for p in layer.parameters()]


# ------------------------------------------------------------------------------ shapes
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("num_classes", (0, 10))
def test_shapes_and_output_range(model, shape, num_classes):
    paddle.seed(0)
    cfg = _cfg(model=model, conditional=num_classes > 0)
    G, D = build_models(cfg, DataSpec(shape, num_classes))
    assert G.output_range == (-1.0, 1.0)
    z = paddle.randn([5, 100])
    cond = paddle.nn.functional.one_hot(paddle.arange(5) % 10, 10) if num_classes else None
    images = G(z, cond)
    assert list(images.shape) == [5, *shape]
    assert float(images.abs().max()) <= 1.0
    scores = D(images, cond)
    assert list(scores.shape) == [5]


def test_dcgan_layer_plan_matches_the_seed():
    assert upsampling_plan(28) == (True, 2)  # 4 -> 7 -> 14 -> 28
    assert upsampling_plan(32) == (False, 3)  # 4 -> 8 -> 16 -> 32
    assert upsampling_plan(30) is None
    assert get_model("dcgan").image_size(28) == 28 and get_model("dcgan").image_size(32) == 32
    G = DCGANGenerator(28, 1, width=128)
    assert G.top_channels == 512  # the seed's 4x4x512 at the config's default width
    sides, x = [], paddle.reshape(paddle.randn([2, 512 * 16]), [2, 512, 4, 4])
    for layer in G.up:
        x = layer(x)
        sides.append((x.shape[1], x.shape[2]))
    assert sides == [(256, 7), (128, 14), (1, 28), (1, 28)]
    assert not any(isinstance(m, nn.BatchNorm2D) for m in G.up[-2:].sublayers(include_self=True))
    G32 = DCGANGenerator(32, 3, width=16)
    x = paddle.reshape(paddle.randn([2, 64 * 16]), [2, 64, 4, 4])
    outs = []
    for layer in G32.up:
        x = layer(x)
        outs.append(tuple(x.shape[1:]))
    assert outs[:3] == [(32, 8, 8), (16, 16, 16), (3, 32, 32)]


@pytest.mark.parametrize("shape, sides", (((1, 28, 28), [14, 7, 3]), ((3, 32, 32), [16, 8, 4])))
def test_dcgan_discriminator_strided_no_pooling_no_bn_first(shape, sides):
    D = DCGANDiscriminator(shape[1], shape[0], width=8, norm="batch")
    x = paddle.randn([2, *shape])
    seen = []
    for block in D.features:
        x = block(x)
        seen.append(x.shape[2])
    assert seen == sides
    assert isinstance(D.features[0].norm, nn.Identity)
    assert all(isinstance(b.norm, nn.BatchNorm2D) for b in D.features[1:])
    assert not any("Pool" in type(m).__name__ for m in D.sublayers())
    assert not any(isinstance(m, nn.Flatten) for m in D.sublayers())


def test_mlp_layer_sizes_match_the_seed():
    G, D = MLPGenerator((1, 28, 28)), MLPDiscriminator((1, 28, 28))
    g_sizes = [tuple(m.weight.shape) for m in G.sublayers() if isinstance(m, nn.Linear)]
    d_sizes = [tuple(m.weight.shape) for m in D.sublayers() if isinstance(m, nn.Linear)]
    assert g_sizes == [(100, 128), (128, 256), (256, 512), (512, 784)]
    assert d_sizes == [(784, 512), (512, 256), (256, 1)]
    slopes = {m._negative_slope for m in D.sublayers() if isinstance(m, nn.LeakyReLU)}
    assert slopes == {0.2}
    assert get_model("mlp").image_size(32) == 28


@pytest.mark.parametrize("norm", ("none", "batch"))
def test_mlp_generator_norm_follows_g_norm(norm):
    G, _ = build_models(_cfg(model="mlp", g_norm=norm), DataSpec((1, 28, 28), 0))
    norms = [m for m in G.sublayers() if isinstance(m, nn.BatchNorm1D)]
    # width 4: hidden layers of 4, 8 and 16 units, each followed by batch norm when asked
    assert [m.weight.shape[0] for m in norms] == ([4, 8, 16] if norm == "batch" else [])


def test_mlp_discriminator_dropout_follows_d_dropout():
    x = paddle.to_tensor(_data(n=64).samples * 2 - 1)
    _, plain = build_models(_cfg(model="mlp"), DataSpec((1, 28, 28), 0))
    assert not [m for m in plain.sublayers() if isinstance(m, nn.Dropout)]
    paddle.seed(0)
    _, D = build_models(_cfg(model="mlp", d_dropout=0.3), DataSpec((1, 28, 28), 0))
    rates = [m.p for m in D.sublayers() if isinstance(m, nn.Dropout)]
    assert rates == [0.3, 0.3]  # after each of the two hidden layers
    D.train()
    assert not np.allclose(D(x).numpy(), D(x).numpy())  # a new mask each call while training
    D.eval()
    np.testing.assert_array_equal(D(x).numpy(), D(x).numpy())


def test_d_dropout_belongs_to_the_mlp_discriminator():
    from paddle_gan.errors import UserError

    with pytest.raises(UserError, match="d_dropout: only the mlp model reads it"):
        _cfg(model="dcgan", d_dropout=0.3)
    with pytest.raises(UserError, match=r"d_dropout: must be in \[0, 1\)"):
        _cfg(model="mlp", d_dropout=1.0)


def test_conditioning_changes_the_output():
    for model in MODELS:
        paddle.seed(1)
        G, D = build_models(_cfg(model=model, conditional=True), DataSpec((1, 28, 28), 10))
        G.eval()
        z = paddle.randn([1, 100]).tile([2, 1])
        cond = paddle.nn.functional.one_hot(paddle.to_tensor([3, 7]), 10)
        images = G(z, cond).numpy()
        assert np.abs(images[0] - images[1]).max() > 1e-6
        same = paddle.to_tensor(np.repeat(images[:1], 2, axis=0))
        scores = D(same, cond).numpy()
        assert abs(scores[0] - scores[1]) > 1e-7


# ------------------------------------------------------------------------------ training
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_one_training_step_every_model_and_loss(model, loss, tmp_path):
    shape = (3, 32, 32) if loss in ("lsgan", "wgangp") else (1, 28, 28)
    data = _data(shape)
    cfg = _cfg(model=model, loss=loss)
    G, D = build_models(cfg, DataSpec(shape, 0))
    trainer = GanTrainer(cfg, LOSSES[loss], G, D, data, str(tmp_path))
    g_before, d_before = _params(G), _params(D)
    stats = {k: float(v) for k, v in trainer.train_step(data.samples[:8], data.labels[:8]).items()}
    assert {"d_loss", "g_loss", "real_score", "fake_score"} <= set(stats)
    assert all(np.isfinite(v) for v in stats.values()), stats
    assert any(np.abs(a - b).max() > 0 for a, b in zip(g_before, _params(G)))
    assert any(np.abs(a - b).max() > 0 for a, b in zip(d_before, _params(D)))


@pytest.mark.parametrize("model", MODELS)
def test_conditional_training_step(model, tmp_path):
    data = _data()
    cfg = _cfg(model=model, conditional=True)
    G, D = build_models(cfg, DataSpec((1, 28, 28), 10))
    trainer = GanTrainer(cfg, LOSSES["gan"], G, D, data, str(tmp_path))
    stats = trainer.train_step(data.samples[:8], data.labels[:8])
    assert all(np.isfinite(float(v)) for v in stats.values())
    assert trainer.sample_fixed(10).shape == (10, 1, 28, 28)


@pytest.mark.parametrize("model", MODELS)
def test_wgan_clipping_bounds_every_critic_weight(model, tmp_path):
    data = _data()
    cfg = _cfg(model=model, loss="wgan", weight_clip=0.01)
    G, D = build_models(cfg, DataSpec((1, 28, 28), 0))
    # Paddle lists BN running statistics among parameters (trainable False): they are not
    # weights, and D's forward in the G step updates them, so only trainable ones are checked.
    weights = [p for p in D.parameters() if p.trainable]
    for p in weights:  # start far outside the box so the clipping has work to do
        p.set_value(paddle.full(p.shape, 0.5, p.dtype))
    trainer = GanTrainer(cfg, LOSSES["wgan"], G, D, data, str(tmp_path))
    trainer.train_step(data.samples[:8], data.labels[:8])
    values = np.concatenate([p.numpy().ravel() for p in weights])
    # clipped before the critic's update (the reference code's order), so at most one RMSProp
    # step (~10 lr on a first step, rho 0.99) outside the box afterwards
    step = 10 * cfg.lr_d * 1.01
    assert np.abs(values).max() <= 0.01 + step
    assert (np.abs(np.abs(values) - 0.01) <= step).mean() > 0.9  # the clip was active


class Recorder(nn.Layer):
    """Wraps a discriminator and keeps each of its outputs as numpy."""

    def __init__(self, inner: nn.Layer) -> None:
        super().__init__()
        self.inner = inner
        self.outputs: list[np.ndarray] = []

    def forward(self, x, cond=None):
        out = self.inner(x, cond)
        self.outputs.append(out.numpy().astype(np.float64))
        return out


def _bce(logits: np.ndarray, target: float) -> float:
    return float(np.mean(np.logaddexp(0.0, logits) - target * logits))


@pytest.mark.parametrize("loss", ("gan", "lsgan"))
@pytest.mark.parametrize("smoothing", (0.9, 1.0))
def test_label_smoothing_sets_the_real_target(loss, smoothing, tmp_path):
    data = _data()
    cfg = _cfg(model="dcgan", loss=loss, label_smoothing=smoothing, k=2)  # no G step at step 0
    G, D = build_models(cfg, DataSpec((1, 28, 28), 0))
    recorder = Recorder(D)
    trainer = GanTrainer(cfg, LOSSES[loss], G, recorder, data, str(tmp_path))
    d_loss = float(trainer.train_step(data.samples[:8], None)["d_loss"])
    (both,) = recorder.outputs  # one joint D pass over [real; fake] in the D step
    real, fake = both[:8], both[8:]
    if loss == "gan":
        expected = _bce(real, smoothing) + _bce(fake, 0.0)
        unsmoothed = _bce(real, 1.0) + _bce(fake, 0.0)
    else:
        expected = np.mean((real - smoothing) ** 2) + np.mean(fake ** 2)
        unsmoothed = np.mean((real - 1.0) ** 2) + np.mean(fake ** 2)
    np.testing.assert_allclose(d_loss, expected, rtol=1e-5)
    if smoothing < 1.0:
        assert abs(expected - unsmoothed) > 1e-4


# ------------------------------------------------------------------------------ BN / dropout
def test_eval_mode_sampling_is_deterministic_and_train_mode_is_not(tmp_path):
    paddle.seed(3)
    cfg = _cfg(model="dcgan", dropout=0.5)
    G, D = build_models(cfg, DataSpec((1, 28, 28), 0))
    z = paddle.randn([8, 100])
    G.train()
    G(z)  # move the BN running statistics away from their initial values
    G.eval()
    first, second = G(z).numpy(), G(z).numpy()
    np.testing.assert_array_equal(first, second)
    single = G(z[:1]).numpy()  # frozen statistics: a sample does not depend on its batch
    np.testing.assert_allclose(single[0], first[0], atol=1e-5)
    G.train()
    assert np.abs(G(z).numpy() - G(z).numpy()).max() > 1e-3  # dropout + batch statistics

    trainer = GanTrainer(cfg, LOSSES["gan"], G, D, _data(), str(tmp_path))
    np.testing.assert_array_equal(trainer.sample_fixed(8), trainer.sample_fixed(8))
    assert G.training  # sample_fixed puts the generator back in training mode


# ------------------------------------------------------------------------------ gradient penalty
def _critics():
    return {
        "dcgan": lambda: DCGANDiscriminator(28, 1, width=2, norm="none"),
        "dcgan-bn": lambda: DCGANDiscriminator(28, 1, width=2, norm="batch"),
        "mlp": lambda: MLPDiscriminator((1, 28, 28), width=2),
    }


@pytest.mark.parametrize("name", sorted(_critics()))
def test_gradient_penalty_double_backward_matches_finite_differences(name):
    """d(penalty)/d(first-layer weight) from double backward equals a central difference."""
    paddle.set_default_dtype("float64")
    try:
        paddle.seed(5)
        critic = _critics()[name]()
        real = paddle.rand([4, 1, 28, 28], dtype="float64") * 2 - 1
        fake = paddle.rand([4, 1, 28, 28], dtype="float64") * 2 - 1

        def penalty() -> paddle.Tensor:
            paddle.seed(11)  # the same interpolation t each time
            return gradient_penalty(critic, real, fake)

        gp = penalty()
        gp.backward()
        weight = critic.parameters()[0]  # the first layer's weight: reached only via the graph
        grad = weight.grad.numpy().ravel()
        assert np.abs(grad).max() > 0
        base = weight.numpy().copy()
        for index in np.argsort(-np.abs(grad))[:3]:
            flat, eps = base.ravel().copy(), 1e-6
            values = []
            for sign in (1, -1):
                flat[index] = base.ravel()[index] + sign * eps
                weight.set_value(flat.reshape(base.shape))
                values.append(float(penalty()))
            weight.set_value(base)
            numeric = (values[0] - values[1]) / (2 * eps)
            np.testing.assert_allclose(grad[index], numeric, rtol=1e-4, atol=1e-8)
    finally:
        paddle.set_default_dtype("float32")


# ------------------------------------------------------------------------------ configs and CLI
CONFIGS = {
    "dcgan_mnist.yaml": dict(model="dcgan", loss="gan", k=1, lr_g=1e-3, lr_d=1e-3, beta1=0.5,
                             batch_size=64, label_smoothing=0.9, g_ema=0.999, lr_decay="linear"),
    "tutorial/dcgan_mnist.yaml": dict(model="dcgan", loss="gan", k=1, lr_g=2e-4, lr_d=2e-4,
                                      beta1=0.5, batch_size=128, label_smoothing=0.9, g_ema=0.0,
                                      lr_decay="none"),
    "dcgan_cifar10_horse.yaml": dict(model="dcgan", dataset="cifar10", classes="horse", k=1,
                                     label_smoothing=0.9, batch_size=128),
    "mlp_gan_mnist.yaml": dict(model="mlp", loss="gan", k=1, lr_g=5e-4, lr_d=5e-4,
                               d_dropout=0.3, g_ema=0.999, lr_decay="linear"),
    "tutorial/mlp_gan_mnist.yaml": dict(model="mlp", loss="gan", k=1, lr_g=2e-4, lr_d=2e-4,
                                        d_dropout=0.0, g_ema=0.0),
    "mlp_wgan_mnist.yaml": dict(model="mlp", loss="wgan", optimizer="rmsprop", lr_d=5e-5,
                                weight_clip=0.01, k=5),
    "mlp_wgangp_mnist.yaml": dict(model="mlp", loss="wgangp", k=5, gp_lambda=10.0, lr_g=2e-4,
                                  lr_d=2e-4, beta1=0.5, beta2=0.999, optimizer="adam"),
    "tutorial/mlp_wgangp_mnist.yaml": dict(model="mlp", loss="wgangp", k=5, gp_lambda=10.0,
                                           lr_g=1e-4, lr_d=1e-4, beta1=0.5, beta2=0.999),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_configs_hold_the_papers_values(name):
    path = os.path.join(ROOT, "paddle_gan", "configs", name)
    with open(path, encoding="utf-8") as handle:
        assert handle.readline().startswith("#")  # names its source
    cfg = make_config({}, path)
    for key, value in CONFIGS[name].items():
        assert getattr(cfg, key) == value, key


@pytest.mark.parametrize("model", MODELS)
def test_train_tool_runs_and_writes_a_checkpoint(model, tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, os.path.join(ROOT, "tools", "train.py"), "--model", model,
           "--dataset", "mnist5k", "--max-steps", "2", "--width", "8", "--batch-size", "8",
           "--output", str(out), "--no-progress", "--threads", "1"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(os.listdir(out / "checkpoints")) == ["step_00000002.npz"]
    assert (out / "samples" / "final.png").is_file()


@pytest.mark.parametrize("model", model_names())
@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_one_step_of_every_registered_model_with_every_loss(model, loss, tmp_path):
    """Every model in the registry (a new model file is picked up without editing this test)
    with every loss in the table, built as tools/train.py builds it (the model's default data
    set, its trainer): one step (k 1, so that it has a G step) gives finite statistics and
    moves G and D."""
    cfg = make_config(dict(model=model, loss=loss, width=4, batch_size=4, max_steps=1, k=1,
                           k_schedule="constant", progress=False, output=str(tmp_path / "run")))
    trainer = build_trainer(cfg, prepare_data(cfg), cfg.output)
    g_before, d_before = _params(trainer.G), _params(trainer.D)
    _, samples, labels = next(trainer.batches.epoch(0))
    stats = {k: float(v) for k, v in trainer.train_step(samples, labels).items()}
    assert {"d_loss", "g_loss", "real_score", "fake_score"} <= set(stats)
    assert all(np.isfinite(v) for v in stats.values()), stats
    assert any(np.abs(a - b).max() > 0 for a, b in zip(g_before, _params(trainer.G)))
    assert any(np.abs(a - b).max() > 0 for a, b in zip(d_before, _params(trainer.D)))

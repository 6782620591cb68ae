"""Every loss against values computed by hand (numpy formulas and a few literal numbers)."""
import math

import numpy as np
import paddle
import pytest

from paddle_gan import losses
from paddle_gan.losses import LOSSES, clip_weights, get_loss, gradient_penalty

REAL = np.array([2.0, -1.0, 0.3], dtype=np.float32)
FAKE = np.array([0.5, -3.0, 1.2], dtype=np.float32)


def softplus(x):
    return np.log1p(np.exp(x))


def t(x):
    return paddle.to_tensor(x)


def test_bce_at_zero_logits_is_two_log_two():
    zero = t(np.zeros(4, np.float32))
    assert math.isclose(float(losses.bce_d_loss(zero, zero)), 2 * math.log(2), rel_tol=1e-6)
    assert math.isclose(float(losses.nonsaturating_g_loss(zero)), math.log(2), rel_tol=1e-6)


def test_bce_discriminator_loss():
    expected = softplus(-REAL).mean() + softplus(FAKE).mean()
    np.testing.assert_allclose(float(losses.bce_d_loss(t(REAL), t(FAKE))), expected, rtol=1e-6)


def test_bce_label_smoothing_uses_the_smoothed_real_target():
    y = 0.9
    real_term = (y * softplus(-REAL) + (1 - y) * softplus(REAL)).mean()
    expected = real_term + softplus(FAKE).mean()
    np.testing.assert_allclose(float(losses.bce_d_loss(t(REAL), t(FAKE), real_label=0.9)),
                               expected, rtol=1e-6)


def test_nonsaturating_generator_loss_is_minus_log_d():
    expected = -np.log(1 / (1 + np.exp(-FAKE))).mean()
    np.testing.assert_allclose(float(losses.nonsaturating_g_loss(t(FAKE))), expected, rtol=1e-6)


def test_minimax_generator_loss_is_log_one_minus_d():
    expected = np.log(1 - 1 / (1 + np.exp(-FAKE))).mean()
    np.testing.assert_allclose(float(losses.minimax_g_loss(t(FAKE))), expected, rtol=1e-6)


def test_bce_losses_stay_finite_for_saturated_logits():
    huge = t(np.array([200.0, -200.0], np.float32))
    for value in (losses.bce_d_loss(huge, huge), losses.nonsaturating_g_loss(huge),
                  losses.minimax_g_loss(huge)):
        assert math.isfinite(float(value))
    np.testing.assert_allclose(float(losses.nonsaturating_g_loss(t(np.array([-200.0], np.float32)))),
                               200.0, rtol=1e-6)


def test_lsgan_losses():
    expected_d = ((REAL - 1) ** 2).mean() + (FAKE ** 2).mean()
    np.testing.assert_allclose(float(losses.lsgan_d_loss(t(REAL), t(FAKE))), expected_d, rtol=1e-6)
    np.testing.assert_allclose(float(losses.lsgan_g_loss(t(FAKE))), ((FAKE - 1) ** 2).mean(),
                               rtol=1e-6)
    # literal check: D(x)=1, D(G(z))=0 is the optimum of D's loss
    assert float(losses.lsgan_d_loss(t(np.ones(2, np.float32)), t(np.zeros(2, np.float32)))) == 0.0


def test_wasserstein_losses():
    np.testing.assert_allclose(float(losses.wasserstein_d_loss(t(REAL), t(FAKE))),
                               FAKE.mean() - REAL.mean(), rtol=1e-6)
    np.testing.assert_allclose(float(losses.wasserstein_g_loss(t(FAKE))), -FAKE.mean(), rtol=1e-6)


def test_scores_are_probabilities_for_bce_and_means_otherwise():
    np.testing.assert_allclose(float(LOSSES["gan"].score(t(REAL))), (1 / (1 + np.exp(-REAL))).mean(),
                               rtol=1e-6)
    np.testing.assert_allclose(float(LOSSES["wgan"].score(t(REAL))), REAL.mean(), rtol=1e-6)


def test_table_flags_and_lookup():
    assert {"gan", "minimax", "lsgan", "wgan", "wgangp"} <= set(LOSSES)  # more may be added
    assert LOSSES["wgan"].weight_clipping and not LOSSES["wgan"].gradient_penalty
    assert LOSSES["wgangp"].gradient_penalty and not LOSSES["wgangp"].weight_clipping
    with pytest.raises(ValueError, match="choose from"):
        get_loss("no_such_loss")


class LinearCritic(paddle.nn.Layer):
    """D(x) = sum(w * x) over each sample: its input gradient is w everywhere."""

    def __init__(self, w: np.ndarray) -> None:
        super().__init__()
        self.w = self.create_parameter(list(w.shape), default_initializer=paddle.nn.initializer.Assign(w))

    def forward(self, x):
        return (x * self.w).reshape([x.shape[0], -1]).sum(axis=1)


def test_gradient_penalty_on_a_linear_critic_is_norm_minus_one_squared():
    w = np.random.default_rng(0).normal(size=(1, 4, 4)).astype(np.float32)
    critic = LinearCritic(w)
    real, fake = paddle.rand([6, 1, 4, 4]), paddle.rand([6, 1, 4, 4])
    gp = gradient_penalty(critic, real, fake)
    norm = np.linalg.norm(w)  # over ALL of a sample's values, not one axis
    np.testing.assert_allclose(float(gp), (norm - 1) ** 2, rtol=1e-5)


def test_gradient_penalty_trains_the_critic():
    """create_graph=True: d gp / d w = 2 (||w|| - 1) w / ||w|| reaches the parameters."""
    w = np.random.default_rng(1).normal(size=(1, 3, 3)).astype(np.float32)
    critic = LinearCritic(w)
    gp = gradient_penalty(critic, paddle.rand([4, 1, 3, 3]), paddle.rand([4, 1, 3, 3]))
    gp.backward()
    norm = np.linalg.norm(w)
    np.testing.assert_allclose(critic.w.grad.numpy(), 2 * (norm - 1) * w / norm, rtol=1e-4, atol=1e-6)


def test_clip_weights_bounds_every_parameter():
    layer = paddle.nn.Linear(4, 4)
    layer.weight.set_value(paddle.full([4, 4], 3.0))
    clip_weights(layer.parameters(), 0.01)
    for p in layer.parameters():
        assert float(p.abs().max()) <= 0.01 + 1e-9

"""The optimizers as the papers' reference code runs them."""
import numpy as np
import paddle
import pytest

from paddle_gan.config import make_config
from paddle_gan.train.optim import RMSPROP_EPS, make_optimizer


def pytorch_rmsprop(w, grads, lr, alpha=0.99, eps=RMSPROP_EPS):
    """torch.optim.RMSprop's update (eps added outside the square root), in numpy."""
    v = np.zeros_like(w)
    for g in grads:
        v = alpha * v + (1 - alpha) * g * g
        w = w - lr * g / (np.sqrt(v) + eps)
    return w


@pytest.mark.parametrize("scale", [1e-1, 1e-4, 1e-5, 1e-11])
def test_rmsprop_matches_pytorchs_epsilon_outside_the_root(scale):
    """Gradients far above and far below epsilon: the updates match PyTorch's within 3 %. With
    Paddle's own formula and eps 1e-8 (a 1e-4 floor inside the root) the 1e-4..1e-5 cases
    come out several times too small. Near |g| ~ eps the two forms differ by up to sqrt(2)."""
    rng = np.random.default_rng(0)
    w0 = (0.01 * rng.normal(size=50)).astype(np.float32)
    sign = rng.choice([-1, 1], 50)  # one sign per weight: the steps add up, never cancel
    grads = [(scale * sign * rng.uniform(0.5, 1.5, 50)).astype(np.float32) for _ in range(5)]
    cfg = make_config(dict(loss="wgan"))
    param = paddle.create_parameter([50], "float32")
    param.set_value(paddle.to_tensor(w0))
    opt = make_optimizer(cfg, [param], cfg.lr_d)
    for g in grads:
        param.grad = None
        (param * paddle.to_tensor(g)).sum().backward()
        opt.step()
        opt.clear_grad()
    expected = pytorch_rmsprop(w0.astype(np.float64), grads, cfg.lr_d)
    moved, wanted = param.numpy() - w0, expected - w0
    np.testing.assert_allclose(moved, wanted, rtol=0.03, atol=1e-10)

"""GAN losses as pure functions of the discriminator's raw outputs, and the gradient penalty.

Every discriminator in the suite returns raw scores (logits). Each loss decides what to apply:
the BCE losses use the numerically safe with-logits form (no log of a saturated sigmoid, the
problem the tutorial hit), the least-squares and Wasserstein losses use the scores as they are.

A new loss = a d_loss, a g_loss, one LOSSES entry (carrying its default settings) and one value
test; the command line's choices, the config's validation and the defaults table read LOSSES.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import paddle
import paddle.nn.functional as F

Tensor = paddle.Tensor


def _bce_with_logits(logits: Tensor, target: float) -> Tensor:
    return F.binary_cross_entropy_with_logits(logits, paddle.full_like(logits, target))


def bce_d_loss(real_out: Tensor, fake_out: Tensor, real_label: float = 1.0) -> Tensor:
    """BCE(D(x), real_label) + BCE(D(G(z)), 0); real_label < 1 is one-sided label smoothing."""
    return _bce_with_logits(real_out, real_label) + _bce_with_logits(fake_out, 0.0)


def nonsaturating_g_loss(fake_out: Tensor) -> Tensor:
    """-log D(G(z)) = BCE(D(G(z)), 1): the tutorial's 'label 1' generator loss."""
    return _bce_with_logits(fake_out, 1.0)


def minimax_g_loss(fake_out: Tensor) -> Tensor:
    """log(1 - D(G(z))), the original minimax objective, written as -softplus(logit)."""
    return -F.softplus(fake_out).mean()


def lsgan_d_loss(real_out: Tensor, fake_out: Tensor, real_label: float = 1.0) -> Tensor:
    """MSE(D(x), real_label) + MSE(D(G(z)), 0) (the tutorial's MSE form of LSGAN)."""
    return ((real_out - real_label) ** 2).mean() + (fake_out ** 2).mean()


def lsgan_g_loss(fake_out: Tensor) -> Tensor:
    """MSE(D(G(z)), 1)."""
    return ((fake_out - 1.0) ** 2).mean()


def wasserstein_d_loss(real_out: Tensor, fake_out: Tensor, real_label: float = 1.0) -> Tensor:
    """mean D(G(z)) - mean D(x): the critic's loss (real_label is ignored)."""
    return fake_out.mean() - real_out.mean()


def wasserstein_g_loss(fake_out: Tensor) -> Tensor:
    """-mean D(G(z))."""
    return -fake_out.mean()


def probability_score(out: Tensor) -> Tensor:
    """Mean sigmoid of the logits: the tutorial's real_score / fake_score for BCE losses."""
    return F.sigmoid(out).mean()


def mean_score(out: Tensor) -> Tensor:
    """Mean raw output: the score for least-squares and Wasserstein critics."""
    return out.mean()


def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor) -> Tensor:
    """Batch mean of (||grad_xhat critic(xhat)||_2 - 1)^2, without the lambda factor.

    xhat = t * real + (1 - t) * fake with one t ~ U(0, 1) per sample; the norm runs over all of a
    sample's values. The gradient is built with create_graph=True so that the penalty itself is
    differentiable and trains the critic (the tutorial's version omitted it, so it never did).
    """
    n = real.shape[0]
    t = paddle.rand([n] + [1] * (real.ndim - 1), dtype=real.dtype)
    xhat = t * real.detach() + (1.0 - t) * fake.detach()
    xhat.stop_gradient = False
    out = critic(xhat)
    (grad,) = paddle.grad(outputs=out.sum(), inputs=xhat, create_graph=True)
    # A tiny constant keeps sqrt differentiable where a gradient is exactly zero.
    norm = paddle.sqrt((paddle.reshape(grad, [n, -1]) ** 2).sum(axis=1) + 1e-12)
    return ((norm - 1.0) ** 2).mean()


def clip_weights(parameters: list, clip: float) -> None:
    """Clip every parameter in place to [-clip, clip] (WGAN's Lipschitz constraint)."""
    with paddle.no_grad():
        for p in parameters:
            p.set_value(paddle.clip(p, -clip, clip))


@dataclass(frozen=True)
class LossSpec:
    """One adversarial objective: its two losses, how to report scores, and its constraint."""

    name: str
    d_loss: Callable[..., Tensor]
    g_loss: Callable[[Tensor], Tensor]
    score: Callable[[Tensor], Tensor]
    weight_clipping: bool = False  # clip the critic's weights before each critic step
    gradient_penalty: bool = False  # add lambda * gradient_penalty to the critic's loss
    summary: str = ""
    #: the paper's / tutorial's settings: config keys left unset are filled from here
    defaults: Mapping[str, Any] = field(default_factory=dict)


#: The tutorial's optimiser for both nets: Adam(2e-4, 0.5, 0.999) (the DCGAN paper's settings).
TUTORIAL_ADAM = dict(optimizer="adam", lr_g=2e-4, lr_d=2e-4, beta1=0.5, beta2=0.999)

#: What trains the seed model fastest with the BCE and least-squares losses at the CPU size
#: (width 32, batch 64, docs/results/seed_recipe.md): Adam 1e-3 for both nets, one-sided label
#: smoothing 0.9, samples from an average of G's weights (decay 0.999 per G step) and both
#: rates decaying linearly to 0 over the run; the quickstart's recipe (docs/quickstart_sweep.md).
FAST_ADAM = dict(optimizer="adam", lr_g=1e-3, lr_d=1e-3, beta1=0.5, beta2=0.999,
                 label_smoothing=0.9, g_ema=0.999, lr_decay="linear")


LOSSES: dict[str, LossSpec] = {
    # One D step per G step and no norm in D, which train where the tutorial's k 3 and
    # batch-norm D train slowly (gan, minimax) or not at all (lsgan); gan and lsgan with
    # FAST_ADAM, minimax (not measured with it) with the tutorial's optimiser. The tutorial's
    # settings and their measured outcomes are in configs/tutorial/*.yaml.
    "gan": LossSpec("gan", bce_d_loss, nonsaturating_g_loss, probability_score,
                    summary="BCE on logits, non-saturating generator loss -log D(G(z))",
                    defaults=dict(k=1, d_norm="none", **FAST_ADAM)),
    "minimax": LossSpec("minimax", bce_d_loss, minimax_g_loss, probability_score,
                        summary="BCE on logits, generator minimises log(1 - D(G(z)))",
                        defaults=dict(k=1, d_norm="none", **TUTORIAL_ADAM)),
    "lsgan": LossSpec("lsgan", lsgan_d_loss, lsgan_g_loss, mean_score,
                      summary="least squares (MSE), targets real 1 / fake 0, generator 1",
                      defaults=dict(k=1, d_norm="none", **FAST_ADAM)),
    # The WGAN paper and reference code: RMSProp 5e-5, clipping 0.01, n_critic 5 with 100 critic
    # steps for the first 25 generator steps and every 500th.
    "wgan": LossSpec("wgan", wasserstein_d_loss, wasserstein_g_loss, mean_score,
                     weight_clipping=True,
                     summary="Wasserstein critic with weight clipping",
                     defaults=dict(k=5, k_schedule="wgan", optimizer="rmsprop", lr_g=5e-5,
                                   lr_d=5e-5, weight_clip=0.01, d_norm="batch")),
    # WGAN-GP: n_critic 5, lambda 10 (the paper), Adam(2e-4, 0.5, 0.999): the seed article's
    # betas, the learning rate of a public PyTorch WGAN-GP (the article's 1e-4 needed twice the
    # updates; docs/losses.md); no batch norm in the critic (the penalty is per sample).
    "wgangp": LossSpec("wgangp", wasserstein_d_loss, wasserstein_g_loss, mean_score,
                       gradient_penalty=True,
                       summary="Wasserstein critic with gradient penalty",
                       defaults=dict(k=5, optimizer="adam", lr_g=2e-4, lr_d=2e-4, beta1=0.5,
                                     beta2=0.999, gp_lambda=10.0, d_norm="none")),
}


def get_loss(name: str) -> LossSpec:
    """Look a loss up by name; ValueError lists the valid names."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose from {', '.join(LOSSES)}")
    return LOSSES[name]

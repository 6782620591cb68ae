"""The invariants of the one D step and G step (paddle_gan/train/steps.py) and the k schedule.

Each test here was checked to fail when its property is broken (see the closing note of the
change that added them): e.g. not freezing D in `g_step` (D's weights then get gradients),
clipping after the update instead of before, or drawing one t per batch in the gradient penalty.
"""
import copy
import dataclasses

import numpy as np
import paddle
import pytest

from paddle_gan.losses import LOSSES, gradient_penalty
from paddle_gan.train.run import build_trainer, prepare_data
from paddle_gan.train.schedule import CriticSchedule
from paddle_gan.train.steps import (Batch, PairObjective, d_objective, d_step, discriminate,
                                    frozen, g_objective, g_step)


def weights(layer):
    """Trainable weights (batch norm's running statistics are buffers that every train-mode
    forward updates, the G step's pass through D included, as in the tutorial)."""
    return [p.numpy().copy() for p in layer.parameters() if p.trainable]


def grads(layer):
    return [None if p.grad is None else p.grad.numpy().copy() for p in layer.parameters()
            if p.trainable]


def optimizer_state(opt):
    return {k: v.numpy().copy() for k, v in opt.state_dict().items()
            if hasattr(v, "numpy")}


def assert_same(before, after):
    assert len(before) == len(after)
    for a, b in zip(before, after):
        if a is None or b is None:
            assert a is None and b is None or not np.any(a if b is None else b)
        else:
            np.testing.assert_array_equal(a, b)


def assert_same_state(before, after):
    assert before.keys() == after.keys()
    for key in before:
        np.testing.assert_array_equal(before[key], after[key], err_msg=key)


CYCLE = dict(model="cyclegan", dataset="mnist_style", width=4, n_blocks=1, batch_size=4, image_size=16, epochs=1,
             max_steps=9, progress=False, log_every=1, seed=5)


def _trainer(make_tiny_config, device=None, **overrides):
    """A seed-model trainer (with `device`: its speed plan for it) and a real batch of 8."""
    cfg = make_tiny_config(**overrides)
    data = prepare_data(cfg)
    trainer = build_trainer(cfg, data, cfg.output, device)
    return trainer, Batch(paddle.to_tensor(data.samples[:8]))


def _cycle_trainer(make_tiny_config, **overrides):
    """A CycleGAN trainer (built-in MNIST style task, 16 px) and its first (A, B) batch."""
    overrides.pop("d_norm", None)  # the PatchGAN keeps its own norm
    cfg = make_tiny_config(**{**CYCLE, **overrides})
    trainer = build_trainer(cfg, prepare_data(cfg), cfg.output)
    _, samples, labels = next(trainer.batches.epoch(0))
    return trainer, trainer.to_batch(samples, labels)


#: every objective the steps are run with: one pair (every model but CycleGAN), CycleGAN's
OBJECTIVES = {"pair": _trainer, "cycle": _cycle_trainer}


def _args(trainer, batch):
    return trainer.nets, trainer.objective, trainer.runtime, batch


def _warm(trainer, batch):
    """One D and one G step, so both optimizers hold state (moments) to compare."""
    d_step(*_args(trainer, batch))
    g_step(*_args(trainer, batch))


@pytest.mark.parametrize("kind", sorted(OBJECTIVES))
@pytest.mark.parametrize("loss", ["gan", "wgangp"])
@pytest.mark.parametrize("d_norm", ["batch", "none"])
def test_g_step_leaves_d_weights_optimizer_state_and_gradients_alone(make_tiny_config, kind,
                                                                       loss, d_norm):
    trainer, batch = OBJECTIVES[kind](make_tiny_config, loss=loss, d_norm=d_norm)
    _warm(trainer, batch)
    d_w, d_g, d_opt = weights(trainer.D), grads(trainer.D), optimizer_state(trainer.opt_d)
    g_w = weights(trainer.G)
    g_step(*_args(trainer, batch))
    assert_same(d_w, weights(trainer.D))
    assert_same(d_g, grads(trainer.D))  # no leftover gradient leaks into D's next update
    assert_same_state(d_opt, optimizer_state(trainer.opt_d))
    assert any(not np.array_equal(a, b) for a, b in zip(g_w, weights(trainer.G)))


@pytest.mark.parametrize("kind", sorted(OBJECTIVES))
@pytest.mark.parametrize("loss", ["gan", "wgangp"])
def test_g_step_computes_no_gradient_for_d_and_unfreezes_it(make_tiny_config, kind, loss):
    trainer, batch = OBJECTIVES[kind](make_tiny_config, loss=loss, d_norm="none")
    trainable = [p.name for p in trainer.D.parameters() if not p.stop_gradient]
    seen = {}

    def before_update(name, layer):  # between G's backward pass and its optimizer step
        seen.update(net=name, d=grads(trainer.D), g=grads(layer))

    g_step(*_args(trainer, batch), on_grads=before_update)
    assert seen["net"] == "G"
    assert all(g is None or not np.any(g) for g in seen["d"])  # none computed for D
    assert any(g is not None and np.any(g) for g in seen["g"])
    assert [p.name for p in trainer.D.parameters() if not p.stop_gradient] == trainable


@pytest.mark.parametrize("speed", [dict(onednn=True), dict(onednn=False, to_static=True)])
def test_the_freeze_reaches_compiled_discriminators(make_tiny_config, speed):
    """The G step relies on `frozen` alone to keep D's gradients empty (it does not clear them
    afterwards): a D whose convolutions run as oneDNN programs, or whose whole forward is a
    to_static program, must see the freeze too, also after being traced in a D step."""
    trainer, batch = _trainer(make_tiny_config, "cpu", loss="gan", d_norm="none", width=16,
                              **speed)
    assert trainer.speed.onednn_d or trainer.speed.compile
    with trainer.runtime.context():
        _warm(trainer, batch)
        seen = {}
        g_step(*_args(trainer, batch),
               on_grads=lambda name, layer: seen.update(d=grads(trainer.D)))
    assert all(g is None or not np.any(g) for g in seen["d"])


def test_frozen_restores_the_flags_after_an_error():
    layer = paddle.nn.Linear(2, 2)
    with pytest.raises(RuntimeError):
        with frozen(layer):
            assert all(p.stop_gradient for p in layer.parameters())
            raise RuntimeError("inside")
    assert not any(p.stop_gradient for p in layer.parameters())


@pytest.mark.parametrize("kind", sorted(OBJECTIVES))
@pytest.mark.parametrize("loss", ["gan", "wgan", "wgangp"])
def test_d_step_leaves_g_weights_and_optimizer_state_alone(make_tiny_config, kind, loss):
    trainer, batch = OBJECTIVES[kind](make_tiny_config, loss=loss)
    _warm(trainer, batch)
    g_w, g_g, g_opt = weights(trainer.G), grads(trainer.G), optimizer_state(trainer.opt_g)
    d_w = weights(trainer.D)
    d_step(*_args(trainer, batch))
    assert_same(g_w, weights(trainer.G))
    assert_same(g_g, grads(trainer.G))
    assert_same_state(g_opt, optimizer_state(trainer.opt_g))
    assert any(not np.array_equal(a, b) for a, b in zip(d_w, weights(trainer.D)))


@pytest.mark.parametrize("kind", sorted(OBJECTIVES))
def test_with_k_3_g_changes_on_exactly_every_third_step(make_tiny_config, kind):
    trainer, _ = OBJECTIVES[kind](make_tiny_config, k=3, max_steps=9)
    changed = []
    batches = trainer.batches.epoch(0)
    for _ in range(9):
        before = weights(trainer.G)
        _, samples, labels = next(batches)
        trainer.train_step(samples, labels)
        trainer.position.step += 1
        changed.append(any(not np.array_equal(a, b) for a, b in zip(before, weights(trainer.G))))
    assert changed == [False, False, True] * 3


def test_wgan_schedule_runs_100_critic_steps_early_and_every_500th_g_step():
    schedule = CriticSchedule(5, "wgan")
    g_steps = [s for s in range(2500 + 5 * 480 + 200) if schedule.is_g_step(s)]
    assert g_steps[:3] == [99, 199, 299]  # 0-based D steps that end with a G step
    assert g_steps[24] == 2499  # the 25th G step ends the warm-up
    assert g_steps[25:27] == [2504, 2509]
    assert g_steps[499] == 2499 + 5 * 475
    assert g_steps[500] == g_steps[499] + 100  # the 500th (0-based) G step: 100 again
    assert schedule.g_steps_before(2500) == 25
    assert [CriticSchedule(3).is_g_step(s) for s in range(6)] == [False, False, True] * 2


@pytest.mark.parametrize("kind", sorted(OBJECTIVES))
def test_weight_clipping_happens_before_the_critic_step(make_tiny_config, kind):
    """The critic's loss of a step is computed on clipped weights (the WGAN reference code
    clamps before each critic iteration), not on what the previous update left."""
    trainer, batch = OBJECTIVES[kind](make_tiny_config, loss="wgan", weight_clip=0.01,
                                      d_norm="none", pool_size=0)
    with paddle.no_grad():
        for p in trainer.D.parameters():
            p.set_value(paddle.full_like(p, 0.5))
        fakes = trainer.objective.fakes(trainer.nets, trainer.runtime, batch)
    clipped = [np.clip(w, -0.01, 0.01) for w in weights(trainer.D)]
    stats = d_step(*_args(trainer, batch), fakes=fakes)
    # the same objective on weights clipped by hand, with the same fakes
    for p, w in zip([p for p in trainer.D.parameters() if p.trainable], clipped):
        p.set_value(paddle.to_tensor(w))
    with paddle.no_grad():
        expected, _ = trainer.objective.d_loss(trainer.nets, trainer.runtime, batch, fakes)
    np.testing.assert_allclose(float(stats["d_loss"]), float(expected), rtol=1e-5, atol=1e-7)


def test_weight_clipping_leaves_batch_norm_statistics_alone(make_tiny_config):
    trainer, batch = _trainer(make_tiny_config, loss="wgan", weight_clip=0.02, d_norm="batch")
    for _ in range(3):
        d_step(*_args(trainer, batch))
    variances = [p for n, p in trainer.D.named_parameters() if n.endswith("_variance")]
    assert variances and max(float(v.numpy().max()) for v in variances) > 0.5


def test_gradient_penalty_draws_one_t_per_sample():
    """Against a per-sample reference on a critic whose gradient depends on where x-hat lies
    (a linear critic's does not, and could not tell one t per batch from one per sample)."""
    rng = np.random.default_rng(0)
    w = paddle.to_tensor(rng.normal(size=(1, 2, 3, 3)).astype(np.float32))
    real = paddle.to_tensor(rng.normal(size=(6, 2, 3, 3)).astype(np.float32))
    fake = paddle.to_tensor(rng.normal(size=(6, 2, 3, 3)).astype(np.float32))

    def critic(x):
        return (w * x * x).reshape([x.shape[0], -1]).sum(axis=1)  # grad = 2 w x

    paddle.seed(7)
    got = float(gradient_penalty(critic, real, fake))
    paddle.seed(7)
    t = paddle.rand([6, 1, 1, 1]).numpy()
    assert len(np.unique(t)) == 6
    xhat = t * real.numpy() + (1 - t) * fake.numpy()
    norms = np.sqrt(((2 * w.numpy() * xhat) ** 2).reshape(6, -1).sum(axis=1))
    np.testing.assert_allclose(got, np.mean((norms - 1) ** 2), rtol=1e-5)


def _g_update(trainer, batch, coupled):
    """G's weights after one G step with `batch_coupled` set to `coupled`, and its loss."""
    objective = PairObjective(trainer.loss, dataclasses.replace(trainer.settings,
                                                                batch_coupled=coupled))
    paddle.seed(5)
    stats, _ = g_step(trainer.nets, objective, trainer.runtime, batch)
    return weights(trainer.G), float(stats["g_loss"])


def test_g_step_without_batch_norm_skips_the_real_batch_with_the_same_update(make_tiny_config):
    """A D without batch norm scores each sample on its own: showing it the real batch beside
    the fakes cannot change G's update, so the G step passes the fakes alone."""
    updated = []
    for coupled in (True, False):
        trainer, batch = _trainer(make_tiny_config, d_norm="none")
        assert not trainer.settings.batch_coupled
        updated.append(_g_update(trainer, batch, coupled)[0])
    for a, b in zip(*updated):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_g_step_of_a_batch_norm_critic_scores_the_fakes_beside_the_real_batch(make_tiny_config):
    """With batch norm in D the G step shows D the real batch and the fakes as one batch, as
    the D step does: G's loss is that of the fakes' half of D(concat(real, fake)), and the
    update differs from one where the fakes go alone."""
    trainer, batch = _trainer(make_tiny_config, d_norm="batch")
    assert trainer.settings.batch_coupled
    paddle.seed(5)
    z = paddle.randn([8, trainer.settings.latent_dim])  # what the G step draws after seed 5
    with paddle.no_grad():
        fake = trainer.G(z)
        D = copy.deepcopy(trainer.D)  # train mode: batch statistics, as in the step
        expected = float(trainer.loss.g_loss(D(paddle.concat([batch.real, fake]))[8:]))
    coupled, loss_value = _g_update(trainer, batch, True)
    np.testing.assert_allclose(loss_value, expected, rtol=1e-5)
    trainer, batch = _trainer(make_tiny_config, d_norm="batch")
    alone, _ = _g_update(trainer, batch, False)
    assert any(not np.allclose(a, b, rtol=1e-4, atol=1e-6) for a, b in zip(coupled, alone))


def test_settings_follow_the_config_and_the_discriminator(make_tiny_config):
    trainer, _ = _trainer(make_tiny_config, loss="lsgan", d_norm="batch", d_head="tanh",
                          label_smoothing=0.9)
    s = trainer.settings
    assert (s.batch_coupled, s.tanh_head, s.label_smoothing, s.joint_batches) == (True, True, 0.9, True)
    trainer, _ = _trainer(make_tiny_config, d_norm="instance", d_batches="separate")
    assert not trainer.settings.batch_coupled and not trainer.settings.joint_batches


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_each_loss_with_its_defaults_moves_d_and_g_the_way_their_losses_demand(
        make_tiny_config, loss):
    """A few D steps (same latents each time) lower D's objective and widen the gap between
    D's raw scores of real and fake images; then a few G steps lower G's objective and raise
    D's raw score of the fakes. The raw scores do not depend on the loss's own formulas, so a
    loss that pushes the wrong way (a wrong target or sign) fails here too."""
    trainer, batch = _trainer(make_tiny_config, loss=loss, k=None, k_schedule=None)
    spec, s, real = trainer.loss, trainer.settings, batch.real
    paddle.seed(0)
    z = paddle.randn([8, s.latent_dim])  # what d_step / g_step draw after paddle.seed(0)
    plain = dataclasses.replace(spec, gradient_penalty=False)  # the adversarial part

    def view():
        with paddle.no_grad():
            fake = trainer.G(z)
            d_value, _ = d_objective(plain, s, trainer.D, trainer.D, real, fake)
            g_value = g_objective(spec, s, trainer.D, real, fake)
            real_out, fake_out = discriminate(trainer.D, real, fake, None, s, s.joint_batches)
            return (float(d_value), float(g_value), float(real_out.mean()),
                    float(fake_out.mean()))

    d_before, _, real_before, fake_before = view()
    for _ in range(4):
        paddle.seed(0)
        d_step(*_args(trainer, batch))
    d_after, g_before, real_after, fake_after = view()
    assert d_after < d_before
    assert real_after - fake_after > real_before - fake_before
    for _ in range(4):
        paddle.seed(0)
        g_step(*_args(trainer, batch))
    _, g_after, _, fake_moved = view()
    assert g_after < g_before and fake_moved > fake_after

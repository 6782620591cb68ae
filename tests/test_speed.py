"""Speed options: compiled forwards (to_static, oneDNN) against the dynamic graph, the
automatic choices, AMP's CPU behaviour, and the CPU defaults a run reports."""
import numpy as np
import paddle
import pytest

from paddle_gan.models.seed import PixelShuffleGenerator, StridedDiscriminator
from paddle_gan.train.speed import (AMP_CPU_NOTE, CompiledForward, compile_convolutions, onednn_flag,
                              plan_speed, restore_convolutions)


def _grads(layer):
    return {n: p.grad.numpy().copy() for n, p in layer.named_parameters() if p.grad is not None}


def _forward_and_grads(layer, call, x, weights, onednn=False):
    with onednn_flag(onednn):  # as the trainer's step_context: the backward on oneDNN too
        out = call(x)
        (out * weights).sum().backward()
    grads = _grads(layer)
    layer.clear_gradients()
    return out.numpy(), grads


@pytest.mark.parametrize("onednn", [False, True])
def test_compiled_forward_matches_dynamic_graph(onednn):
    """to_static whole forwards (bitwise) and oneDNN convolutions (float noise): outputs and
    every parameter's gradient, also after a first call without gradients, and in eval mode."""
    paddle.seed(1)
    G, D = PixelShuffleGenerator(8), StridedDiscriminator(8)
    rng = np.random.default_rng(0)
    z = paddle.to_tensor(rng.standard_normal((4, 100)).astype("float32"))
    x = paddle.to_tensor(rng.random((6, 1, 32, 32)).astype("float32"))
    tol = dict(rtol=2e-4, atol=1e-5) if onednn else dict(rtol=0, atol=0)  # to_static: bitwise
    # G: every Conv2D but the one on the 1-channel noise map; D: but the image layer and the
    # 1x1 head (`onednn_wins`)
    for layer, inp, shape, convs in ((G, z, (4, 1, 32, 32), 3), (D, x, (6,), 2)):
        if onednn:
            assert compile_convolutions(layer) == convs
            compiled = layer
            dynamic = _Dynamic(layer)
        else:
            compiled, dynamic = CompiledForward(layer), layer
        weights = paddle.to_tensor(rng.standard_normal(shape).astype("float32"))
        with paddle.no_grad():  # compiled first without gradients (Paddle's cache pitfall) ...
            compiled(inp)
        out_c, grads_c = _forward_and_grads(layer, compiled, inp, weights, onednn)
        out_p, grads_p = _forward_and_grads(layer, dynamic, inp, weights)
        np.testing.assert_allclose(out_c, out_p, **tol)
        # ... and still every parameter gets its gradient when called with gradients on
        assert sorted(grads_c) == sorted(grads_p) and len(grads_p) == len(
            [p for p in layer.parameters() if p.trainable])
        for name in grads_p:
            np.testing.assert_allclose(grads_c[name], grads_p[name], **tol, err_msg=name)
        layer.eval()  # eval mode (running statistics) is its own program
        with paddle.no_grad():
            np.testing.assert_allclose(compiled(inp).numpy(), dynamic(inp).numpy(), **tol)
        layer.train()


class _Dynamic:
    """Calls a network with its convolutions' dynamic forwards (undoing compile_convolutions
    for the duration of the call)."""

    def __init__(self, layer):
        self.layer = layer

    def __call__(self, x):
        compiled = {id(l): l.forward for l in self.layer.sublayers() if "forward" in l.__dict__}
        restore_convolutions(self.layer)
        try:
            return self.layer(x)
        finally:
            for l in self.layer.sublayers():
                if id(l) in compiled:
                    l.forward = compiled[id(l)]


def _train(make_tiny_config, steps=4, **overrides):
    from paddle_gan.train.run import build_trainer, prepare_data

    cfg = make_tiny_config(**overrides)
    trainer = build_trainer(cfg, prepare_data(cfg), cfg.output, "cpu")
    plan = trainer.speed
    losses = []
    for index, samples, labels in trainer.batches.epoch(0):
        if index >= steps:
            break
        stats = trainer.train_step(samples, labels)
        trainer.position.step += 1
        losses.append({k: float(v) for k, v in stats.items()})
        assert all(v.stop_gradient for v in stats.values())  # no graph kept alive (memory)
    params = {k: v.numpy() for k, v in trainer.G.state_dict().items()}
    return plan, losses, params


def test_to_static_training_is_bitwise_the_dynamic_graph(make_tiny_config):
    plan_d, losses_d, params_d = _train(make_tiny_config, onednn=False)
    plan_s, losses_s, params_s = _train(make_tiny_config, onednn=False, to_static=True)
    assert not plan_d.compile and plan_s.compile and not plan_s.onednn
    assert losses_s == losses_d
    for name in params_d:
        np.testing.assert_array_equal(params_s[name], params_d[name])


@pytest.mark.parametrize("loss", ["gan", "wgangp"])
def test_onednn_training_matches_within_float_noise(make_tiny_config, loss):
    _, losses_d, _ = _train(make_tiny_config, steps=2, loss=loss, onednn=False)
    plan, losses_o, _ = _train(make_tiny_config, steps=2, loss=loss, onednn=True)
    assert plan.onednn and not plan.compile
    assert plan.onednn_d == (loss != "wgangp")  # a penalised critic keeps dynamic convolutions
    assert all(np.isfinite(list(s.values())).all() for s in losses_o)
    # the first step starts from the same weights: its losses agree to float precision
    for key, value in losses_d[0].items():
        assert losses_o[0][key] == pytest.approx(value, rel=1e-4, abs=1e-5), key


def test_amp_on_cpu_is_reported_and_training_stays_float32(make_tiny_config):
    plan, losses_amp, params_amp = _train(make_tiny_config, amp=True, onednn=False)
    _, losses, params = _train(make_tiny_config, onednn=False)
    assert not plan.amp and plan.notes == [AMP_CPU_NOTE]
    assert losses_amp == losses and all(np.isfinite(list(s.values())).all() for s in losses)
    for name in params:
        np.testing.assert_array_equal(params_amp[name], params[name])


class _Cfg:
    def __init__(self, **values):
        self.__dict__.update(dict(to_static=False, onednn=None, amp=False, latent_dim=100,
                                  batch_size=8), **values)


def test_plan_speed_choices():
    small, large = PixelShuffleGenerator(4), PixelShuffleGenerator(64)
    D = StridedDiscriminator(8)
    # auto: oneDNN once the convolutions it would take cost 40 MFLOP a batch (width 64: ~0.3
    # GFLOP per image; G at width 4 with D at 8: 1.4 MFLOP per image, so on at batch 64 and
    # off at batch 8)
    auto = plan_speed(_Cfg(), "cpu", large, D)
    assert auto.onednn and auto.onednn_d and not auto.compile and "auto" in auto.notes[0]
    assert not plan_speed(_Cfg(), "cpu", small, D).onednn
    assert plan_speed(_Cfg(batch_size=64), "cpu", small, D).onednn
    assert not plan_speed(_Cfg(onednn=False), "cpu", large, D).onednn
    # asked for explicitly, whatever the size; D keeps dynamic convolutions under a penalty
    assert plan_speed(_Cfg(onednn=True), "cpu", small, D).onednn
    assert not plan_speed(_Cfg(), "cpu", large, D, gradient_penalty=True).onednn_d
    # whole-forward to_static: on Paddle's kernels only, not under data parallel
    assert plan_speed(_Cfg(to_static=True), "cpu", small, D).compile
    both = plan_speed(_Cfg(to_static=True, onednn=True), "cpu", small, D)
    assert both.onednn and not both.compile and "to_static: off" in both.notes[0]
    dp = plan_speed(_Cfg(to_static=True, onednn=False), "cpu", large, D, distributed=True)
    assert not dp.compile and "data parallel" in dp.notes[-1]
    assert plan_speed(_Cfg(), "cpu", large, D, distributed=True).onednn
    # a model with its own trainer keeps its dynamic forwards, with a note when asked
    own = plan_speed(_Cfg(onednn=True), "cpu", large, D, standard_trainer=False)
    assert not own.onednn and not own.compile and "own trainer" in own.notes[0]
    # DCGAN's generator is transposed convolutions only (oneDNN's is inference-only): D alone
    from paddle_gan.config import make_config
    from paddle_gan.models import DataSpec, build_models

    dc_g, dc_d = build_models(make_config(dict(model="dcgan", dataset="mnist5k", width=8)),
                              DataSpec((1, 32, 32), 0))
    dcgan = plan_speed(_Cfg(onednn=True), "cpu", dc_g, dc_d)
    assert (dcgan.onednn_g, dcgan.onednn_d) == (False, True)
    # GPU: AMP applies, oneDNN does not
    gpu = plan_speed(_Cfg(amp=True, onednn=True), "gpu", large, D)
    assert gpu.amp and not gpu.onednn and not gpu.compile and "GPU" in gpu.notes[0]
    cpu = plan_speed(_Cfg(amp=True), "cpu", small, D)
    assert not cpu.amp and cpu.notes == [AMP_CPU_NOTE]


def test_run_reports_threads_and_speed_plan(make_tiny_config):
    from paddle_gan.runtime import usable_cores
    from paddle_gan.train.run import run_training

    lines = []
    run_training(make_tiny_config(max_steps=2), say=lines.append)
    runtime = next(line for line in lines if line.startswith("runtime:"))
    assert f"threads={usable_cores()}" in runtime and "MKL_DEBUG_CPU_TYPE=5" in runtime
    assert any(line.startswith("speed: oneDNN convolutions off") for line in lines)


def test_onednn_run_resumes_exactly(tmp_path):
    """Same seed, oneDNN convolutions: 4 steps in one go == 2 steps + resume + 2 steps."""
    from conftest import tiny_config
    from paddle_gan.checkpoint import load_checkpoint
    from paddle_gan.train.run import run_training

    def run(folder, steps, resume=None):
        cfg = tiny_config(tmp_path, onednn=True, max_steps=steps, output=str(tmp_path / folder),
                          resume=resume)
        return load_checkpoint(run_training(cfg, say=lambda text: None))

    straight = run("a", 4)
    run("b", 2)
    resumed = run("b", 4, resume="latest")
    assert resumed.step == straight.step == 4
    weights = [k for k in straight.arrays if k.startswith(("G/", "D/"))]
    assert weights
    for key in weights:
        np.testing.assert_array_equal(resumed.arrays[key], straight.arrays[key], err_msg=key)


def test_batch_norm_notice_does_not_repeat_every_step():
    """Paddle warns at every BatchNorm forward in training; the suite filters it once, process
    wide, so a 2,000-step run does not print it 2,000 times (other warnings still show)."""
    import warnings

    import paddle_gan.runtime as runtime

    runtime.silence_paddle_notices()
    bn = paddle.nn.BatchNorm2D(3)
    bn.train()
    with warnings.catch_warnings(record=True) as caught:
        for _ in range(3):
            bn(paddle.ones([2, 3, 4, 4]))
        warnings.warn("a warning of our own")
    messages = [str(w.message) for w in caught]
    assert not any("track global mean" in m for m in messages)
    assert "a warning of our own" in messages


def test_onednn_takes_the_convolutions_it_wins_on():
    """Wide convolutions go to oneDNN; one convolved input channel (a conditioned layer counts
    only its image's) and 1x1 kernels stay on Paddle's kernel (docs/results/conv_layer_ab.md)."""
    from paddle_gan.blocks import Conv2D
    from paddle_gan.train.speed import onednn_wins

    assert onednn_wins(Conv2D(16, 32, 4))
    assert not onednn_wins(Conv2D(1, 32, 5))
    assert not onednn_wins(Conv2D(11, 16, 4, condition_channels=10))
    assert onednn_wins(Conv2D(26, 16, 4, condition_channels=10))
    assert not onednn_wins(Conv2D(32, 1, 1))


def test_compiled_convolution_reuses_its_lowered_program_with_the_same_numbers():
    """After the first call of a signature the lowered program is called directly: the same
    output and gradients as the first (full) call, bitwise; a new shape or grad mode gets a
    program of its own."""
    from paddle_gan.blocks import Conv2D
    from paddle_gan.train.speed import CompiledConv

    paddle.seed(0)
    conv = Conv2D(8, 16, 3, padding=1)
    conv.forward = CompiledConv(conv)
    x = paddle.randn([4, 8, 6, 6])
    x.stop_gradient = False
    runs = []
    for _ in range(3):
        with onednn_flag(True):
            out = conv(x)
            out.sum().backward()
        runs.append((out.numpy(), x.grad.numpy().copy(), conv.weight.grad.numpy().copy()))
        conv.clear_gradients()
        x.clear_gradient()
    assert len(conv.forward._lowered) == 1
    for later in runs[1:]:
        for a, b in zip(runs[0], later):
            np.testing.assert_array_equal(a, b)
    with paddle.no_grad():
        conv(paddle.randn([2, 8, 6, 6]))
    assert len(conv.forward._lowered) == 2

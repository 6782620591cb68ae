"""The FLOP counter against hand-computed values; tools/benchmark.py at a tiny size."""
import json

import paddle
import paddle.nn as nn
import pytest

from paddle_gan.flops import FlopCounter, forward_flops
from paddle_gan.losses import LOSSES
from inprocess_tools import run_tool_main


def _count(layer, x):
    with FlopCounter({"m": layer}) as counter:
        y = layer(x)
    return counter.report, y


def test_conv_flops_by_hand():
    # 2 images, 3 -> 4 channels, 3x3 kernel, 'same' 5x5 output: each of the 2*4*5*5 outputs is a
    # dot product of 3*3*3 = 27 products -> 200 * 27 multiply-adds = 10,800 FLOPs
    report, _ = _count(nn.Conv2D(3, 4, 3, padding=1), paddle.rand([2, 3, 5, 5]))
    assert report.forward == 2 * (2 * 4 * 5 * 5) * (3 * 3 * 3) == 10_800
    # grouped and strided: 4 -> 6 channels in 2 groups, 7x7 -> 3x3; each output sees 2 * 9 inputs
    report, y = _count(nn.Conv2D(4, 6, 3, stride=2, groups=2), paddle.rand([1, 4, 7, 7]))
    assert y.shape == [1, 6, 3, 3]
    assert report.forward == 2 * (6 * 3 * 3) * (2 * 3 * 3) == 1_944


def test_conv_transpose_and_linear_flops_by_hand():
    # every one of the 4*3*3 input values is scattered onto 2 out-channels x 4x4 taps
    layer = nn.Conv2DTranspose(4, 2, 4, stride=2, padding=1)
    report, y = _count(layer, paddle.rand([1, 4, 3, 3]))
    assert y.shape == [1, 2, 6, 6]
    assert report.forward == 2 * (4 * 3 * 3) * (2 * 4 * 4) == 2_304
    # Linear 5 -> 7 on 3 rows, and on a [2, 3, 5] input (6 rows)
    report, _ = _count(nn.Linear(5, 7), paddle.rand([3, 5]))
    assert report.forward == 2 * 3 * 5 * 7 == 210
    report, _ = _count(nn.Linear(5, 7), paddle.rand([2, 3, 5]))
    assert report.forward == 2 * 6 * 5 * 7 == 420


def test_backward_counts_weight_and_input_gradients():
    first, second = nn.Linear(4, 8), nn.Linear(8, 2)
    net = nn.Sequential(first, nn.ReLU(), second)
    x = paddle.rand([5, 4])  # needs no gradient: the first layer has no input gradient
    with FlopCounter({"net": net}) as counter:
        net(x).sum().backward()
        with paddle.no_grad():
            net(x)  # forward only
    f1, f2 = 2 * 5 * 4 * 8, 2 * 5 * 8 * 2
    calls = counter.report.calls
    assert [(c.forward, c.backward) for c in calls] == [(f1, f1), (f2, 2 * f2), (f1, 0), (f2, 0)]
    assert counter.report.total == 3 * f1 + 4 * f2
    assert not first._forward_post_hooks  # hooks are removed on exit


def test_seed_iteration_flops_match_the_hand_count(make_tiny_config):
    """One iteration (D step + G step, joint D batches, batch norm in D so the G step shows D
    the real batch too) of the seed model, from the layer shapes."""
    from paddle_gan.perf.benchmark import first_batch, iteration_flops
    from paddle_gan.train.run import build_trainer, prepare_data

    cfg = make_tiny_config(k=1, width=8, batch_size=4, d_norm="batch")
    trainer = build_trainer(cfg, prepare_data(cfg), cfg.output)
    report = iteration_flops(trainer, first_batch(trainer))
    w, n = 8, 4
    lin = 2 * 100 * 100  # G: the linear input layer, z (100) -> the 10x10 map
    c1 = 2 * 10 * 10 * w * 1 * 25  # G: 1 -> w, 5x5 same, 10x10
    g_fwd = lin + c1 + 2 * 8 * 8 * 16 * w * w * 9 + 2 * 32 * 32 * w * w * 25 + 2 * 32 * 32 * w * 25
    d1 = 2 * 14 * 14 * (w // 2) * 25  # D: 1 -> w/2, 5x5 stride 2, 32 -> 14
    d_fwd = d1 + 2 * 5 * 5 * w * (w // 2) * 25 + 2 * w * w * 25 + 2 * w
    # D step: G forward (no grad); D on 2n: forward, weight grads, input grads but the first's
    # G step: G forward + weight grads + input grads but the first's; D on 2n: forward and
    # input grads only (D is frozen: no weight grads)
    expected = n * (g_fwd + g_fwd + g_fwd + g_fwd - lin) + 2 * n * (3 * d_fwd - d1 + 2 * d_fwd)
    assert report.total == expected
    assert forward_flops(trainer.G.net[4], paddle.rand([1, w, 32, 32]),
                         paddle.rand([1, 1, 32, 32])) == 2 * 32 * 32 * w * 25


def test_benchmark_tool_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = run_tool_main("benchmark", [
        "--dataset", "mnist5k", "--width", "4", "--batch-sizes", "8", "--iters", "2",
        "--warmup", "1", "--sgemm-size", "128", "--no-progress", "--json", out])
    assert code == 0
    printed = capsys.readouterr().out
    assert "s/iter" in printed and "util" in printed and "overhead" in printed
    result = json.loads(out.read_text())
    assert result["machine"]["threads"] >= 1
    # the CPU model and its vector flags, not the architecture name ("x86_64")
    from paddle_gan.runtime import cpu_model
    from paddle_gan.stamp import vector_flags

    assert result["machine"]["cpu"] == cpu_model()
    assert result["machine"]["cpu_flags"] == vector_flags()
    rows = result["rows"]
    assert [r["loop"] for r in rows] == ["bare", "suite"]
    keys = {"model", "loss", "batch_size", "s_per_iter", "img_per_s", "gflop_per_iter",
            "achieved_gflops", "sgemm_gflops", "utilisation", "overhead", "peak_rss_mb",
            "rss_growth_mb", "load_avg", "speed", "times"}
    for row in rows:
        assert keys <= set(row)
        assert row["s_per_iter"] > 0 and len(row["times"]) == 2
        assert row["img_per_s"] == pytest.approx(8 / row["s_per_iter"])
        assert row["achieved_gflops"] == pytest.approx(row["gflop_per_iter"] / row["s_per_iter"])
        assert row["utilisation"] == pytest.approx(row["achieved_gflops"] / row["sgemm_gflops"])
    assert rows[0]["gflop_per_iter"] == rows[1]["gflop_per_iter"] > 0
    assert rows[0]["overhead"] is None
    assert rows[1]["overhead"] == pytest.approx(rows[1]["s_per_iter"] / rows[0]["s_per_iter"])


def test_benchmark_tool_bad_flags_are_one_line(capsys):
    assert run_tool_main("benchmark", ["--batch-sizes", "8,x"]) == 2
    err = capsys.readouterr().err
    assert "--batch-sizes" in err and len(err.strip().splitlines()) == 1


# ----------------------------------------------------------------------------- PyTorch reference
TWIN_CASES = [("quickstart.yaml", {}), (None, dict(model="seed", width=8, d_norm="batch")),
              (None, dict(model="seed", width=8, loss="wgangp", d_norm="none")),
              ("mlp_gan_mnist.yaml", {})]


def _reference_trainer(tmp_path, config, extra):
    import os

    from paddle_gan.config import CONFIG_DIR, make_config
    from paddle_gan.models import prepare_data
    from paddle_gan.train.run import build_trainer

    cfg = make_config(dict(dataset="mnist5k", batch_size=8, output=str(tmp_path / "run"),
                           **extra), os.path.join(CONFIG_DIR, config) if config else None)
    return build_trainer(cfg, prepare_data(cfg), cfg.output)


@pytest.mark.parametrize("config, extra", TWIN_CASES)
def test_torch_twins_compute_what_the_suite_s_networks_compute(tmp_path, config, extra):
    """The reference's PyTorch networks are the suite's: same layers, same weights, so the same
    images and scores for the same latents (eval mode; float noise only)."""
    torch = pytest.importorskip("torch")
    import numpy as np

    from paddle_gan.perf.torch_reference import twin

    trainer = _reference_trainer(tmp_path, config, extra)
    trainer.G.eval()
    trainer.D.eval()
    G, D = twin(trainer.G), twin(trainer.D)
    assert not G.training and not D.training
    z = np.random.default_rng(0).normal(size=(4, trainer.settings.latent_dim)).astype(np.float32)
    cond = np.eye(10, dtype=np.float32)[:4] if trainer.num_classes else None
    with paddle.no_grad():
        ours_cond = None if cond is None else paddle.to_tensor(cond)
        images = trainer.G(paddle.to_tensor(z), ours_cond)
        scores = trainer.D(images, ours_cond).numpy()
    with torch.no_grad():
        theirs_cond = None if cond is None else torch.from_numpy(cond)
        torch_images = G(torch.from_numpy(z), theirs_cond)
        torch_scores = D(torch_images, theirs_cond).numpy()
    np.testing.assert_allclose(torch_images.numpy(), images.numpy(), atol=1e-5)
    np.testing.assert_allclose(torch_scores, scores, rtol=1e-4, atol=1e-5)
    assert sum(p.numel() for p in G.parameters()) == sum(int(np.prod(p.shape)) for p in
                                                         trainer.G.parameters() if p.trainable)


@pytest.mark.parametrize("config, extra", TWIN_CASES)
def test_torch_reference_iteration_updates_both_twins(tmp_path, config, extra):
    torch = pytest.importorskip("torch")
    from paddle_gan.perf.benchmark import first_batch
    from paddle_gan.perf.torch_reference import torch_step

    trainer = _reference_trainer(tmp_path, config, extra)
    step = torch_step(trainer, first_batch(trainer))
    before = [p.detach().clone() for p in (*step.G.parameters(), *step.D.parameters())]
    step.iteration()
    after = list(step.G.parameters()) + list(step.D.parameters())
    assert all(torch.isfinite(p).all() for p in after)
    moved = [not torch.equal(a, b) for a, b in zip(before, after)]
    g_count = len(list(step.G.parameters()))
    assert any(moved[:g_count]) and any(moved[g_count:])
    assert all(p.requires_grad for p in step.D.parameters())  # unfrozen after the G step


def test_reference_without_torch_is_one_line(monkeypatch, capsys):
    from paddle_gan.perf import torch_reference

    monkeypatch.setattr(torch_reference, "torch_available", lambda: False)
    assert run_tool_main("benchmark", ["--reference", "torch"]) == 2
    err = capsys.readouterr().err
    assert "needs PyTorch" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv, message", [
    (["--reference", "torch", "--rows", "quickstart,no_such_row"], "--rows: unknown no_such_row"),
    (["--reference", "torch", "--rounds", "0"], "--rounds: must be in 1..1,000, got 0"),
    (["--reference", "torch", "--iters", "100000"], "--iters: must be in 1..10,000, got 100,000"),
    (["--profile", "0"], "--profile: must be in 1..10,000, got 0"),
])
def test_reference_and_profile_flags_are_checked_before_any_work(monkeypatch, capsys, argv,
                                                                  message):
    from paddle_gan.perf import torch_reference

    monkeypatch.setattr(torch_reference, "torch_available", lambda: True)
    monkeypatch.setattr(torch_reference, "measure_row",
                        lambda *a, **k: pytest.fail("a row was measured"))
    assert run_tool_main("benchmark", argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_torch_twin_of_every_loss_computes_the_paddle_loss(name):
    """The twin is found by the loss's functions: a loss made of twinned functions computes
    what the Paddle loss computes, one with new functions is a TypeError naming them (the loss
    recipe needs no twin)."""
    import numpy as np

    torch = pytest.importorskip("torch")
    from paddle_gan.perf.torch_reference import _torch_twins, torch_loss

    spec = LOSSES[name]
    missing = [f.__name__ for f in (spec.d_loss, spec.g_loss) if f not in _torch_twins()]
    if missing:
        with pytest.raises(TypeError, match=f"no twin of {', '.join(missing)}"):
            torch_loss(spec)
        return
    twin = torch_loss(spec)
    real, fake = np.array([1.5, -0.3, 0.2], np.float32), np.array([-1.0, 0.4, 2.5], np.float32)
    ours_d = float(spec.d_loss(paddle.to_tensor(real), paddle.to_tensor(fake), 0.9))
    ours_g = float(spec.g_loss(paddle.to_tensor(fake)))
    assert float(twin.d_loss(torch.from_numpy(real), torch.from_numpy(fake), 0.9)) == \
        pytest.approx(ours_d, rel=1e-5)
    assert float(twin.g_loss(torch.from_numpy(fake))) == pytest.approx(ours_g, rel=1e-5)


def test_torch_twin_of_a_loss_with_new_functions_is_a_type_error():
    from dataclasses import replace

    from paddle_gan.perf.torch_reference import torch_loss

    def hinge_g_loss(fake_out):
        return -fake_out.mean()

    with pytest.raises(TypeError, match="no twin of hinge_g_loss"):
        torch_loss(replace(LOSSES["wgan"], name="hinge", g_loss=hinge_g_loss))

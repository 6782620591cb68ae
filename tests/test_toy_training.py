"""The 2-D GAN: toy model, 2-D data sets, training steps, frames / GIF, evaluation, benchmark."""
import json
import os

import numpy as np
import paddle
import pytest
from PIL import Image

from paddle_gan.blocks import mlp_stack
from paddle_gan.config import make_config
from paddle_gan.data import ArrayData, load_dataset
from paddle_gan.data.toy2d import grid_mixture, ring_mixture
from paddle_gan.errors import UserError
from paddle_gan.losses import LOSSES, gradient_penalty
from paddle_gan.models import DataSpec, build_models
from paddle_gan.models.toy import ToyDiscriminator, ToyGenerator
from paddle_gan.train.run import build_trainer, prepare_data, run_training

from conftest import run_tool
from inprocess_tools import run_tool_main


def toy_config(tmp_path, **overrides):
    values = dict(model="toy", dataset="ring", width=16, depth=2, latent_dim=4, batch_size=16,
                  num_points=256, k=1, epochs=1000, max_steps=4, progress=False, log_every=2,
                  scalar_every=1, frame_every=0, sample_every=1000, seed=1,
                  output=str(tmp_path / "run"))
    values.update(overrides)
    return make_config(values)


def params(layer):
    return [p.numpy().copy() for p in layer.parameters()]


# --------------------------------------------------------------------------- model
def test_generator_is_the_mlp_on_z_and_one_hot():
    """G(z, c) = W2 relu(W1 [z; onehot(c)] + b1) + b2, by hand, at depth 1."""
    paddle.seed(0)
    G = ToyGenerator(out_dim=2, latent_dim=3, width=5, depth=1, num_classes=2, act="relu")
    z = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    c = np.array([0, 1, 1, 0])
    cond = np.eye(2, dtype=np.float32)[c]
    out = G(paddle.to_tensor(z), paddle.to_tensor(cond)).numpy()
    w1, b1, w2, b2 = params(G)  # paddle Linear weights are [in, out]
    hidden = np.maximum(np.concatenate([z, cond], axis=1) @ w1 + b1, 0.0)
    np.testing.assert_allclose(out, hidden @ w2 + b2, rtol=1e-5, atol=1e-6)
    assert G.output_range == (0.0, 1.0)  # the trainer's data map is the identity
    assert G.latent_dim == 3


def test_discriminator_scores_one_point_each():
    """D's score of a point does not depend on the rest of the batch (no batch norm)."""
    paddle.seed(0)
    D = ToyDiscriminator(in_dim=2, width=8, depth=3)
    x = paddle.to_tensor(np.random.default_rng(1).standard_normal((6, 2)).astype(np.float32))
    full = D(x).numpy()
    assert full.shape == (6,)
    np.testing.assert_allclose(D(x[:2]).numpy(), full[:2], rtol=1e-5, atol=1e-6)


def test_mlp_stack_layers_and_refused_norm():
    net = mlp_stack([3, 7, 7, 1], act="relu", norm="batch")
    kinds = [type(layer).__name__ for layer in net]
    assert kinds == ["Linear", "BatchNorm1D", "ReLU", "Linear", "BatchNorm1D", "ReLU", "Linear"]
    with pytest.raises(ValueError, match="feature vectors"):
        mlp_stack([3, 7, 1], norm="instance")


def test_critic_has_a_double_gradient_for_wgangp():
    """The penalty's gradient reaches D's weights (it would be zero without double grad)."""
    paddle.seed(0)
    D = ToyDiscriminator(in_dim=2, width=8, depth=2, act="leaky_relu")
    real = paddle.to_tensor(np.random.default_rng(0).standard_normal((8, 2)).astype(np.float32))
    fake = real * 0.5 + 1.0
    gp = gradient_penalty(lambda x: D(x), real, fake)
    gp.backward()
    first = D.net[0].weight.grad
    assert first is not None and float(paddle.abs(first).sum()) > 0


def test_build_refuses_images(tmp_path):
    cfg = toy_config(tmp_path)
    with pytest.raises(ValueError, match="points"):
        build_models(cfg, DataSpec((1, 28, 28)))


# --------------------------------------------------------------------------- data
def test_point_data_sets_are_pools_in_natural_coordinates(tmp_path):
    ring = load_dataset(toy_config(tmp_path, num_points=500))
    assert ring.samples.shape == (500, 2) and ring.samples.dtype == np.float32
    assert ring.num_classes == 8 and ring.labels.dtype == np.int64
    centers = ring_mixture().centers
    nearest = np.argmin(((ring.samples[:, None] - centers[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(nearest, ring.labels)  # labels = the mode of each point
    np.testing.assert_allclose(np.linalg.norm(ring.samples, axis=1), 1.0, atol=0.06)
    again = load_dataset(toy_config(tmp_path, num_points=500))
    np.testing.assert_array_equal(again.samples, ring.samples)  # same seed, same pool
    held_out = load_dataset(toy_config(tmp_path, num_points=500), "test")
    assert not np.allclose(held_out.samples, ring.samples)
    grid = load_dataset(toy_config(tmp_path, dataset="grid", num_points=2000))
    assert grid.samples.min() < -3.8 and grid.samples.max() > 3.8  # not squeezed into [0, 1]
    assert set(np.unique(grid.labels)) == set(range(25))
    spiral = load_dataset(toy_config(tmp_path, dataset="spiral", num_points=300))
    assert spiral.labels is None and spiral.num_classes == 0
    assert 0.0 <= spiral.samples.min() and spiral.samples.max() <= 1.0


def _write_class_folder(folder, size=32):
    os.makedirs(folder, exist_ok=True)
    left = np.zeros((size, size), np.uint8)
    left[12:20, 2:8] = 255
    right = np.zeros((size, size), np.uint8)
    right[12:20, 24:30] = 255
    Image.fromarray(left).save(os.path.join(folder, "a_left.png"))
    Image.fromarray(right).save(os.path.join(folder, "b_right.png"))


def test_class_folder_data_set(tmp_path):
    folder = str(tmp_path / "binary")
    _write_class_folder(folder)
    data = load_dataset(toy_config(tmp_path, dataset=f"classes:{folder}", num_points=400))
    assert data.num_classes == 2 and data.class_names == ["a_left", "b_right"]
    assert np.all(data.samples[data.labels == 0, 0] < 0.25)
    assert np.all(data.samples[data.labels == 1, 0] > 0.75)
    with pytest.raises(UserError, match="not found"):
        load_dataset(toy_config(tmp_path, dataset=f"classes:{tmp_path}/missing"))
    with pytest.raises(UserError, match="no class labels"):
        prepare_data(toy_config(tmp_path, dataset="spiral", conditional=True))


# --------------------------------------------------------------------------- training
@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_one_training_step_updates_both_networks(tmp_path, loss):
    cfg = toy_config(tmp_path, loss=loss)
    trainer = build_trainer(cfg, prepare_data(cfg), cfg.output)
    g0, d0 = params(trainer.G), params(trainer.D)
    batch = trainer.data.samples[:16]
    stats = trainer.train_step(batch, trainer.data.labels[:16])
    values = {k: float(v) for k, v in stats.items()}
    assert all(np.isfinite(v) for v in values.values()), values
    assert "g_loss" in values and ("gp" in values) == (loss == "wgangp")
    # every weight matrix of D moved (a Wasserstein critic's output bias has zero gradient)
    assert all(not np.array_equal(a, b) for a, b in zip(d0, params(trainer.D)) if a.ndim == 2)
    assert any(not np.array_equal(a, b) for a, b in zip(g0, params(trainer.G)))
    if loss == "wgan":  # clipped before the update: at most one RMSProp step outside
        assert max(float(paddle.abs(p).max()) for p in trainer.D.parameters()) \
            <= cfg.weight_clip + 10 * cfg.lr_d * 1.01


def test_conditional_step_feeds_the_class_to_both_networks(tmp_path):
    cfg = toy_config(tmp_path, conditional=True, loss="gan")
    trainer = build_trainer(cfg, prepare_data(cfg), cfg.output)
    assert trainer.num_classes == 8
    assert trainer.G.net[0].weight.shape == [4 + 8, 16]
    assert trainer.D.net[0].weight.shape == [2 + 8, 16]
    stats = trainer.train_step(trainer.data.samples[:16], trainer.data.labels[:16])
    assert np.isfinite(float(stats["d_loss"])) and np.isfinite(float(stats["g_loss"]))


def test_frame_geometry_helpers(tmp_path):
    from paddle_gan.viz.frames import heat_grid, view_bounds, write_gif

    grid = heat_grid((0.0, 1.0, 0.0, 2.0), cells=2)
    # row-major from the top row (y high): the reshaped heat map is an image with row 0 on top
    np.testing.assert_allclose(grid, [[0.25, 1.5], [0.75, 1.5], [0.25, 0.5], [0.75, 0.5]])
    assert view_bounds((0.0, 1.0, 0.0, 2.0), margin=0.0) == (-0.5, 1.5, 0.0, 2.0)  # square
    assert write_gif([], str(tmp_path / "none.gif")) is None


def test_frames_and_gif_are_written(tmp_path):
    cfg = toy_config(tmp_path, max_steps=6, frame_every=2, conditional=True)
    run_training(cfg, say=lambda _: None)
    samples = os.path.join(cfg.output, "samples")
    frames = sorted(f for f in os.listdir(samples) if f.startswith("frame_"))
    assert frames == [f"frame_{s:08d}.png" for s in (1, 2, 4, 6)]
    with Image.open(os.path.join(samples, "frame_00000002.png")) as im:
        assert im.size == (420, 420) and len(im.getcolors(1 << 16) or []) > 50
    with Image.open(os.path.join(samples, "training.gif")) as gif:
        assert gif.n_frames == 4 and gif.info.get("loop") == 0
    assert os.path.getsize(os.path.join(samples, "final.png")) > 5000
    from visualdl import LogReader
    import glob

    (record,) = glob.glob(os.path.join(cfg.output, "vdl", "vdlrecords.*"))
    assert [r.id for r in LogReader(file_path=record).get_data("image", "frames")] == [1, 2, 4, 6]


STEPS, SEED = 200, 1


def test_conditional_generator_puts_each_class_at_its_blob(tmp_path):
    """Two far-apart Gaussians, class = blob: after a short run G(z, c) sits on blob c."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 2048).astype(np.int64)
    centers = np.array([[-2.0, 0.0], [2.0, 0.0]], np.float32)
    samples = (centers[labels] + 0.1 * rng.standard_normal((2048, 2))).astype(np.float32)
    data = ArrayData(samples, labels, 2, "two_gaussians")
    # settings checked on seeds 0-4: the median distance to the own blob was 0.09-0.19
    cfg = toy_config(tmp_path, conditional=True, loss="gan", width=32, batch_size=64,
                     lr_g=2e-3, lr_d=2e-3, beta1=0.5, beta2=0.9, max_steps=STEPS, scalar_every=50,
                     log_every=100, seed=SEED, lr_decay="none")
    trainer = build_trainer(cfg, data, cfg.output)
    trainer.fit()
    z = paddle.randn([200, cfg.latent_dim])
    trainer.G.eval()
    for c in (0, 1):
        cond = paddle.to_tensor(np.eye(2, dtype=np.float32)[np.full(200, c)])
        out = trainer.G(z, cond).numpy()
        own = np.linalg.norm(out - centers[c], axis=1)
        other = np.linalg.norm(out - centers[1 - c], axis=1)
        assert np.median(own) < 0.5 and np.mean(own < other) > 0.95, (c, out.mean(0))


# --------------------------------------------------------------------------- evaluation
def test_point_metrics_protocol_keys_and_values():
    from paddle_gan.data.toy2d import make_target
    from paddle_gan.evaluation.points import point_metrics

    grid = grid_mixture()
    exact, labels = grid.sample(2500, 5)
    real, _ = grid.sample(2500, 6)
    found = point_metrics(exact, grid, real, labels)
    assert found["modes"] == 25 and found["num_modes"] == 25
    assert found["hq_percent"] == pytest.approx(100 * (1 - np.exp(-4.5)), abs=0.6)
    assert found["class_match_percent"] == 100.0
    one_mode = np.repeat(grid.centers[:1], 2500, axis=0).astype(np.float32)
    collapsed = point_metrics(one_mode, grid, real)
    assert collapsed["modes"] == 1 and collapsed["reverse_kl"] == pytest.approx(np.log(25))
    assert found["swd"] < 0.1 * collapsed["swd"]  # sampling noise only, against a collapse
    blobs = make_target("blobs")
    points, _ = blobs.sample(2500, 0)
    dense = point_metrics(points, blobs, blobs.sample(2500, 1)[0])
    assert set(dense) == {"js", "outside_percent", "swd"} and dense["js"] < 0.2


def test_train_and_eval_tools_on_a_ring_run(tmp_path):
    run = str(tmp_path / "ring_run")
    done = run_tool("tools/train.py", "--model", "toy", "--dataset", "ring", "--loss", "wgangp",
                    "--max-steps", "20", "--width", "16", "--num-points", "2000",
                    "--frame-every", "10", "--output", run, "--no-progress")
    assert done.returncode == 0, done.stderr[-2000:]
    assert os.path.exists(os.path.join(run, "samples", "training.gif"))
    out_json = str(tmp_path / "eval.json")
    assert run_tool_main("eval", ["--checkpoint", run, "--num-samples", "2500",
                                  "--json", out_json]) == 0
    doc = json.load(open(out_json))
    assert doc["kind"] == "points" and doc["num_samples"] == 2500
    assert {"modes", "hq_percent", "reverse_kl", "swd"} <= set(doc)
    assert 0 <= doc["modes"] <= 8 and 0.0 <= doc["hq_percent"] <= 100.0
    from paddle_gan.evaluation.points import evaluate_toy_run

    direct = evaluate_toy_run(run)
    assert direct["modes"] == doc["modes"] and direct["hq_percent"] == doc["hq_percent"]


# --------------------------------------------------------------------------- benchmark
def test_benchmark_table_and_target_check(tmp_path):
    from paddle_gan.experiments.toy_benchmark import RunResult, markdown_table, target_reached

    def result(target, loss, seed, modes, hq):
        return RunResult(target, loss, seed, 100, 100, {"modes": modes, "hq_percent": hq,
                                                         "reverse_kl": 0.0}, 1.0, 1.0, "")
    runs = [result("ring", "gan", 0, 8, 96.0), result("ring", "gan", 1, 8, 98.0),
            result("grid", "gan", 0, 25, 95.0), result("grid", "gan", 1, 24, 97.0),
            result("ring", "lsgan", 0, 8, 99.0), result("grid", "lsgan", 0, 25, 96.0)]
    table = markdown_table(runs).splitlines()
    assert table[0] == "| method | ring modes | ring % HQ | grid modes | grid % HQ |"
    # ring HQ 97 +- std(96, 98) = 1.414; grid modes 24.5 +- 0.707
    assert table[2] == "| gan (ours, 2 seeds) | 8.0 ± 0.0 | 97.0 ± 1.4 | 24.5 ± 0.7 | 96.0 ± 1.4 |"
    assert "| PacGAN4 | 7.8 | 95.9 | 24.8 | 93.6 |" in table
    assert target_reached(runs) == ["lsgan"]  # gan's grid mean 24.5 < 24.9


def test_benchmark_run_budget_counts_generator_iterations(tmp_path):
    from paddle_gan.experiments.toy_benchmark import BenchmarkSpec, run_config

    spec = BenchmarkSpec(iterations=7, output=str(tmp_path))
    for loss in LOSSES:
        cfg = run_config(spec, "grid", loss, seed=3)
        assert cfg.max_steps == 7 * cfg.k and cfg.seed == 3 and cfg.dataset == "grid"
        assert cfg.output == str(tmp_path / f"grid_{loss}_s3")


# --------------------------------------------------------------------------- toy trainer
def test_lr_factor_schedules():
    from paddle_gan.train.schedule import lr_factor

    assert [lr_factor("linear", s, 4) for s in range(5)] == [1.0, 0.75, 0.5, 0.25, 0.0]
    assert lr_factor("cosine", 1, 4) == pytest.approx((1 + np.cos(np.pi / 4)) / 2)
    assert lr_factor("cosine", 2, 4) == pytest.approx(0.5)
    assert lr_factor("none", 3, 4) == 1.0


def test_decayed_learning_rates_follow_the_step(tmp_path):
    cfg = toy_config(tmp_path, lr_decay="linear", lr_g=1e-3, lr_d=4e-3, max_steps=4)
    trainer = build_trainer(cfg, prepare_data(cfg), cfg.output)
    trainer.fit()
    # the last step (index 3 of 4) ran at factor 1 - 3/4
    assert trainer.opt_g.get_lr() == pytest.approx(2.5e-4)
    assert trainer.opt_d.get_lr() == pytest.approx(1e-3)


def test_benchmark_reuses_a_finished_run_only_with_the_same_settings(tmp_path):
    import dataclasses

    from paddle_gan.experiments.toy_benchmark import (RESULT_FILE, BenchmarkSpec, _settings, _stored_result,
                                          run_config)

    cfg = run_config(BenchmarkSpec(iterations=7, output=str(tmp_path)), "ring", "gan", seed=0)
    os.makedirs(cfg.output)
    doc = {"target": "ring", "loss": "gan", "seed": 0, "iterations": 7, "steps": 7,
           "metrics": {"modes": 8, "hq_percent": 90.0, "reverse_kl": 0.1}, "cpu_seconds": 1.0,
           "wall_seconds": 2.0, "run_dir": cfg.output, "settings": _settings(cfg)}
    with open(os.path.join(cfg.output, RESULT_FILE), "w") as handle:
        json.dump(doc, handle)
    assert _stored_result(cfg.output, cfg).metrics["hq_percent"] == 90.0
    assert _stored_result(cfg.output, dataclasses.replace(cfg, threads=2)) is not None
    with pytest.raises(UserError, match="other settings"):
        _stored_result(cfg.output, dataclasses.replace(cfg, lr_g=0.5))

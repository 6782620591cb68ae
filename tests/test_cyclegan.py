"""CycleGAN: networks, losses, image pool, LR schedule, unpaired data, training, translation and
evaluation (tiny widths, one residual block, 16-28 px images)."""
import copy
import json
import os

import numpy as np
import paddle
import pytest
from PIL import Image

from conftest import run_tool
from image_bombs import png_header
from paddle_gan import checkpoint as ck
from paddle_gan.config import from_dict, make_config, step_differences
from paddle_gan.data.unpaired import UnpairedBatches, UnpairedData, load_mnist_style
from paddle_gan.errors import UserError
from paddle_gan.metrics.cyclegan import evaluate_translation
from paddle_gan.models import DataSpec
from paddle_gan.models.cyclegan import (PatchDiscriminator, ResnetGenerator, build,
                                        patch_grid)
from paddle_gan.train.cyclegan import (cycle_losses, cyclegan_rows, identity_losses,
                                       linear_decay, make_scheduler)
from paddle_gan.train.image_pool import ImagePool
from paddle_gan.train.run import build_trainer, prepare_data, run_training
from paddle_gan.train.steps import d_step
from paddle_gan.io.translate import load_generators, translate_files
from paddle_gan.viz.cyclegan import sample_rows

TINY = dict(model="cyclegan", width=4, n_blocks=1, batch_size=2, epochs=1, progress=False,
            log_every=1, seed=5)


def cyc_config(tmp_path, **overrides):
    return make_config({**TINY, "output": str(tmp_path / "run"), **overrides})


def write_folder(root, layout):
    """layout: {folder: [(width, height, mode), ...]} -> PNG files with random pixels."""
    rng = np.random.default_rng(0)
    for folder, specs in layout.items():
        os.makedirs(root / folder, exist_ok=True)
        for i, (w, h, mode) in enumerate(specs):
            shape = (h, w, 3) if mode == "RGB" else (h, w)
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(
                root / folder / f"img{i}.png")
    return root


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
    """A 2-step CycleGAN run on a tiny folder data set (images of mixed sizes and modes)."""
    root = write_folder(tmp_path_factory.mktemp("unpaired"), {
        "trainA": [(20, 24, "RGB"), (24, 20, "RGB"), (16, 16, "L"), (33, 17, "RGB")],
        "trainB": [(30, 30, "L"), (18, 22, "RGB"), (40, 40, "RGB")],
        "testA": [(16, 16, "RGB"), (20, 20, "RGB")],
        "testB": [(17, 19, "RGB")],
    })
    cfg = make_config({**TINY, "data_dir": str(root), "image_size": 16, "max_steps": 2,
                       "output": str(root / "run")})
    path = run_training(cfg, say=lambda text: None)
    return cfg, root, path


# ----------------------------------------------------------------------------- networks
@pytest.mark.parametrize("channels", [1, 3])
def test_generator_output_shape_equals_input_shape(channels):
    net = ResnetGenerator(channels, channels, width=4, n_blocks=2)
    x = paddle.rand([2, channels, 16, 20]) * 2 - 1
    y = net(x)
    assert y.shape == [2, channels, 16, 20]
    assert float(y.abs().max()) <= 1.0  # tanh


def test_patchgan_grid_and_70px_receptive_field():
    assert patch_grid(256, 3) == (31, 30)  # the paper's 30x30 grid of 70x70 patches
    assert PatchDiscriminator(3, 4, 3)(paddle.rand([2, 3, 64, 64])).shape == [2, 1, 6, 6]
    assert PatchDiscriminator(1, 4, 2)(paddle.rand([2, 1, 28, 28])).shape == [2, 1, 5, 5]
    # Receptive field: the input pixels one patch score depends on (no norm: instance norm
    # would couple every pixel through its statistics).
    for n_layers, field in ((3, 70), (2, 34)):
        paddle.seed(1)
        net = PatchDiscriminator(1, 2, n_layers, norm="none")
        x = paddle.rand([1, 1, 96, 96])
        x.stop_gradient = False
        out = net(x)
        (grad,) = paddle.grad(out[0, 0, out.shape[2] // 2, out.shape[3] // 2], x)
        rows = np.flatnonzero(np.abs(grad.numpy()[0, 0]).sum(axis=1))
        assert rows[-1] - rows[0] + 1 == field


def test_build_rejects_sizes_the_networks_cannot_take(tmp_path):
    cfg = cyc_config(tmp_path)
    generators, discriminators = build(cfg, DataSpec((1, 28, 28)))
    assert [type(m).__name__ for m in (generators.ab, generators.ba)] == ["ResnetGenerator"] * 2
    assert discriminators.a(paddle.rand([1, 1, 28, 28])).shape == [1, 1, 5, 5]  # d_layers 2
    with pytest.raises(ValueError, match="multiples of 4"):
        build(cfg, DataSpec((1, 30, 30)))
    with pytest.raises(ValueError, match="too small"):
        build(make_config({**TINY, "d_layers": 3}), DataSpec((1, 16, 16)))


# ----------------------------------------------------------------------------- losses
def test_cycle_and_identity_losses_on_hand_made_tensors():
    t = lambda v: paddle.to_tensor(np.array(v, dtype=np.float32))
    real_a, rec_a = t([[0.0, 1.0], [0.5, -1.0]]), t([[0.5, 1.0], [0.5, 0.0]])  # |d| = .5,0,0,1
    real_b, rec_b = t([[1.0, 1.0]]), t([[0.0, 0.5]])  # |d| = 1, .5
    cyc_a, cyc_b = cycle_losses(real_a, rec_a, real_b, rec_b, lambda_cyc=10.0)
    np.testing.assert_allclose([float(cyc_a), float(cyc_b)], [10 * 1.5 / 4, 10 * 1.5 / 2])
    idt_a, idt_b = identity_losses(real_a, rec_a, real_b, rec_b, weight=0.5 * 10.0)
    np.testing.assert_allclose([float(idt_a), float(idt_b)], [5 * 1.5 / 4, 5 * 1.5 / 2])


# ----------------------------------------------------------------------------- pool
def test_image_pool_fills_then_swaps_with_probability_one_half():
    pool = ImagePool(10, (1, 1, 1))
    rng = np.random.default_rng(0)
    ids = lambda k, n: paddle.to_tensor(np.arange(k, k + n, dtype=np.float32).reshape(n, 1, 1, 1))
    first = pool.query(ids(0, 10), rng)  # filling: every image comes back as it is
    np.testing.assert_array_equal(first.numpy().ravel(), np.arange(10))
    assert pool.filled == 10
    stored, returned_old, total = set(range(10)), 0, 0
    for k in range(100, 4100, 8):
        out = pool.query(ids(k, 8), rng).numpy().ravel()
        new = np.arange(k, k + 8)
        for got, sent in zip(out.astype(int), new):  # image by image, as the pool works
            if got != sent:
                assert got in stored  # a swapped-out image was in the pool...
                stored = (stored - {got}) | {sent}  # ...and the new one took its place
                returned_old += 1
        total += 8
        assert pool.filled == 10
    assert sorted(pool.images.numpy().ravel().astype(int)) == sorted(stored)
    assert abs(returned_old / total - 0.5) < 0.03  # 4,000 draws: sd 0.008
    x = paddle.rand([3, 1, 2, 2])
    np.testing.assert_array_equal(ImagePool(0, (1, 2, 2)).query(x, rng).numpy(), x.numpy())


# ----------------------------------------------------------------------------- schedule
def test_learning_rate_is_constant_then_decays_linearly_to_zero(tmp_path):
    factor = linear_decay(2, 3)
    np.testing.assert_allclose([factor(e) for e in range(6)], [1, 1, 0.75, 0.5, 0.25, 0])
    scheduler = make_scheduler(cyc_config(tmp_path, epochs=2, decay_epochs=3), 2e-4)
    lrs = []
    for epoch in range(6):
        scheduler.step(epoch=epoch)
        lrs.append(scheduler.last_lr)
    np.testing.assert_allclose(lrs, [2e-4, 2e-4, 1.5e-4, 1e-4, 0.5e-4, 0.0], atol=1e-12)


# ----------------------------------------------------------------------------- data
def test_mnist_style_domains_are_disjoint_balanced_and_inverted(tmp_path):
    from paddle_gan.data.mnist import load_mnist

    cfg = cyc_config(tmp_path)
    data = load_mnist_style(cfg, "test")
    images, labels, _ = load_mnist("mnist5k", "test")
    assert isinstance(data, UnpairedData) and data.samples.shape == (250, 1, 28, 28)
    np.testing.assert_allclose(data.samples[:, 0], images[0::2] / 255.0, atol=1e-6)
    np.testing.assert_allclose(data.samples_b[:, 0], 1.0 - images[1::2] / 255.0, atol=1e-6)
    np.testing.assert_allclose(data.undo_b(data.samples_b)[:, 0], images[1::2] / 255.0, atol=1e-6)
    assert np.bincount(data.labels).tolist() == [25] * 10 == np.bincount(data.labels_b).tolist()
    assert not data.flip  # flipped digits are other glyphs
    assert load_mnist_style(cyc_config(tmp_path, image_size=16), "test").samples.shape[-1] == 16


def test_unpaired_batches_cover_the_larger_domain_and_flip_only_folder_data():
    a = np.arange(5, dtype=np.float32).reshape(5, 1, 1, 1) * np.ones((1, 1, 1, 2), np.float32)
    b = np.arange(3, dtype=np.float32).reshape(3, 1, 1, 1) * np.ones((1, 1, 1, 2), np.float32)
    b[..., 1] += 0.5  # asymmetric rows, so a flip is visible
    data = UnpairedData(a, None, 0, "t", samples_b=b, flip=True)
    batches = UnpairedBatches(data, 2, seed=1)
    assert len(batches) == 2  # max(5, 3) // 2
    out = list(batches.epoch(0))
    assert [i for i, _, _ in out] == [0, 1]
    assert all(x[0].shape == (2, 1, 1, 2) and x[1].shape == (2, 1, 1, 2) for _, x, _ in out)
    again = list(batches.epoch(0, start=1))
    np.testing.assert_array_equal(again[0][1][1], out[1][1][1])  # resumable mid-epoch
    flipped = np.concatenate([x[1] for _, x, _ in batches.epoch(3)] + [x[1] for _, x, _ in batches.epoch(4)])
    assert (flipped[..., 0] > flipped[..., 1]).any() and (flipped[..., 0] < flipped[..., 1]).any()
    data.flip = False
    unflipped = np.concatenate([x[1] for _, x, _ in batches.epoch(3)])
    assert (unflipped[..., 0] < unflipped[..., 1]).all()


def test_cyclegan_config_defaults_and_validation(tmp_path):
    cfg = make_config({"model": "cyclegan"})
    assert (cfg.dataset, cfg.loss, cfg.k, cfg.d_norm, cfg.width) == ("mnist_style", "lsgan", 1,
                                                                     "instance", 64)
    assert (cfg.lambda_cyc, cfg.lambda_identity, cfg.pool_size, cfg.lr_g, cfg.beta1) == (
        10.0, 0.5, 50, 2e-4, 0.5)
    folder = make_config({"model": "cyclegan", "data_dir": str(tmp_path)})
    assert (folder.dataset, folder.batch_size) == ("unpaired", 1)
    explicit = make_config({"model": "cyclegan", "dataset": "mnist_style", "data_dir": "x"})
    assert (explicit.dataset, explicit.batch_size) == ("mnist_style", 64)
    assert make_config({"model": "cyclegan", "loss": "gan", "k": 2}).loss == "gan"
    assert make_config({"model": "seed"}).dataset == "mnist"  # other models untouched
    for key, value in (("lambda_cyc", -1.0), ("pool_size", -1), ("d_layers", 0)):
        with pytest.raises(UserError, match=key):
            make_config({"model": "cyclegan", key: value})


# ----------------------------------------------------------------------------- training
def test_one_training_run_on_a_tiny_folder_data_set(folder_run):
    cfg, root, path = folder_run
    assert path == ck.checkpoint_path(cfg.output, 2)
    checkpoint = ck.load_checkpoint(path)
    assert checkpoint.meta["kind"] == "cyclegan"
    assert checkpoint.meta["optimizer_extra"]["opt_G"]["LR_Scheduler"]["last_lr"] == pytest.approx(2e-4)
    assert int(checkpoint.arrays["pool_A/count"][0]) == 4  # two steps of two fakes each
    records = [json.loads(line) for line in open(os.path.join(cfg.output, "train_log.jsonl"))]
    assert [r["step"] for r in records] == [1, 2]
    for key in ("d_loss_A", "d_loss_B", "g_adv_AtoB", "g_adv_BtoA", "cycle_A", "cycle_B",
                "identity_A", "identity_B", "g_loss"):
        assert np.isfinite(records[-1][key]), key
    r = records[-1]
    parts = sum(r[k] for k in ("g_adv_AtoB", "g_adv_BtoA", "cycle_A", "cycle_B",
                               "identity_A", "identity_B"))
    assert r["g_loss"] == pytest.approx(parts, rel=1e-5)
    picture = np.asarray(Image.open(os.path.join(cfg.output, "samples", "final.png")))
    assert picture.shape[1] == 6 * 18 + 2  # six 16 px columns with 2 px padding
    # resuming restores both pools and the schedulers
    trainer = build_trainer(cfg, prepare_data(cfg), cfg.output)
    trainer.load(checkpoint)
    assert trainer.pool_a.filled == 4 and trainer.position.step == 2
    np.testing.assert_array_equal(trainer.pool_b.images.numpy(), checkpoint.arrays["pool_B/images"])


def test_resumed_run_matches_the_uninterrupted_one(folder_run, tmp_path):
    """3 + 3 steps with a resume in the middle of the LR decay = 6 steps in one go (pools,
    flips, schedulers and Adam state all continue)."""
    _, root, _ = folder_run
    common = {**TINY, "data_dir": str(root), "image_size": 16, "epochs": 2, "decay_epochs": 1,
              "pool_size": 3}
    say = lambda text: None
    whole = make_config({**common, "output": str(tmp_path / "whole")})
    run_training(whole, say=say)
    split = make_config({**common, "output": str(tmp_path / "split"), "max_steps": 3})
    run_training(split, say=say)
    resumed = make_config({**common, "output": str(tmp_path / "split"), "resume": "latest"})
    run_training(resumed, say=say)
    a = ck.load_checkpoint(ck.checkpoint_path(whole.output, 6)).arrays
    b = ck.load_checkpoint(ck.checkpoint_path(resumed.output, 6)).arrays
    assert set(a) == set(b)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_one_training_step_on_the_built_in_task_moves_every_network(tmp_path):
    cfg = cyc_config(tmp_path, batch_size=4, image_size=16)
    data = prepare_data(cfg)
    trainer = build_trainer(cfg, data, cfg.output)
    before = {k: v.numpy().copy() for k, v in {**trainer.G.state_dict(),
                                               **trainer.D.state_dict()}.items()}
    _, samples, labels = next(trainer.batches.epoch(0))
    stats = trainer.train_step(samples, labels)
    assert all(np.isfinite(float(v)) for v in stats.values())
    for prefix, layer in (("ab", trainer.G.ab), ("ba", trainer.G.ba), ("a", trainer.D.a),
                          ("b", trainer.D.b)):
        name = next(n for n, _ in layer.named_parameters() if n.endswith("weight"))
        assert not np.allclose(before[f"{prefix}.{name}"], layer.state_dict()[name].numpy()), prefix
    rows = cyclegan_rows(trainer, (data.samples[:3], data.samples_b[:3]))
    assert rows.shape == (3 * 18 + 2, 6 * 18 + 2, 3)


def test_each_discriminator_loss_is_halved_and_scores_its_own_domain_s_pool(tmp_path):
    """D's loss = 0.5 * loss(D_A: real a vs pooled F(b)) + 0.5 * loss(D_B: real b vs pooled
    G(a)), computed here from the networks' raw outputs; after the step pool_A holds the fakes
    of domain A (F(b)) and pool_B those of domain B (G(a))."""
    cfg = cyc_config(tmp_path, batch_size=4, image_size=16)
    trainer = build_trainer(cfg, prepare_data(cfg), cfg.output)
    _, samples, labels = next(trainer.batches.epoch(0))
    batch = trainer.to_batch(samples, labels)
    nets, objective = trainer.nets, trainer.objective
    with paddle.no_grad():
        fake_b, fake_a = objective.fakes(nets, trainer.runtime, batch)
        expected = {}
        for name, critic, real, fake in (("A", trainer.D.a, batch.real_a, fake_a),
                                         ("B", trainer.D.b, batch.real_b, fake_b)):
            out = copy.deepcopy(critic)(paddle.concat([real, fake]))  # one batch, as the step
            expected[name] = 0.5 * float(trainer.loss.d_loss(out[:4], out[4:]))
    stats = d_step(nets, objective, trainer.runtime, batch, fakes=(fake_b, fake_a))
    np.testing.assert_allclose(float(stats["d_loss_A"]), expected["A"], rtol=1e-5)
    np.testing.assert_allclose(float(stats["d_loss_B"]), expected["B"], rtol=1e-5)
    np.testing.assert_allclose(float(stats["d_loss"]), expected["A"] + expected["B"], rtol=1e-5)
    assert trainer.pool_a.filled == trainer.pool_b.filled == 4
    np.testing.assert_array_equal(trainer.pool_a.images.numpy()[:4], fake_a.numpy())
    np.testing.assert_array_equal(trainer.pool_b.images.numpy()[:4], fake_b.numpy())


# ----------------------------------------------------------------------------- translate
def test_translate_writes_one_output_per_input(folder_run, tmp_path):
    cfg, root, _ = folder_run
    out = tmp_path / "out"
    result = run_tool("tools/translate.py", "--checkpoint", cfg.output, "--input",
                      str(root / "trainA"), "--direction", "BtoA", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(out)) == [f"img{i}.png" for i in range(4)]
    assert Image.open(out / "img3.png").size == (16, 16)
    single = translate_files(cfg.output, str(root / "testB" / "img0.png"), "AtoB",
                             str(tmp_path / "one"), say=lambda text: None)
    assert [os.path.basename(p) for p in single] == ["img0.png"]
    with pytest.raises(UserError, match="no such file"):
        translate_files(cfg.output, str(root / "nothing"), "AtoB", str(out))
    picture = sample_rows(cfg.output, count=4, warn=lambda text: None)  # plot_samples' hook
    assert picture.shape[:2] == (1 * 18 + 2, 6 * 18 + 2)  # testB has one image: one row


def test_translate_refuses_an_image_too_large_to_decode(folder_run, tmp_path):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header(6000, 3000))
    cfg, _, _ = folder_run
    with pytest.raises(UserError, match="is 6000x3000 pixels, more than the 4096x4096"):
        translate_files(cfg.output, str(bomb), "AtoB", str(tmp_path / "out"),
                        say=lambda text: None)


def test_eval_tool_scores_a_folder_run_by_cycle_l1(folder_run):
    from paddle_gan.evaluation import EvalOptions, evaluate

    cfg, _, _ = folder_run
    result, ctx = evaluate(cfg.output, EvalOptions(), say=lambda text: None)
    assert ctx.kind == "cyclegan"
    assert set(result.metrics) == {"cycle_l1_A", "cycle_l1_B", "cycle_l1"}  # no Inception here
    _, generators = load_generators(cfg.output, warn=lambda text: None)
    test = prepare_data(cfg, "test")
    for images, there, back, key in ((test.samples, "AtoB", "BtoA", "cycle_l1_A"),
                                     (test.samples_b, "BtoA", "AtoB", "cycle_l1_B")):
        cycled = generators.translate(generators.translate(images, there), back)
        assert result.metrics[key] == pytest.approx(float(np.abs(cycled - images).mean()),
                                                    rel=1e-5), key
    assert result.metrics["cycle_l1"] == pytest.approx(  # 2 A and 1 B test images
        (2 * result.metrics["cycle_l1_A"] + result.metrics["cycle_l1_B"]) / 3)


# ----------------------------------------------------------------------------- errors
def one_line_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_bad_folders_give_one_line_errors_and_exit_2(tmp_path):
    root = write_folder(tmp_path / "data", {"trainA": [(16, 16, "RGB")], "trainB": [(16, 16, "RGB")]})
    (root / "trainB" / "broken.png").write_bytes(b"not a png")
    result = run_tool("tools/train.py", "--model", "cyclegan", "--data-dir", str(root),
                      "--output", str(tmp_path / "run"), "--no-progress")
    one_line_error(result, "cannot read image", "broken.png")
    # the other cases in process (the same UserError -> one line, exit 2 path)
    with pytest.raises(UserError, match="missing: no such folder"):
        prepare_data(cyc_config(tmp_path, data_dir=str(tmp_path / "missing")))
    empty = write_folder(tmp_path / "empty", {"trainA": [(16, 16, "RGB")]})
    os.makedirs(empty / "trainB")
    with pytest.raises(UserError, match="trainB holds no images"):
        prepare_data(cyc_config(tmp_path, data_dir=str(empty)))
    with pytest.raises(UserError, match="no testA/ folder"):
        prepare_data(cyc_config(tmp_path, data_dir=str(root)), "test")
    with pytest.raises(UserError, match="two-domain data"):
        build_trainer(cyc_config(tmp_path, dataset="mnist5k", image_size=16),
                      prepare_data(cyc_config(tmp_path, dataset="mnist5k", image_size=16)),
                      str(tmp_path / "x"))


# ----------------------------------------------------------------------------- evaluation
class FakeTranslator:
    """translate() from functions, to test the metrics without training."""

    def __init__(self, ab, ba):
        self.fns = {"AtoB": ab, "BtoA": ba}

    def translate(self, images, direction, batch_size=64):
        return self.fns[direction](images)


def stub_data():
    """Digit d drawn as a bright pixel in column d; domain B inverted."""
    labels = np.arange(20) % 10
    images = np.zeros((20, 1, 4, 10), np.float32)
    images[np.arange(20), 0, 1, labels] = 1.0
    return UnpairedData(images[:10], labels[:10], 10, "stub", samples_b=1.0 - images[10:],
                        labels_b=labels[10:], style_b="inverted")


def stub_classify(images):
    scores = images[:, 0].sum(axis=1)  # [N, 10] column brightness
    return np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)


def test_evaluation_with_a_stub_classifier():
    data = stub_data()
    invert = lambda x: 1.0 - x
    perfect = evaluate_translation(FakeTranslator(invert, invert), data, stub_classify,
                                   lambda x: x.reshape(len(x), -1)[:, 10:20] + 0.01 * np.arange(10))
    assert perfect["cycle_l1"] == 0.0 and perfect["digit_preservation"] == 1.0
    assert perfect["classifier_accuracy_real"] == 1.0
    assert abs(perfect["fid_AtoB"]) < 1e-3 and abs(perfect["fid_BtoA"]) < 1e-3  # same digits
    # A->B draws every digit as "3"; B->A is perfect: half the digits (1 of 10 in A) survive.
    three = np.zeros((1, 1, 4, 10), np.float32)
    three[0, 0, 1, 3] = 1.0
    broken = FakeTranslator(lambda x: np.repeat(1.0 - three, len(x), 0), invert)
    out = evaluate_translation(broken, data, stub_classify)
    assert out["digit_preservation_AtoB"] == pytest.approx(0.1)
    assert out["digit_preservation_BtoA"] == 1.0
    assert out["digit_preservation"] == pytest.approx(11 / 20)
    # F(G(a)) is the '3' image for every a: it differs from a in 2 of 40 pixels unless a is a 3
    assert out["cycle_l1_A"] == pytest.approx((9 * 2 / 40) / 10)
    # G(F(b)) is that '3' too (inverted): the same error on B's side
    assert out["cycle_l1_B"] == pytest.approx((9 * 2 / 40) / 10)
    assert out["cycle_l1"] == pytest.approx(0.045)


def test_plot_samples_draws_cyclegan_rows(tmp_path):
    """tools/plot_samples.py on a CycleGAN run draws the a | G(a) | F(G(a)) | b | ... rows."""
    from PIL import Image

    from conftest import run_tool

    run = tmp_path / "cyc"
    trained = run_tool("tools/train.py", "--model", "cyclegan", "--width", "4", "--n-blocks", "1",
                       "--batch-size", "8", "--max-steps", "1", "--output", str(run),
                       "--no-progress")
    assert trained.returncode == 0, trained.stderr
    out = tmp_path / "rows.png"
    plotted = run_tool("tools/plot_samples.py", "--checkpoint", str(run), "--out", str(out),
                       "--n", "3")
    assert plotted.returncode == 0, plotted.stderr
    width, height = Image.open(out).size
    assert abs(width / height - 6 / 3) < 0.15  # six images side by side per row, three rows


@pytest.mark.parametrize("flag, value, shown", [
    ("lambda_cyc", 5.0, "lambda_cyc: 10.0 -> 5.0"),
    ("lambda_identity", 0.0, "lambda_identity: 0.5 -> 0.0"),
    ("decay_epochs", 3, "decay_epochs: 1 \\(unset: epochs\\) -> 3"),
])
def test_resume_refuses_another_cycle_setting_unless_allowed(folder_run, flag, value, shown):
    """Each CycleGAN weight and the LR decay change what the next step computes: --resume
    names the change and the flag that allows it."""
    cfg, root, _ = folder_run
    changed = make_config({**TINY, "data_dir": str(root), "image_size": 16, "max_steps": 2,
                           "output": cfg.output, "resume": "latest", flag: value})
    with pytest.raises(UserError, match=f"with other settings \\({shown}\\); pass "
                                        f"--allow-change {flag}"):
        run_training(changed, say=lambda text: None)


def test_resume_refuses_another_epochs_that_moves_the_derived_decay(folder_run):
    """decay_epochs unset is as many as epochs: another --epochs on resume would change the
    learning-rate schedule without a word. It is refused, naming decay_epochs, how to allow it
    and how to keep the stored schedule; both of those resume."""
    cfg, root, _ = folder_run
    changed = {**TINY, "data_dir": str(root), "image_size": 16, "max_steps": 2,
               "output": cfg.output, "resume": "latest", "epochs": 4}
    with pytest.raises(UserError) as info:
        run_training(make_config(changed), say=lambda text: None)
    assert ("with other settings (decay_epochs: 1 (unset: epochs) -> 4 (unset: epochs)); pass "
            "--allow-change decay_epochs if that is intended, or give --decay-epochs 1 to keep "
            "the learning-rate schedule") in str(info.value)
    with open(os.path.join(cfg.output, "config.json"), encoding="utf-8") as handle:
        stored = from_dict(json.load(handle))
    for allowed in ({"allow_change": "decay_epochs"}, {"decay_epochs": 1}):
        assert step_differences(stored, make_config({**changed, **allowed})) == []


def test_resume_reports_another_pool_size_as_a_changed_setting(folder_run):
    """The history pools' buffers have the pool's size: another size is a changed setting of
    the run (never a damaged checkpoint to skip), and it cannot be allowed."""
    cfg, root, _ = folder_run
    warnings = []
    changed = make_config({**TINY, "data_dir": str(root), "image_size": 16, "max_steps": 2,
                           "output": cfg.output, "resume": "latest", "pool_size": 7})
    with pytest.raises(UserError, match=r"made with other settings \(pool_size: 50 -> 7\)"):
        run_training(changed, say=warnings.append)
    assert not [w for w in warnings if "damaged" in w]
    with pytest.raises(UserError, match="pool_size cannot change on resume"):
        make_config({**TINY, "allow_change": "pool_size"})


def test_a_16_bit_image_is_scaled_not_clipped_to_white(tmp_path):
    """Pillow's convert("RGB") clips 16-bit pixels to 255: a dark ramp became all white."""
    from paddle_gan.data.unpaired import read_image

    ramp = (np.arange(32 * 32).reshape(32, 32) * 16).astype(np.uint16)  # 0..16368 of 65535
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    pixels = read_image(str(tmp_path / "deep.png"), 16)
    assert pixels.shape == (3, 16, 16)
    assert 0.0 <= pixels.min() < 0.05 and 0.2 < pixels.max() < 0.26

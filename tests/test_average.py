"""The generator's weight average (--g-ema): its update by hand, and where it is used."""
import numpy as np
import pytest

from paddle_gan import checkpoint as ck
from paddle_gan.io.runs import build_generator, load_run
from paddle_gan.train.average import ema_decay
from paddle_gan.train.run import build_trainer, prepare_data, run_training


def test_decay_warms_up_then_holds():
    assert ema_decay(0.999, 1) == pytest.approx(2 / 11)
    assert ema_decay(0.999, 90) == pytest.approx(91 / 100)
    assert ema_decay(0.999, 100_000) == 0.999


def test_average_follows_each_g_step_by_hand(make_tiny_config):
    cfg = make_tiny_config(g_ema=0.9, k=1, max_steps=3)
    trainer = build_trainer(cfg, prepare_data(cfg), cfg.output)
    trainable = [i for i, p in enumerate(trainer.G.parameters()) if p.trainable]
    expected = [p.numpy().copy() for p in trainer.G.parameters()]
    batches = trainer.batches.epoch(0)
    for update in (1, 2, 3):
        _, samples, labels = next(batches)
        trainer.train_step(samples, labels)
        trainer.position.step += 1
        d = ema_decay(0.9, update)
        current = [p.numpy() for p in trainer.G.parameters()]
        for i in trainable:
            expected[i] = d * expected[i] + (1 - d) * current[i]
        for i, (got, want) in enumerate(zip(trainer.average.average.parameters(), expected)):
            want = want if i in trainable else current[i]  # running statistics: copied
            np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6)
    assert trainer.sampler is trainer.average.average


def test_samples_evaluation_and_export_use_the_average(make_tiny_config):
    cfg = make_tiny_config(g_ema=0.5, k=1, max_steps=4)
    path = run_training(cfg)
    stored = ck.load_checkpoint(path)
    assert "G_ema" in stored.meta["modules"] and stored.meta["g_ema_updates"] == 4
    run = load_run(cfg.output, warn=lambda _: None)
    generator = build_generator(run, prepare_data(cfg))
    averaged = {k[len("G_ema/"):]: v for k, v in stored.arrays.items() if k.startswith("G_ema/")}
    raw = {k[len("G/"):]: v for k, v in stored.arrays.items() if k.startswith("G/")}
    for name, value in generator.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), averaged[name])
    assert any(not np.array_equal(averaged[k], raw[k]) for k in raw)


def test_resume_with_the_average_is_exact(make_tiny_config, tmp_path):
    full = make_tiny_config(g_ema=0.9, k=1, max_steps=6, output=str(tmp_path / "a"))
    run_training(full)
    part = make_tiny_config(g_ema=0.9, k=1, max_steps=3, output=str(tmp_path / "b"))
    run_training(part)
    rest = make_tiny_config(g_ema=0.9, k=1, max_steps=6, output=str(tmp_path / "b"),
                            resume="latest")
    run_training(rest)
    a = ck.load_checkpoint(ck.checkpoint_path(str(tmp_path / "a"), 6)).arrays
    b = ck.load_checkpoint(ck.checkpoint_path(str(tmp_path / "b"), 6)).arrays
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)

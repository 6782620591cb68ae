"""A few real training steps of the seed model for every loss, on the embedded MNIST subset."""
import glob
import hashlib
import json
import os
import signal

import numpy as np
import pytest

from paddle_gan import checkpoint as ck
from paddle_gan.errors import RunFailure, UserError
from paddle_gan.losses import LOSSES
from paddle_gan.train.gan import Interrupted
from paddle_gan.train.run import build_trainer, prepare_data, run_training
from paddle_gan.train.steps import discriminate


def read_scalars(run_dir, tag):
    from visualdl import LogReader

    (path,) = glob.glob(os.path.join(run_dir, "vdl", "vdlrecords.*"))
    return [(r.id, r.value) for r in LogReader(file_path=path).get_data("scalar", tag)]


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_every_loss_trains_a_few_steps(make_tiny_config, loss, capsys):
    cfg = make_tiny_config(loss=loss)
    path = run_training(cfg)
    run = cfg.output
    steps = [s for s, _ in read_scalars(run, "d_loss")]
    assert steps == list(range(1, 7))  # the global step advances every D step
    values = [v for _, v in read_scalars(run, "d_loss")] + [v for _, v in read_scalars(run, "g_loss")]
    assert all(np.isfinite(values))
    tags = {"real_score", "fake_score"} | ({"gp", "wasserstein"} if loss == "wgangp" else set())
    for tag in tags:
        assert len(read_scalars(run, tag)) == 6, tag
    assert os.path.getsize(os.path.join(run, "samples", "final.png")) > 1000
    assert path == ck.checkpoint_path(run, 6) and os.path.exists(path)
    assert os.path.exists(os.path.join(run, "generator.pdparams"))
    records = [json.loads(line) for line in open(os.path.join(run, "train_log.jsonl"))]
    assert [r["step"] for r in records] == [2, 4, 6]
    summary = [line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch 0 batch 6 step 6: ")]
    assert len(summary) == 1 and "d_loss " in summary[0] and "real_score " in summary[0]


def test_joint_batch_lets_a_batch_norm_discriminator_see_batch_statistics(make_tiny_config):
    """Separate passes (the tutorial's code): BN after D's unpadded first conv normalises each batch
    by itself, so a whole batch brightened and contrast-changed (2x + 0.5) gets exactly the same
    scores: D cannot see that all fakes are too bright. In the joint pass it can."""
    import paddle

    cfg = make_tiny_config(d_batches="separate", d_norm="batch")
    trainer = build_trainer(cfg, prepare_data(cfg), cfg.output)
    real = paddle.to_tensor(trainer.data.samples[:16])
    shifted = real * 2.0 + 0.5
    settings = trainer.settings
    sep_real, sep_shifted = discriminate(trainer.D, real, shifted, None, settings, joint=False)
    np.testing.assert_allclose(sep_real.numpy(), sep_shifted.numpy(), rtol=1e-3, atol=1e-3)
    joint_real, joint_shifted = discriminate(trainer.D, real, shifted, None, settings, joint=True)
    assert np.abs(joint_real.numpy() - joint_shifted.numpy()).max() > 0.1


def test_wgangp_penalty_changes_the_critic_update(make_tiny_config):
    """The penalty reaches D: lambda 0 and lambda 10 give different critics after one step."""
    results = []
    for lam in (0.0, 10.0):
        cfg = make_tiny_config(loss="wgangp", gp_lambda=lam, max_steps=1, output=None)
        cfg.output = make_tiny_config().output + f"_{lam}"
        trainer = build_trainer(cfg, prepare_data(cfg), cfg.output)
        trainer.fit()
        results.append(np.concatenate([p.numpy().ravel() for p in trainer.D.parameters()]))
    assert not np.allclose(results[0], results[1])


def params(trainer):
    return {f"{k}/{n}": v.numpy() for k, m in trainer.modules().items()
            for n, v in m.state_dict().items()}


def test_resume_after_n_steps_equals_uninterrupted_2n(make_tiny_config, tmp_path):
    """Bitwise: N steps + save + a fresh process-like rebuild + N steps == 2N straight."""
    straight = make_tiny_config(loss="gan", max_steps=8, k=3, output=str(tmp_path / "a"))
    run_training(straight)
    half = make_tiny_config(loss="gan", max_steps=4, k=3, output=str(tmp_path / "b"))
    run_training(half)
    resumed = make_tiny_config(loss="gan", max_steps=8, k=3, output=str(tmp_path / "b"),
                               resume="latest")
    run_training(resumed)
    a = ck.load_checkpoint(ck.checkpoint_path(str(tmp_path / "a"), 8)).arrays
    b = ck.load_checkpoint(ck.checkpoint_path(str(tmp_path / "b"), 8)).arrays
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def file_hashes(folder):
    """sha256 of every file under `folder`, by relative path."""
    out = {}
    for path in glob.glob(os.path.join(folder, "**"), recursive=True):
        if os.path.isfile(path):
            with open(path, "rb") as handle:
                out[os.path.relpath(path, folder)] = hashlib.sha256(handle.read()).hexdigest()
    return out


def test_resume_refuses_another_decay_horizon_unless_allowed(make_tiny_config, lr_factor_calls):
    """A decaying learning rate falls to 0 over the run's total steps: a resume to another
    max_steps would move the schedule without a word. It is refused (one line, nothing
    written), naming the horizon, --allow-change lr_horizon and how to keep the schedule;
    allowed, the steps decay over the new horizon."""
    run_training(make_tiny_config(lr_decay="linear", max_steps=2), say=lambda text: None)
    output = make_tiny_config().output
    before = file_hashes(output)
    with pytest.raises(UserError) as info:
        run_training(make_tiny_config(lr_decay="linear", max_steps=4, resume="latest"),
                     say=lambda text: None)
    assert str(info.value) == (
        f"cannot resume {ck.checkpoint_path(output, 2)} with other settings (lr_horizon: 2 -> 4 "
        f"steps of linear decay (max_steps: 2 -> 4)); pass --allow-change lr_horizon if that is "
        f"intended, or give --max-steps 2 to keep the learning-rate schedule")
    assert file_hashes(output) == before
    lr_factor_calls.clear()
    run_training(make_tiny_config(lr_decay="linear", max_steps=4, resume="latest",
                                  allow_change="lr_horizon"), say=lambda text: None)
    assert lr_factor_calls == [(2, 4), (3, 4)]
    assert ck.load_checkpoint(ck.checkpoint_path(output, 4)).step == 4


def test_resume_to_a_longer_run_without_decay_says_nothing(make_tiny_config):
    """lr_decay none: the rates never follow the horizon, so another max_steps stays allowed."""
    run_training(make_tiny_config(max_steps=2), say=lambda text: None)
    said = []
    run_training(make_tiny_config(max_steps=4, resume="latest"), say=said.append)
    assert not [line for line in said if "lr_horizon" in line or "other settings" in line]
    assert ck.load_checkpoint(ck.checkpoint_path(make_tiny_config().output, 4)).step == 4


def test_resume_of_a_decaying_run_to_the_same_max_steps_is_exact(make_tiny_config, tmp_path):
    """Bitwise: a decaying run resumed from its middle checkpoint to the same max_steps equals
    the run straight through (the horizon, and so every step's learning rate, is the same)."""
    settings = dict(lr_decay="linear", max_steps=6, k=1, save_every_steps=3)
    run_training(make_tiny_config(**settings, output=str(tmp_path / "a")), say=lambda text: None)
    cut = str(tmp_path / "b")
    run_training(make_tiny_config(**settings, output=cut), say=lambda text: None)
    os.remove(ck.checkpoint_path(cut, 6))  # as if killed after step 3's checkpoint
    run_training(make_tiny_config(**settings, output=cut, resume="latest"), say=lambda text: None)
    a = ck.load_checkpoint(ck.checkpoint_path(str(tmp_path / "a"), 6)).arrays
    b = ck.load_checkpoint(ck.checkpoint_path(cut, 6)).arrays
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_resume_refuses_a_changed_loss_and_fresh_run_refuses_existing_checkpoints(make_tiny_config):
    run_training(make_tiny_config(max_steps=2))
    with pytest.raises(UserError, match=r"loss: 'gan' -> 'lsgan'"):
        run_training(make_tiny_config(max_steps=4, loss="lsgan", resume="latest"))
    with pytest.raises(UserError, match="already holds checkpoints"):
        run_training(make_tiny_config(max_steps=4))


def test_same_seed_same_samples(make_tiny_config, tmp_path):
    outs = []
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        cfg = make_tiny_config(max_steps=3, seed=seed, output=str(tmp_path / name))
        trainer = build_trainer(cfg, prepare_data(cfg), cfg.output)
        trainer.fit()
        outs.append(trainer.sample_fixed(4))
    np.testing.assert_array_equal(outs[0], outs[1])
    assert not np.allclose(outs[0], outs[2])


def test_non_finite_loss_stops_cleanly_keeping_the_last_good_checkpoint(make_tiny_config):
    cfg = make_tiny_config(max_steps=2)
    run_training(cfg)
    good = ck.checkpoint_path(cfg.output, 2)
    before = open(good, "rb").read()
    cfg2 = make_tiny_config(max_steps=40, resume="latest", loss="lsgan", allow_change="lr_d,lr_g")
    # rates that diverge at once; set past validation, which refuses rates above 1 as bad input
    cfg2.loss, cfg2.lr_d, cfg2.lr_g = "gan", 1e12, 1e12
    with pytest.raises(RunFailure, match=r"non-finite loss at step \d+.*step_00000002") as info:
        run_training(cfg2)
    assert "\n" not in str(info.value)
    assert open(good, "rb").read() == before
    assert [os.path.basename(p) for p in ck.list_checkpoints(cfg.output)] == ["step_00000002.npz"]


def test_sigint_saves_at_the_step_boundary(make_tiny_config):
    cfg = make_tiny_config(max_steps=50)
    trainer = build_trainer(cfg, prepare_data(cfg), cfg.output)
    original = trainer.train_step

    def step_then_interrupt(samples, labels):
        out = original(samples, labels)
        if trainer.position.step == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return out

    trainer.train_step = step_then_interrupt
    handler_before = signal.getsignal(signal.SIGINT)
    with pytest.raises(Interrupted) as info:
        trainer.fit()
    assert info.value.exit_code == 130
    assert info.value.path == ck.checkpoint_path(cfg.output, 3)
    assert ck.load_checkpoint(info.value.path).meta["batch"] == 3
    assert signal.getsignal(signal.SIGINT) is handler_before  # the trainer's handler is gone

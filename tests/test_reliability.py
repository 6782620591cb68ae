"""Nothing lost, nothing executed: exact resume after SIGKILL, interrupts, the NaN stop,
the corrupt-newest fallback, failing writes, and pickles that are never opened untrusted.

The command-line tests run tools/train.py as a user does (subprocesses, the seed model at width 4
on the embedded MNIST subset); independent runs start concurrently to keep the file fast.
"""
import errno
import hashlib
import os
import pickle
import random
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import paddle
import pytest

from conftest import ROOT, tiny_config
from inprocess_tools import run_tool_main
from paddle_gan import checkpoint as ck
from paddle_gan.errors import RunFailure, UserError
from paddle_gan.io.init_weights import init_from
from paddle_gan.models.seed import PixelShuffleGenerator, StridedDiscriminator
from paddle_gan.train.run import build_trainer, prepare_data, run_training

TOTAL = 24  # 2N steps; checkpoints every 4 steps
BASE = ["--dataset", "mnist5k", "--width", "4", "--batch-size", "8", "--k", "2", "--seed", "5",
        "--save-every-steps", "4", "--keep-checkpoints", "3", "--log-every", "1", "--no-progress"]
ENV = {**os.environ, "PYTHONWARNINGS": "ignore"}


def train_cmd(out, *extra):
    return [sys.executable, "tools/train.py", *BASE, "--output", str(out), *extra]


def start(out, *extra, **kwargs):
    return subprocess.Popen(train_cmd(out, *extra), cwd=ROOT, env=ENV, text=True, **kwargs)


def run(out, *extra, timeout=240):
    return subprocess.run(train_cmd(out, *extra), cwd=ROOT, env=ENV, text=True,
                          capture_output=True, timeout=timeout)


def watchdog(proc, seconds=240):
    """Kill `proc` if the test hangs (no pytest-timeout here)."""
    timer = threading.Timer(seconds, proc.kill)
    timer.daemon = True
    timer.start()
    return timer


def stderr_lines(text):
    return [line for line in text.splitlines() if line.strip()]


def sha256_tree(folder, only=lambda rel: True):
    out = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            rel = os.path.relpath(path, folder)
            if only(rel):
                with open(path, "rb") as handle:
                    out[rel] = hashlib.sha256(handle.read()).hexdigest()
    return out


def precious(rel):
    """The files a failure must never touch: checkpoints and the tutorial weights."""
    return rel.startswith("checkpoints") or rel.endswith(".pdparams")


def assert_same_arrays(path_a, path_b):
    a, b = ck.load_checkpoint(path_a), ck.load_checkpoint(path_b)
    assert a.arrays.keys() == b.arrays.keys()
    for key in a.arrays:
        np.testing.assert_array_equal(a.arrays[key], b.arrays[key], err_msg=key)
    for key in ("step", "epoch", "batch"):
        assert a.meta[key] == b.meta[key], key


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The reference run (2N steps straight) and a run SIGKILLed at a random step after its first
    checkpoint, started together."""
    base = tmp_path_factory.mktemp("runs")
    reference, killed = base / "reference", base / "killed"
    # a random step after the first checkpoint (step 4), leaving the run a few steps to go
    kill_step = random.Random(time.time_ns()).randint(5, TOTAL - 6)
    print(f"SIGKILL at step {kill_step}")  # shown when a test fails
    ref_log = open(base / "reference.log", "w")
    ref = start(reference, "--max-steps", str(TOTAL), stdout=ref_log, stderr=subprocess.STDOUT)
    victim = start(killed, "--max-steps", str(TOTAL), stdout=subprocess.PIPE,
                   stderr=subprocess.DEVNULL, bufsize=1)
    timers = [watchdog(ref), watchdog(victim)]
    seen = []
    for line in victim.stdout:  # the summary line of every step, flushed as it is printed
        seen.append(line)
        if f" step {kill_step}:" in line:
            victim.send_signal(signal.SIGKILL)
            break
    victim.wait()
    ref.wait()
    ref_log.close()
    for timer in timers:
        timer.cancel()
    assert victim.returncode == -signal.SIGKILL, ("the run ended before the kill", seen[-3:])
    assert ref.returncode == 0, (base / "reference.log").read_text()[-2000:]
    return {"reference": reference, "killed": killed, "kill_step": kill_step}


def test_sigkill_then_resume_is_bitwise_identical(runs):
    killed, kill_step = runs["killed"], runs["kill_step"]
    print(f"killed at step {kill_step}")
    newest = ck.load_latest(str(killed), warn=lambda msg: None)
    assert newest is not None and 4 <= newest.step < TOTAL, kill_step
    proc = run(killed, "--max-steps", str(TOTAL), "--resume")
    assert proc.returncode == 0, proc.stderr
    assert f"resumed from {newest.path} at step {newest.step}" in proc.stdout
    assert_same_arrays(ck.checkpoint_path(str(runs["reference"]), TOTAL),
                       ck.checkpoint_path(str(killed), TOTAL))
    assert not [n for n in os.listdir(killed / "checkpoints") if n.startswith(".tmp-")]


def test_corrupt_newest_checkpoint_falls_back_through_the_cli(runs, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(runs["reference"], run_dir)
    newest = ck.checkpoint_path(str(run_dir), TOTAL)
    with open(newest, "r+b") as handle:
        handle.truncate(1000)
    proc = run(run_dir, "--max-steps", str(TOTAL), "--resume")
    assert proc.returncode == 0, proc.stderr
    warning = [line for line in proc.stdout.splitlines() if "damaged" in line]
    assert len(warning) == 1 and "step_00000024.npz" in warning[0]
    assert f"resumed from {ck.checkpoint_path(str(run_dir), 20)} at step 20" in proc.stdout
    # the redone steps rebuild the damaged checkpoint exactly
    assert_same_arrays(ck.checkpoint_path(str(runs["reference"]), TOTAL), newest)


def test_nan_stop_through_the_cli_overwrites_nothing(runs, tmp_path):
    """D's weights at 1e38 (finite in float32, as a diverging run leaves them) overflow in the
    first forward: the run stops at that step. (Learning rates above 1 that would diverge
    quickly are refused as bad input.)"""
    from checkpoint_edits import array_edit, is_d_weight, rewrite

    run_dir = tmp_path / "run"
    shutil.copytree(runs["reference"], run_dir)
    rewrite(ck.checkpoint_path(str(run_dir), TOTAL),
            array_edit(is_d_weight, lambda a: np.full_like(a, 1e38)))
    before = sha256_tree(run_dir, precious)
    proc = run(run_dir, "--max-steps", "64", "--resume", "--allow-change", "lr_horizon")
    assert proc.returncode == 1, proc.stderr
    lines = stderr_lines(proc.stderr)
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "non-finite" in lines[0] and "at step" in lines[0]
    assert f"Last good checkpoint: {ck.checkpoint_path(str(run_dir), TOTAL)}" in lines[0]
    assert "Hint: lower --lr-d/--lr-g" in lines[0]
    assert sha256_tree(run_dir, precious) == before


def test_sigint_and_sigterm_save_and_exit_130_143(tmp_path):
    procs = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        procs[sig] = start(tmp_path / sig.name, "--max-steps", "100000", stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, bufsize=1)
    timers = [watchdog(p) for p in procs.values()]
    for sig, proc in procs.items():
        for line in proc.stdout:
            if " step 3:" in line:  # training runs (and the handler is installed)
                proc.send_signal(sig)
                break
    for (sig, proc), code in zip(procs.items(), (130, 143)):
        out, err = proc.communicate()
        assert proc.returncode == code, (sig, err)
        lines = stderr_lines(err)
        assert len(lines) == 1 and "interrupted: saved " in lines[0], err
        path = lines[0].split("interrupted: saved ", 1)[1].strip()
        assert os.path.dirname(path) == str(tmp_path / sig.name / "checkpoints")
        saved = ck.load_checkpoint(path)
        assert saved.step >= 3 and saved.meta["batch"] == saved.step
        assert f"saved {path}" in out
    for timer in timers:
        timer.cancel()


# ----------------------------------------------------------------------------- in-process
@pytest.fixture
def trainer(tmp_path):
    cfg = tiny_config(tmp_path, width=4, max_steps=2)
    trainer = build_trainer(cfg, prepare_data(cfg), cfg.output)
    trainer.fit()
    return trainer


def test_failing_write_keeps_previous_files_and_says_one_line(trainer, monkeypatch):
    run_dir = trainer.run_dir
    before = sha256_tree(run_dir, precious)

    def disk_full(handle, **arrays):
        handle.write(b"partial zip data")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(ck.np, "savez", disk_full)
    trainer.position.step += 1
    with pytest.raises(RunFailure) as info:
        trainer.save()
    message = str(info.value)
    assert "\n" not in message and "No space left on device" in message
    assert "step_00000003.npz" in message and "last good checkpoint" in message
    assert "step_00000002.npz" in message
    assert sha256_tree(run_dir, precious) == before
    assert sorted(os.listdir(os.path.join(run_dir, "checkpoints"))) == ["step_00000002.npz"]


def test_failing_tutorial_weights_write_keeps_the_old_file(trainer, monkeypatch):
    before = sha256_tree(trainer.run_dir, lambda rel: rel.endswith(".pdparams"))

    def eio(obj, path, *args, **kwargs):
        open(path, "wb").write(b"half")
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(ck.paddle, "save", eio)
    with pytest.raises(RunFailure, match="generator.pdparams: Input/output error"):
        ck.save_tutorial_weights(trainer.run_dir, trainer.G, trainer.D)
    assert sha256_tree(trainer.run_dir, lambda rel: rel.endswith(".pdparams")) == before
    assert not [n for n in os.listdir(trainer.run_dir) if n.endswith(".tmp")]


def test_nan_weights_are_never_written(trainer):
    before = sha256_tree(trainer.run_dir, precious)
    param = trainer.D.parameters()[0]
    param.set_value(np.full(param.shape, np.nan, dtype=np.float32))
    trainer.position.step += 1
    with pytest.raises(RunFailure) as info:
        trainer.save()
    message = str(info.value)
    assert "\n" not in message and "non-finite weights at step 3" in message
    assert "D/" in message and "step_00000002.npz" in message
    assert sha256_tree(trainer.run_dir, precious) == before


def test_prune_spares_best_the_resumed_one_and_removes_stale_temp_files(tmp_path):
    g = PixelShuffleGenerator(4)
    run_dir = str(tmp_path)
    for step in range(1, 6):
        ck.save_checkpoint(ck.checkpoint_path(run_dir, step), {"G": g}, {}, {"step": step})
    best = os.path.join(run_dir, "checkpoints", "best.npz")
    ck.save_checkpoint(best, {"G": g}, {}, {"step": 2})
    stale = os.path.join(run_dir, "checkpoints", ".tmp-killed")
    open(stale, "wb").write(b"half a checkpoint")
    ck.prune_checkpoints(run_dir, 2, protect=(ck.checkpoint_path(run_dir, 1),))
    assert sorted(os.listdir(os.path.join(run_dir, "checkpoints"))) == [
        "best.npz", "step_00000001.npz", "step_00000004.npz", "step_00000005.npz"]


def test_resumed_checkpoint_survives_pruning(tmp_path):
    run_training(tiny_config(tmp_path, width=4, max_steps=2, keep_checkpoints=1))
    cfg = tiny_config(tmp_path, width=4, max_steps=8, keep_checkpoints=1, save_every_steps=2,
                      resume="latest")
    run_training(cfg)
    names = sorted(os.listdir(os.path.join(cfg.output, "checkpoints")))
    assert names == ["step_00000002.npz", "step_00000008.npz"]


def test_pruning_keeps_the_checkpoint_just_written(tmp_path):
    """The newest checkpoint is readable but does not fit (float64): the run resumes from the
    one before, and pruning to one file must not delete the checkpoint the run then writes."""
    from checkpoint_edits import array_edit, is_d_weight, rewrite, to_float64

    run_training(tiny_config(tmp_path, width=4, max_steps=4, save_every_steps=2,
                             keep_checkpoints=5), say=lambda text: None)
    run_dir = str(tmp_path / "run")
    rewrite(ck.checkpoint_path(run_dir, 4), array_edit(is_d_weight, to_float64))
    written = run_training(tiny_config(tmp_path, width=4, max_steps=3, keep_checkpoints=1,
                                       resume="latest"), say=lambda text: None)
    assert written == ck.checkpoint_path(run_dir, 3)
    assert ck.load_checkpoint(written).step == 3


# ----------------------------------------------------------------------------- safe loading
class CreatesAFile:
    """Unpickling this runs os.mkdir(marker): what a malicious .pdparams can do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def malicious_pdparams(tmp_path):
    marker = str(tmp_path / "pwned")
    path = tmp_path / "generator.pdparams"
    with open(path, "wb") as handle:
        pickle.dump({"net.0.conv.weight": CreatesAFile(marker)}, handle)
    return str(path), marker


def test_malicious_pickle_is_never_opened_without_trust(tmp_path):
    path, marker = malicious_pdparams(tmp_path)
    g, d = PixelShuffleGenerator(4), StridedDiscriminator(4)
    with pytest.raises(UserError, match="pickle.*--trust-checkpoint") as info:
        init_from(path, {"G": g, "D": d}, trust=False)
    assert "\n" not in str(info.value)
    assert not os.path.exists(marker)
    # the run driver refuses before writing anything into the run folder
    cfg = tiny_config(tmp_path, width=4, max_steps=1, init_from=path)
    with pytest.raises(UserError, match="unpickling can run arbitrary code"):
        run_training(cfg)
    assert not os.path.exists(marker) and not os.path.exists(cfg.output)
    # the checkpoint loaders used by eval / plot_samples / --resume never unpickle it either
    for load in (ck.load_checkpoint, ck.resolve_checkpoint):
        with pytest.raises(UserError, match="never loaded here"):
            load(path)
    assert not os.path.exists(marker)
    # control: the file really is malicious; with the flag it runs (and then is refused)
    with pytest.raises(UserError, match="fit neither network|not a state dict|not arrays"):
        init_from(path, {"G": g, "D": d}, trust=True)
    assert os.path.isdir(marker)


class TutorialGenerator(paddle.nn.Layer):
    """The tutorial's generator layout with its own attribute names (not ours)."""

    def __init__(self, width):
        super().__init__()
        self.conv1 = paddle.nn.Conv2D(1, width, 5, padding="same", bias_attr=False)
        self.bn1 = paddle.nn.BatchNorm2D(width)
        self.conv2 = paddle.nn.Conv2D(width, width * 16, 3, bias_attr=False)
        self.bn2 = paddle.nn.BatchNorm2D(width * 16)
        self.conv3 = paddle.nn.Conv2D(width, width, 5, padding="same", bias_attr=False)
        self.bn3 = paddle.nn.BatchNorm2D(width)
        self.out = paddle.nn.Conv2D(width, 1, 5, padding="same")


def test_trusted_tutorial_and_run_weights_initialise_g_and_d(tmp_path):
    tutorial = TutorialGenerator(4)
    path = str(tmp_path / "tutorial_generator.pdparams")
    paddle.save(tutorial.state_dict(), path)
    with pytest.raises(UserError, match="--g-input reshape"):  # the default adds an input layer
        init_from(path, {"G": PixelShuffleGenerator(4)}, trust=True)
    g, d = PixelShuffleGenerator(4, z_input="reshape"), StridedDiscriminator(4)
    assert init_from(path, {"G": g, "D": d}, trust=True, say=lambda m: None) == ["G"]
    for a, b in zip(tutorial.state_dict().values(), g.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    # a run folder: its .npz checkpoint (no flag needed) and its .pdparams (flag needed)
    cfg = tiny_config(tmp_path, width=4, max_steps=2, d_norm="batch")  # the tutorial's D
    run_training(cfg)
    saved = ck.load_checkpoint(ck.checkpoint_path(cfg.output, 2)).arrays
    pair = {"G": PixelShuffleGenerator(4), "D": StridedDiscriminator(4)}
    assert init_from(cfg.output, pair, trust=False, say=lambda m: None) == ["G", "D"]
    pickles = ",".join(os.path.join(cfg.output, n) for n in ("generator.pdparams",
                                                              "discriminator.pdparams"))
    pair2 = {"G": PixelShuffleGenerator(4), "D": StridedDiscriminator(4)}
    assert init_from(pickles, pair2, trust=True, say=lambda m: None) == ["G", "D"]
    for nets in (pair, pair2):
        for key, net in nets.items():
            for name, value in net.state_dict().items():
                np.testing.assert_array_equal(value.numpy(), saved[f"{key}/{name}"])
    with pytest.raises(UserError, match="fit neither network"):
        init_from(path, {"G": PixelShuffleGenerator(8)}, trust=True)


# ----------------------------------------------------------------------------- full disk
@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A 200 KiB tmpfs (root only; skipped where mount is not permitted)."""
    folder = tmp_path / "tmpfs"
    folder.mkdir()
    try:
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(folder)],
                              capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        pytest.skip("mount is not available")
    if proc.returncode != 0:
        pytest.skip(f"mount not permitted: {proc.stderr.decode(errors='replace').strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=20)


def test_full_disk_stops_with_one_line_and_keeps_the_checkpoints(tiny_tmpfs, capsys):
    out = tiny_tmpfs / "run"
    # the reshape input keeps a checkpoint ~45 KiB (~160 with the linear input layer): several fit
    code = run_tool_main("train", ["--dataset", "mnist5k", "--width", "4", "--batch-size", "8",
                           "--g-input", "reshape", "--max-steps", "40", "--save-every-steps", "2",
                           "--keep-checkpoints", "10", "--no-progress", "--output", str(out)])
    err = capsys.readouterr().err
    assert code == 1, err
    lines = stderr_lines(err)
    assert len(lines) == 1 and "No space left on device" in lines[0], err
    kept = ck.list_checkpoints(str(out))
    assert kept and all(ck.load_checkpoint(p).step == int(p[-12:-4]) for p in kept)
    assert f"last good checkpoint: {kept[-1]}" in lines[0]
    assert not [n for n in os.listdir(out / "checkpoints") if n.startswith(".tmp-")]


def _poisoned_resume(tmp_path, total, stop, poison):
    """A 9-step run resumed to `total` steps, `poison(trainer)` applied after step 16's losses
    (before its epoch end): the run stops with `stop`, and neither its sample grids nor its
    checkpoints change."""
    from tiny_mnist import write_mnist_folder

    data_dir = write_mnist_folder(tmp_path)  # 64 images: an epoch is 8 steps at batch 8
    settings = dict(width=4, dataset="mnist", data_dir=data_dir, k=1, epochs=5, log_every=100,
                    scalar_every=100)
    run_training(tiny_config(tmp_path, max_steps=9, **settings), say=lambda text: None)
    samples = os.path.join(tmp_path, "run", "samples")
    checkpoints = os.path.join(tmp_path, "run", "checkpoints")
    before = sha256_tree(samples), sha256_tree(checkpoints)
    assert sorted(before[0]) == ["epoch_001.png", "final.png"]
    cfg = tiny_config(tmp_path, max_steps=total, resume="latest", **settings)
    trainer = build_trainer(cfg, prepare_data(cfg), cfg.output)
    trainer.load(ck.load_latest(cfg.output, warn=lambda text: None))
    trainer.step_callbacks.append(lambda trainer: poison(trainer) if trainer.step == 16 else None)
    with pytest.raises(RunFailure, match=stop):
        trainer.fit()
    # no NaN epoch_002.png, final.png not replaced, no checkpoint of the diverged steps
    assert (sha256_tree(samples), sha256_tree(checkpoints)) == before


@pytest.mark.parametrize("total, stop", [(16, "non-finite weights at step 16"),
                                         (17, "non-finite loss at step 17")],
                         ids=["final grid", "epoch grid"])
def test_nan_stop_keeps_the_last_good_pictures(tmp_path, total, stop):
    """G's weights turn NaN after step 16's losses were computed: neither the final grid (the
    run ends at 16) nor the epoch grid at 16 (the run goes on to 17) is drawn; the pictures of
    the earlier run stay as they were."""
    def poison(trainer):
        param = trainer.G.parameters()[0]
        param.set_value(np.full(param.shape, np.nan, dtype=np.float32))

    _poisoned_resume(tmp_path, total, stop, poison)


@pytest.mark.parametrize("total, stop", [(16, "non-finite samples at step 16"),
                                         (17, "non-finite samples at step 17")],
                         ids=["final grid", "epoch grid"])
def test_finite_weights_with_nan_samples_stop_and_keep_the_last_good_files(tmp_path, total,
                                                                           stop):
    """A BatchNorm running variance of G turns negative after step 16's losses: every weight
    is finite and training (batch statistics) still gives finite losses, but the fixed-noise
    samples (eval mode: the running variance) are NaN. Nothing is saved or drawn, and the
    run stops naming the samples."""
    def poison(trainer):
        variance = next(value for name, value in trainer.G.state_dict().items()
                        if name.endswith("_variance"))
        variance.set_value(np.full(variance.shape, -10.0, dtype=np.float32))

    _poisoned_resume(tmp_path, total, stop, poison)

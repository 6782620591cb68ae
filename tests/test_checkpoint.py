import os

import numpy as np
import paddle
import pytest

from checkpoint_edits import array_edit, is_d_weight, rewrite, to_float64
from paddle_gan import checkpoint as ck
from paddle_gan.errors import UserError
from paddle_gan.models.seed import PixelShuffleGenerator, StridedDiscriminator


def trained_pair(width=4):
    g, d = PixelShuffleGenerator(width), StridedDiscriminator(width)
    opt = paddle.optimizer.Adam(learning_rate=1e-3, parameters=g.parameters())
    g(paddle.randn([2, 100])).mean().backward()
    opt.step()
    opt.clear_grad()
    return g, d, opt


def test_roundtrip_into_fresh_models_with_other_internal_names(tmp_path):
    g, d, opt = trained_pair()
    path = str(tmp_path / "c.npz")
    ck.save_checkpoint(path, {"G": g, "D": d}, {"opt_G": (opt, {"G": g})}, {"step": 7, "x": [1, 2]})
    _ = PixelShuffleGenerator(4)  # shift Paddle's auto-generated parameter names
    g2, d2 = PixelShuffleGenerator(4), StridedDiscriminator(4)
    opt2 = paddle.optimizer.Adam(learning_rate=1e-3, parameters=g2.parameters())
    loaded = ck.load_checkpoint(path)
    ck.restore(loaded, {"G": g2, "D": d2}, {"opt_G": (opt2, {"G": g2})})
    assert loaded.step == 7 and loaded.meta["x"] == [1, 2]
    for (k, a), b in zip(g.state_dict().items(), g2.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
    # optimizer moments restored: one more identical step keeps the nets identical
    z = paddle.randn([2, 100])
    for net, o in ((g, opt), (g2, opt2)):
        net(z).mean().backward()
        o.step()
    for a, b in zip(g.parameters(), g2.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_checkpoint_is_not_a_pickle_and_leaves_no_temp_files(tmp_path):
    g, d, opt = trained_pair()
    path = tmp_path / "c.npz"
    ck.save_checkpoint(str(path), {"G": g}, {}, {"step": 1})
    with np.load(path, allow_pickle=False) as archive:
        assert "G/net.0.conv.weight" in archive.files
    assert os.listdir(tmp_path) == ["c.npz"]


def test_corrupt_newest_checkpoint_falls_back_to_previous(tmp_path):
    g, d, opt = trained_pair()
    run = str(tmp_path)
    for step in (5, 10):
        ck.save_checkpoint(ck.checkpoint_path(run, step), {"G": g}, {}, {"step": step})
    newest = ck.checkpoint_path(run, 10)
    with open(newest, "r+b") as handle:
        handle.truncate(100)
    warnings = []
    latest = ck.load_latest(run, warn=warnings.append)
    assert latest.step == 5 and len(warnings) == 1 and "damaged" in warnings[0]
    with pytest.raises(ck.CorruptCheckpoint):
        ck.load_checkpoint(newest)


def test_checkpoint_of_another_model_is_refused(tmp_path):
    g, d, opt = trained_pair(width=4)
    path = str(tmp_path / "c.npz")
    ck.save_checkpoint(path, {"G": g}, {}, {"step": 1})
    with pytest.raises(UserError, match="shape"):
        ck.restore(ck.load_checkpoint(path), {"G": PixelShuffleGenerator(8)}, {})
    with pytest.raises(UserError, match="other layers"):
        ck.restore(ck.load_checkpoint(path), {"G": StridedDiscriminator(4)}, {})


def test_prune_keeps_the_newest(tmp_path):
    g = PixelShuffleGenerator(4)
    run = str(tmp_path)
    for step in range(1, 6):
        ck.save_checkpoint(ck.checkpoint_path(run, step), {"G": g}, {}, {"step": step})
    ck.prune_checkpoints(run, 2)
    assert [os.path.basename(p) for p in ck.list_checkpoints(run)] == [
        "step_00000004.npz", "step_00000005.npz"]


def test_prune_never_counts_unreadable_files_among_the_kept(tmp_path):
    g = PixelShuffleGenerator(4)
    run = str(tmp_path)
    for step in (1, 2, 3, 5):
        ck.save_checkpoint(ck.checkpoint_path(run, step), {"G": g}, {}, {"step": step})
    for step in (3, 5):  # the two newest are truncated
        with open(ck.checkpoint_path(run, step), "r+b") as handle:
            handle.truncate(100)
    ck.prune_checkpoints(run, 1)
    # the newest readable one is kept, the older one deleted; the damaged newer ones stay for
    # the run to overwrite when it gets there
    assert [os.path.basename(p) for p in ck.list_checkpoints(run)] == [
        "step_00000002.npz", "step_00000003.npz", "step_00000005.npz"]


# ----------------------------------------------------------------------------- paths are paths
def _save_steps(run, steps, g=None):
    """Real checkpoints of a generator at `steps` in run folder `run`."""
    g = g or PixelShuffleGenerator(4)
    for step in steps:
        ck.save_checkpoint(ck.checkpoint_path(str(run), step), {"G": g}, {}, {"step": step})


def test_a_run_folder_named_like_a_glob_pattern_is_listed_not_matched(tmp_path):
    """As a glob pattern, sweep[lr=2e-4] matches sweep2 (the class [lr=2e-4] holds a 2) and not
    itself; as a folder it holds its own checkpoints only."""
    own, other = tmp_path / "sweep[lr=2e-4]", tmp_path / "sweep2"
    _save_steps(own, [1])
    _save_steps(other, [2, 3])
    assert ck.list_checkpoints(str(own)) == [ck.checkpoint_path(str(own), 1)]
    assert ck.load_latest(str(own), warn=pytest.fail).step == 1
    ck.prune_checkpoints(str(own), 1)
    assert len(ck.list_checkpoints(str(other))) == 2


def test_a_run_in_a_folder_with_brackets_resumes(make_tiny_config, tmp_path):
    from paddle_gan.train.run import run_training

    out = str(tmp_path / "sweep[lr=2e-4]")
    said = []
    run_training(make_tiny_config(max_steps=2, output=out), say=said.append)
    run_training(make_tiny_config(max_steps=3, output=out, resume="latest"), say=said.append)
    assert f"resumed from {ck.checkpoint_path(out, 2)} at step 2" in said
    assert [ck.step_in_name(p) for p in ck.list_checkpoints(out)] == [2, 3]


def test_checkpoints_are_ordered_by_their_step_as_an_integer(tmp_path):
    """step_100000000.npz sorts before step_99999999.npz as text; it is the newer one."""
    steps = [99_999_999, 100_000_000, 2_000_000_000]
    _save_steps(tmp_path, steps)
    assert [ck.step_in_name(p) for p in ck.list_checkpoints(str(tmp_path))] == steps
    assert ck.load_latest(str(tmp_path), warn=pytest.fail).step == 2_000_000_000
    ck.prune_checkpoints(str(tmp_path), 2)
    assert [ck.step_in_name(p) for p in ck.list_checkpoints(str(tmp_path))] == steps[1:]


def test_a_checkpoint_whose_step_disagrees_with_its_name_is_damaged(tmp_path):
    _save_steps(tmp_path, [1, 2])
    renamed = ck.checkpoint_path(str(tmp_path), 5)
    os.rename(ck.checkpoint_path(str(tmp_path), 1), renamed)
    warnings = []
    assert ck.load_latest(str(tmp_path), warn=warnings.append).step == 2
    assert warnings == [f"skipping damaged checkpoint: {renamed}: it stores step 1, its name "
                        f"says 5"]
    with pytest.raises(ck.CorruptCheckpoint, match="it stores step 1, its name says 5"):
        ck.load_checkpoint(renamed)


def test_pruning_touches_only_regular_checkpoint_files_it_wrote(tmp_path, monkeypatch):
    """A folder, a link and a name never written (step_000000003.npz) stay, whatever they are
    called; a checkpoint that cannot be removed stays without stopping the run."""
    run = tmp_path / "run"
    folder = run / "checkpoints"
    _save_steps(run, [4, 5, 6, 7])
    (folder / "step_00000001.npz").mkdir()
    (folder / "step_00000001.npz" / "notes.txt").write_text("mine\n")
    (folder / ".tmp-folder").mkdir()
    outside = tmp_path / "elsewhere.npz"
    outside.write_bytes((folder / "step_00000004.npz").read_bytes())
    os.symlink(outside, folder / "step_00000002.npz")
    (folder / "step_000000003.npz").write_bytes(b"not written by a run")
    stuck = ck.checkpoint_path(str(run), 5)
    real_unlink = os.unlink

    def unlink(path, *args, **kwargs):
        if os.fspath(path) == stuck:
            raise PermissionError(13, "Permission denied", path)
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", unlink)
    ck.prune_checkpoints(str(run), 1)
    assert set(os.listdir(folder)) == {".tmp-folder", "step_00000001.npz", "step_00000002.npz",
                                       "step_000000003.npz", "step_00000005.npz",
                                       "step_00000007.npz"}
    assert (folder / "step_00000001.npz" / "notes.txt").exists() and outside.exists()


def test_resolve_checkpoint_errors(tmp_path):
    with pytest.raises(UserError, match="holds no checkpoint"):
        ck.resolve_checkpoint(str(tmp_path))
    with pytest.raises(UserError, match="not found"):
        ck.resolve_checkpoint(str(tmp_path / "x.npz"))
    (tmp_path / "fake.npz").write_bytes(b"not a zip")
    with pytest.raises(ck.CorruptCheckpoint):
        ck.resolve_checkpoint(str(tmp_path / "fake.npz"))


# ----------------------------------------------------------------------------- fallback
@pytest.fixture(scope="module")
def two_checkpoints(tmp_path_factory):
    """A tiny run with checkpoints at steps 2 and 4 (seed model, width 4, idx folder data)."""
    from conftest import tiny_config
    from tiny_mnist import write_mnist_folder
    from paddle_gan.train.run import run_training

    base = tmp_path_factory.mktemp("fallback")
    cfg = tiny_config(base, width=4, max_steps=4, save_every_steps=2, keep_checkpoints=5, k=1,
                      dataset="mnist", data_dir=write_mnist_folder(base))
    run_training(cfg, say=lambda text: None)
    return cfg


def without(key):
    return lambda arrays, meta: {k: v for k, v in meta.items() if k != key}


def replaced(key, value):
    return lambda arrays, meta: {**meta, key: value}


def added(key, value):
    def edit(arrays, meta):
        arrays[key] = value
        return meta
    return edit


MOMENT = lambda key: key.startswith("opt_D/") and key.endswith("|moment1_0")  # noqa: E731
DAMAGE = {
    "metadata is a list": lambda arrays, meta: [meta],
    "step missing": without("step"),
    "step is text": replaced("step", "4"),
    "step is fractional": replaced("step", 4.5),
    "step is negative": replaced("step", -4),
    "config is not a mapping": replaced("config", "seed"),
    "epoch missing": without("epoch"),
    "float64 weight": array_edit(is_d_weight, to_float64),
    "wrong-shape weight": array_edit(is_d_weight, lambda a: np.zeros(a.size + 1, a.dtype)),
    "NaN weight": array_edit(is_d_weight, lambda a: np.full_like(a, np.nan)),
    "float64 optimizer moment": array_edit(MOMENT, to_float64),
    "wrong-shape optimizer moment": array_edit(MOMENT, lambda a: np.zeros(a.size + 1, a.dtype)),
    "optimizer state of no parameter": added("opt_G/G/nothing|moment1_0", np.zeros(3, np.float32)),
    "truncated file": None,
}


@pytest.mark.parametrize("damage", list(DAMAGE), ids=list(DAMAGE))
def test_resume_falls_back_from_any_damaged_or_inconsistent_newest(two_checkpoints, damage,
                                                                   tmp_path):
    import dataclasses
    import shutil

    from paddle_gan.train.run import _resume_checkpoint, build_trainer, prepare_data

    run_dir = str(tmp_path / "run")
    shutil.copytree(two_checkpoints.output, run_dir)
    newest = ck.checkpoint_path(run_dir, 4)
    if DAMAGE[damage] is None:
        with open(newest, "r+b") as handle:
            handle.truncate(2000)
    else:
        rewrite(newest, DAMAGE[damage])
    cfg = dataclasses.replace(two_checkpoints, output=run_dir, resume="latest", max_steps=6)
    trainer = build_trainer(cfg, prepare_data(cfg), run_dir)
    warnings = []
    checkpoint = _resume_checkpoint(cfg, trainer, warnings.append)
    assert checkpoint.step == 2, damage
    assert len(warnings) == 1 and "step_00000004.npz" in warnings[0], warnings
    assert "\n" not in warnings[0]


def test_a_checkpoint_that_does_not_fit_changes_nothing(two_checkpoints, tmp_path):
    from paddle_gan.train.run import build_trainer, prepare_data

    path = str(tmp_path / "d_float64.npz")
    with open(ck.checkpoint_path(two_checkpoints.output, 4), "rb") as handle:
        open(path, "wb").write(handle.read())
    # G's arrays fit, one of D's does not: nothing may be restored, G (restored first) included
    rewrite(path, array_edit(is_d_weight, to_float64))
    trainer = build_trainer(two_checkpoints, prepare_data(two_checkpoints), str(tmp_path))
    before = {k: v.numpy().copy() for k, v in trainer.G.state_dict().items()}
    with pytest.raises(ck.CorruptCheckpoint, match="float64, this model has float32"):
        trainer.load(ck.load_checkpoint(path))
    for key, value in trainer.G.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[key], err_msg=key)
    assert trainer.step == 0

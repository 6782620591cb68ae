import os

import numpy as np
import paddle
import pytest

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


def test_resolve_checkpoint_errors(tmp_path):
    with pytest.raises(UserError, match="holds no checkpoint"):
        ck.resolve_checkpoint(str(tmp_path))
    with pytest.raises(UserError, match="not found"):
        ck.resolve_checkpoint(str(tmp_path / "x.npz"))
    (tmp_path / "fake.npz").write_bytes(b"not a zip")
    with pytest.raises(ck.CorruptCheckpoint):
        ck.resolve_checkpoint(str(tmp_path / "fake.npz"))

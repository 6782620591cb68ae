"""paddle_gan.viz.plots and tools/plot_samples.py: grids, interpolation, VisualDL curves, progress."""
import math
import os

import numpy as np
import pytest
from conftest import run_tool

from paddle_gan.viz import plots
from paddle_gan.errors import UserError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A 6-step width-8 seed-model run (trained in-process: faster than the tool)."""
    from paddle_gan.config import make_config
    from paddle_gan.train.run import run_training

    out = tmp_path_factory.mktemp("plots") / "run"
    run_training(make_config(dict(dataset="mnist5k", width=8, batch_size=8, max_steps=6,
                                  output=str(out), progress=False)), say=lambda text: None)
    return str(out)


@pytest.fixture(scope="module")
def plot_tool():
    """tools/plot_samples.py imported as a module (its main raises instead of exiting)."""
    import importlib
    import sys

    from conftest import ROOT

    sys.path.insert(0, os.path.join(ROOT, "tools"))
    return importlib.import_module("plot_samples")


def _png(path):
    with open(path, "rb") as handle:
        return handle.read(8) == PNG_MAGIC and os.path.getsize(path) > 1000


def test_slerp_endpoints_norm_and_midpoint():
    a = np.array([1.0, 0.0, 0.0])
    b = np.array([0.0, 1.0, 0.0])
    path = plots.slerp(a, b, np.linspace(0, 1, 5))
    np.testing.assert_allclose(path[0], a, atol=1e-6)
    np.testing.assert_allclose(path[-1], b, atol=1e-6)
    np.testing.assert_allclose(path[2], [math.sqrt(0.5), math.sqrt(0.5), 0.0], atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), 1.0, atol=1e-6)
    # parallel vectors: linear interpolation
    np.testing.assert_allclose(plots.slerp(a, 3 * a, np.array([0.5]))[0], 2 * a, atol=1e-6)


def test_smooth_is_debiased_moving_average():
    np.testing.assert_allclose(plots._smooth(np.full(10, 3.0)), 3.0)
    # hand-computed: weight 0.5 on [0, 2] -> [0, (0.5*0 + 0.5*2) / 0.75]
    np.testing.assert_allclose(plots._smooth(np.array([0.0, 2.0]), 0.5), [0.0, 1.0 / 0.75])


def test_read_scalars_merges_resumed_logs(tmp_path):
    from paddle_gan.monitor import RunMonitor

    first = RunMonitor(str(tmp_path), progress=False)
    for step in (1, 2, 3):
        first.scalars(step, {"d_loss": float(step), "g_loss": 10.0 * step})
    first.close()
    os.utime(next((tmp_path / "vdl").iterdir()), (1, 1))  # older file
    second = RunMonitor(str(tmp_path), progress=False)
    second.scalars(3, {"d_loss": 30.0})
    second.scalars(4, {"d_loss": 4.0})
    second.close()
    scalars = plots.read_scalars(str(tmp_path))
    np.testing.assert_array_equal(scalars["d_loss"][0], [1, 2, 3, 4])
    np.testing.assert_allclose(scalars["d_loss"][1], [1.0, 2.0, 30.0, 4.0], rtol=1e-6)
    np.testing.assert_allclose(scalars["g_loss"][1], [10.0, 20.0, 30.0], rtol=1e-6)


def _log_of_steps(run_dir, steps):
    """A VisualDL log of d_loss at `steps` in run_dir/vdl; its path."""
    from paddle_gan.monitor import RunMonitor

    monitor = RunMonitor(str(run_dir), progress=False)
    for step in steps:
        monitor.scalars(step, {"d_loss": float(step)})
    monitor.close()
    return next((run_dir / "vdl").iterdir())


def test_a_log_cut_mid_record_is_read_up_to_the_cut(tmp_path):
    path = _log_of_steps(tmp_path, (1, 2, 3))
    data = path.read_bytes()
    path.write_bytes(data[:-5])  # the last record (step 3) cut short by a kill
    scalars = plots.read_scalars(str(tmp_path))
    np.testing.assert_array_equal(scalars["d_loss"][0], [1, 2])
    assert path.read_bytes() == data[:-5]  # the log itself is left as it is


def test_a_damaged_log_is_one_line_naming_it(tmp_path):
    path = _log_of_steps(tmp_path, (1, 2))
    data = bytearray(path.read_bytes())
    data[-6:] = b"\xff" * 6  # whole records, garbage inside the last one
    path.write_bytes(bytes(data))
    with pytest.raises(UserError, match=f"VisualDL log {path} is damaged"):
        plots.read_scalars(str(tmp_path))


def test_curves_need_a_visualdl_log(tmp_path):
    with pytest.raises(UserError, match="no VisualDL log"):
        plots.read_scalars(str(tmp_path))


def _fake_epoch_grids(run_dir, epochs):
    from paddle_gan.viz import save_png

    rng = np.random.default_rng(0)
    for epoch in epochs:
        save_png(os.path.join(run_dir, "samples", f"epoch_{epoch:03d}.png"),
                 (rng.random((20, 20, 3)) * 255).astype(np.uint8))


def test_progress_frames_are_ordered_by_epoch(tmp_path):
    _fake_epoch_grids(str(tmp_path), [10, 2, 1])
    labels = [label for label, _ in plots.progress_frames(str(tmp_path))]
    assert labels == ["epoch 1", "epoch 2", "epoch 10"]
    assert plots._evenly(list(range(40)), 4) == [0, 13, 26, 39]


def test_a_run_folder_named_like_a_glob_pattern_shows_its_own_pictures_and_logs(tmp_path):
    """sweep[lr=2e-4] is a folder, not a pattern (as one it would match sweep2 only)."""
    from paddle_gan.monitor import RunMonitor
    from paddle_gan.viz.frames import frame_files

    own, other = tmp_path / "sweep[lr=2e-4]", tmp_path / "sweep2"
    _fake_epoch_grids(str(own), [1])
    _fake_epoch_grids(str(other), [2, 3])
    for run, steps in ((own, (1,)), (other, (5, 6))):
        (run / "samples" / "frames").mkdir()
        for step in steps:
            (run / "samples" / "frames" / f"frame_{step:08d}.png").write_bytes(b"png")
        monitor = RunMonitor(str(run), progress=False)
        for step in steps:
            monitor.scalars(step, {"d_loss": float(step)})
        monitor.close()
    assert [label for label, _ in plots.progress_frames(str(own))] == ["epoch 1"]
    assert frame_files(str(own / "samples" / "frames")) == [
        str(own / "samples" / "frames" / "frame_00000001.png")]
    np.testing.assert_array_equal(plots.read_scalars(str(own))["d_loss"][0], [1])


def test_progress_writes_montage_and_gif_with_every_frame(tmp_path):
    from PIL import Image

    _fake_epoch_grids(str(tmp_path), range(1, 21))
    png, gif = plots.plot_progress(str(tmp_path), str(tmp_path / "p.png"), str(tmp_path / "p.gif"))
    assert _png(png)
    with Image.open(gif) as image:
        assert image.format == "GIF" and image.n_frames == 20


def test_tool_grid_in_a_subprocess(tiny_run, tmp_path):
    from PIL import Image

    out = tmp_path / "grid.png"
    proc = run_tool("tools/plot_samples.py", "--checkpoint", tiny_run, "--out", str(out), "--n", "4")
    assert proc.returncode == 0, proc.stderr
    assert _png(out)
    with Image.open(out) as image:  # 4 tiles of 32 px + 5 borders of 2 px
        assert image.size == (4 * 32 + 5 * 2,) * 2


def test_tool_interpolate_curves_progress(tiny_run, tmp_path, plot_tool):
    from PIL import Image

    for flag in ("--interpolate", "--curves", "--progress"):
        out = tmp_path / f"{flag[2:]}.png"
        assert plot_tool.main(["--checkpoint", tiny_run, "--out", str(out), "--n", "3", flag]) == 0
        assert _png(out), flag
    with Image.open(tmp_path / "interpolate.png") as image:
        assert image.size == (3 * 32 + 4 * 2,) * 2
    with Image.open(tmp_path / "progress.gif") as image:
        assert image.n_frames == 1  # the run only has its final grid


def test_interpolation_rows_start_and_end_at_grid_latents(tiny_run):
    from paddle_gan.io.runs import load_run

    run = load_run(tiny_run)
    picture = plots.interpolation_grid(run, 3, seed=5)
    assert picture.shape == (3 * 32 + 4 * 2, 3 * 32 + 4 * 2, 3)
    np.testing.assert_array_equal(picture, plots.interpolation_grid(run, 3, seed=5))
    assert not np.array_equal(plots.sample_grid(run, 3, seed=5), plots.sample_grid(run, 3, seed=6))


def test_tool_errors(tiny_run, tmp_path, plot_tool):
    proc = run_tool("tools/plot_samples.py", "--checkpoint", str(tmp_path), "--out",
                    str(tmp_path / "x.png"))  # a folder that is not a run
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    cases = [
        (["--checkpoint", str(tmp_path / "missing"), "--out", "x.png"], "no such file"),
        (["--checkpoint", str(tmp_path), "--out", "x.png", "--progress"], "no sample grids"),
        (["--checkpoint", tiny_run, "--out", "x.jpg"], "png"),
        (["--checkpoint", tiny_run, "--out", "x.png", "--n", "0"], "--n"),
    ]
    for args, message in cases:
        with pytest.raises(UserError, match=message):
            plot_tool.main(args)


class _FakeTrainer:
    """sample_fixed(n) -> images whose brightness is their fixed label (n cycles 0..K-1)."""

    step = 0

    def __init__(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.monitor = type("M", (), {"image": staticmethod(lambda *a: None)})()

    def sample_fixed(self, n: int) -> np.ndarray:
        labels = np.arange(n) % self.num_classes
        return np.broadcast_to((labels / 10.0)[:, None, None, None], (n, 1, 4, 4)).copy()


def test_conditional_snapshot_grid_has_one_column_per_class(tmp_path):
    from PIL import Image

    from paddle_gan.train.snapshots import ImageSnapshots, make_snapshot_writer

    writer = make_snapshot_writer(str(tmp_path), 4, num_classes=10)
    assert isinstance(writer, ImageSnapshots) and (writer.columns, writer.count) == (10, 80)
    path = writer(_FakeTrainer(10), "final")
    grid = np.asarray(Image.open(path))[:, :, 0]  # 4-pixel tiles, padding 2
    assert grid.shape == (8 * 6 + 2, 10 * 6 + 2)
    for column in range(10):  # every tile of a column shows that column's class
        tiles = [int(grid[2 + row * 6, 2 + column * 6]) for row in range(8)]
        assert tiles == [int(column / 10.0 * 255 + 0.5)] * 8, (column, tiles)
    assert make_snapshot_writer(str(tmp_path), 4).columns == 8  # unconditional: 8x8

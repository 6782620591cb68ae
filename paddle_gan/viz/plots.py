"""Pictures read back from a run: sample grids, latent interpolations, loss curves from the
VisualDL log (VisualDL's own LogReader) and the per-epoch sample grids as a montage and a GIF.

Used by `tools/plot_samples.py`; every function returns or writes plain files, so notebooks can
call them too.
"""
from __future__ import annotations

import contextlib
import math
import os
import re
import struct
import tempfile
from typing import Iterator, Optional

import numpy as np

from paddle_gan.errors import UserError
from paddle_gan.io.runs import (LoadedRun, build_generator, eval_latents, generate,
                                           latent_dim_of, load_split)
from paddle_gan.monitor import VISUALDL_DIR
from paddle_gan.checkpoint import SAMPLES_DIR, folder_entries
from paddle_gan.atomic import atomic_write
from paddle_gan.viz import make_grid, register_plotter, save_figure, save_png

#: Most frames shown in a progress montage (the GIF shows all).
MONTAGE_FRAMES = 16


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


#: the y axis of every FID-against-progress plot
FID_AXIS_LABEL = "FID, 1,000 samples (shipped classifier)"


def finish_fid_plot(fig, ax, xlabel: str, title: str, path: str, legend_size: int = 8) -> None:
    """Finish an FID-against-progress plot (log y axis, labels, grid, legend) and write it to
    `path` atomically, then close the figure."""
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(FID_AXIS_LABEL)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=legend_size)
    fig.tight_layout()
    save_figure(fig, path)
    _pyplot().close(fig)


def _generator_and_data(run: LoadedRun):
    if run.stored_kind != "gan":
        raise UserError(f"{run.checkpoint.path} is a {run.stored_kind} run: the sample grid and "
                        f"--interpolate draw GAN generators (--curves and --progress work)")
    data = load_split(run, "test")
    generator = build_generator(run, data)
    num_classes = data.num_classes if run.cfg.conditional else 0
    return generator, data, num_classes


def _scatter_picture(points: np.ndarray, reference: Optional[np.ndarray] = None) -> np.ndarray:
    """A uint8 [H, W, 3] scatter plot of 2-D points (over the real points, in gray)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    if reference is not None:
        ax.scatter(reference[:, 0], reference[:, 1], s=2, c="0.75", label="real")
    ax.scatter(points[:, 0], points[:, 1], s=2, c="tab:blue", label="generated")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", markerscale=4)
    fig.canvas.draw()
    picture = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return picture


def sample_grid(run: LoadedRun, n: int = 8, seed: int = 0) -> np.ndarray:
    """An n x n grid of samples (image runs) or a scatter of 64 n^2 points (2-D runs), as a
    uint8 [H, W, 3] picture. Conditional runs cycle through the classes along each row."""
    generator, data, num_classes = _generator_and_data(run)
    count = n * n if data.samples.ndim == 4 else 64 * n * n
    z, labels = eval_latents(seed, count, latent_dim_of(generator, run.cfg), num_classes)
    samples = generate(generator, z, labels, num_classes)
    if data.samples.ndim == 4:
        return make_grid(np.clip(samples, 0.0, 1.0), nrow=n)
    if data.samples.ndim == 2 and data.samples.shape[1] == 2:
        return _scatter_picture(samples, data.samples)
    raise UserError(f"cannot draw samples of shape {list(samples.shape[1:])}")


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation between latent vectors a and b [D] at fractions t [T] -> [T, D].

    Falls back to linear interpolation when a and b are (anti)parallel.
    """
    cos = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
    omega = math.acos(max(-1.0, min(1.0, cos)))
    t = np.asarray(t, dtype=np.float64)[:, None]
    if math.sin(omega) < 1e-6:
        return ((1 - t) * a + t * b).astype(np.float32)
    return ((np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / math.sin(omega)).astype(
        np.float32)


def interpolation_grid(run: LoadedRun, n: int = 8, seed: int = 0) -> np.ndarray:
    """n rows, each n images along the spherical path between two random latents (same class
    per row for conditional runs); a uint8 [H, W, 3] picture. Image runs only."""
    generator, data, num_classes = _generator_and_data(run)
    if data.samples.ndim != 4:
        raise UserError("--interpolate draws images; this run makes points")
    ends, _ = eval_latents(seed, 2 * n, latent_dim_of(generator, run.cfg), 0)
    z = np.concatenate([slerp(ends[2 * r], ends[2 * r + 1], np.linspace(0, 1, n))
                        for r in range(n)])
    labels = (np.repeat(np.arange(n), n) % num_classes).astype(np.int64) if num_classes else None
    samples = generate(generator, z, labels, num_classes)
    return make_grid(np.clip(samples, 0.0, 1.0), nrow=n)


def gan_picture(run: LoadedRun, n: int, seed: int, interpolate: bool) -> np.ndarray:
    """plot_samples' picture of a GAN run: `interpolation_grid` or `sample_grid`."""
    return (interpolation_grid if interpolate else sample_grid)(run, n, seed)


register_plotter("gan", gan_picture)


# --------------------------------------------------------------------------- VisualDL curves
#: a VisualDL record: an 8-byte native-order length, then that many bytes
_RECORD_HEADER = struct.Struct("Q")


@contextlib.contextmanager
def _whole_records(path: str) -> Iterator[str]:
    """`path`, or a temporary copy of its whole records when the last one was cut short (a
    run killed while VisualDL wrote): the cut record is left out."""
    with open(path, "rb") as handle:
        data = handle.read()
    end = 0
    while end + _RECORD_HEADER.size <= len(data):
        (length,) = _RECORD_HEADER.unpack_from(data, end)
        if end + _RECORD_HEADER.size + length > len(data):
            break
        end += _RECORD_HEADER.size + length
    if end == len(data):
        yield path
        return
    with tempfile.TemporaryDirectory() as folder:
        copy = os.path.join(folder, os.path.basename(path))
        with open(copy, "wb") as handle:
            handle.write(data[:end])
        yield copy


def read_scalars(run_dir: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every scalar tag in the run's VisualDL log as (steps, values), sorted by step.

    A resumed run has one log file per session; they are merged, a later file winning for a
    step logged twice. UserError when the run has no VisualDL log.
    """
    from visualdl import LogReader

    files = sorted((entry.path for entry in folder_entries(os.path.join(run_dir, VISUALDL_DIR))
                    if "vdlrecords" in entry.name and entry.is_file()), key=os.path.getmtime)
    if not files:
        raise UserError(f"{run_dir} has no VisualDL log ({VISUALDL_DIR}/vdlrecords.*)")
    merged: dict[str, dict[int, float]] = {}
    for path in files:
        with _whole_records(path) as whole:
            try:
                reader = LogReader(file_path=whole)
                for tag in reader.get_tags().get("scalar", []):
                    points = merged.setdefault(tag, {})
                    for record in reader.get_data("scalar", tag):
                        points[int(record.id)] = float(record.value)
            except Exception as exc:  # protobuf's DecodeError and whatever VisualDL raises
                raise UserError(f"VisualDL log {path} is damaged ({type(exc).__name__}: "
                                f"{exc}); move it away to plot the others") from None
    out = {}
    for tag, points in merged.items():
        steps = np.array(sorted(points), dtype=np.int64)
        out[tag] = (steps, np.array([points[s] for s in steps], dtype=np.float64))
    return out


def _smooth(values: np.ndarray, weight: float = 0.9) -> np.ndarray:
    """VisualDL-style exponential moving average, debiased at the start."""
    out, avg = np.empty_like(values), 0.0
    for i, v in enumerate(values):
        avg = weight * avg + (1 - weight) * v
        out[i] = avg / (1 - weight ** (i + 1))
    return out


def _curve_groups(tags: list[str]) -> list[tuple[str, list[str]]]:
    losses = [t for t in tags if t.endswith("loss")]
    scores = [t for t in tags if t.endswith("score") and "/" not in t]
    evals = [t for t in tags if t.startswith("eval/")]
    rest = [t for t in tags if t not in losses + scores + evals]
    groups = [("losses", losses), ("discriminator scores", scores), ("other", rest)]
    groups += [(t, [t]) for t in evals]  # one panel per metric: their scales differ
    return [(title, sorted(members)) for title, members in groups if members]


def plot_curves(run_dir: str, out: str) -> str:
    """Loss curves (raw, faint, and smoothed) from the run's VisualDL log to a PNG."""
    scalars = read_scalars(run_dir)
    if not scalars:
        raise UserError(f"{run_dir}: the VisualDL log holds no scalars yet")
    groups = _curve_groups(list(scalars))
    plt = _pyplot()
    cols = min(2, len(groups))
    rows = math.ceil(len(groups) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 3.5 * rows), squeeze=False)
    for ax, (title, tags) in zip(axes.flat, groups):
        for index, tag in enumerate(tags):
            steps, values = scalars[tag]
            color = f"C{index}"
            if len(values) > 20:
                ax.plot(steps, values, color=color, alpha=0.25, linewidth=0.8)
                ax.plot(steps, _smooth(values), color=color, label=tag)
            else:
                ax.plot(steps, values, color=color, marker="o", markersize=3, label=tag)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend()
    for ax in list(axes.flat)[len(groups):]:
        ax.axis("off")
    fig.suptitle(os.path.basename(os.path.abspath(run_dir)))
    fig.tight_layout()
    try:
        save_figure(fig, out, dpi=100)
    finally:
        plt.close(fig)
    return out


# --------------------------------------------------------------------------- progress
def progress_frames(run_dir: str) -> list[tuple[str, str]]:
    """(label, path) of the per-epoch sample grids in samples/, by epoch, then the final one."""
    folder = os.path.join(run_dir, SAMPLES_DIR)
    epochs = []
    for entry in folder_entries(folder):
        match = re.match(r"epoch_([0-9]+)\.png$", entry.name)
        if match and entry.is_file():
            epochs.append((int(match.group(1)), entry.path))
    frames = [(f"epoch {e}", p) for e, p in sorted(epochs)]
    final = os.path.join(folder, "final.png")
    if os.path.isfile(final):
        frames.append(("final", final))
    if not frames:
        raise UserError(f"{run_dir} has no sample grids ({SAMPLES_DIR}/epoch_*.png)")
    return frames


def _evenly(items: list, count: int) -> list:
    if len(items) <= count:
        return items
    picks = np.unique(np.linspace(0, len(items) - 1, count).round().astype(int))
    return [items[i] for i in picks]


def plot_progress(run_dir: str, out_png: str, out_gif: str, frame_ms: int = 300) -> tuple[str, str]:
    """A labelled montage (at most MONTAGE_FRAMES, evenly spaced, always the last) and an
    animated GIF of every sample grid; returns both paths."""
    from PIL import Image

    frames = progress_frames(run_dir)
    shown = _evenly(frames, MONTAGE_FRAMES)
    plt = _pyplot()
    cols = math.ceil(math.sqrt(len(shown)))
    rows = math.ceil(len(shown) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.8 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (label, path) in zip(axes.flat, shown):
        with Image.open(path) as image:
            ax.imshow(np.asarray(image.convert("RGB")))
        ax.set_title(label, fontsize=9)
    fig.tight_layout()
    try:
        save_figure(fig, out_png, dpi=100)
    finally:
        plt.close(fig)
    images = []
    for _, path in frames:
        with Image.open(path) as image:
            images.append(image.convert("RGB").convert("P", palette=Image.ADAPTIVE))
    atomic_write(out_gif, lambda handle: images[0].save(
        handle, format="GIF", save_all=True, append_images=images[1:], duration=frame_ms, loop=0))
    return out_png, out_gif


def save_picture(path: str, picture: np.ndarray) -> str:
    """Write a uint8 [H, W, 3] picture as PNG; returns the path."""
    save_png(path, picture)
    return path

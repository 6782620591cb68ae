"""Training frames of 2-D GANs: real points, generated points and D's output as a heat map.

Every `frame_every` steps (and at the end) a frame goes to samples/frame_<step>.png and to
VisualDL (image tag "frames"); at the end of a run the frames on disk become one animated
samples/training.gif (a resumed run's GIF covers the whole run). Conditional runs colour the
generated points by class, and the heat map shows D's output averaged over the classes.

`PointFrames` is the snapshot writer for samples of rank 2 (points [N, D]), chosen by
`paddle_gan.train.snapshots.make_snapshot_writer`.
"""
from __future__ import annotations

import gc
import os
import re
from typing import Any, Optional, Sequence

import numpy as np

from paddle_gan.atomic import atomic_copy, atomic_write
from paddle_gan.errors import UserError
from paddle_gan.checkpoint import SAMPLES_DIR, folder_entries

FRAME_PATTERN = "frame_{step:08d}.png"
_FRAME_RE = re.compile(r"^frame_([0-9]{8,})\.png$")
GIF_NAME = "training.gif"
FINAL_NAME = "final.png"
#: Generated and real points drawn per frame.
FRAME_POINTS = 1000
#: Heat-map resolution (cells per side).
HEAT_CELLS = 80
#: Display time of a GIF frame and of the last one (milliseconds).
GIF_FRAME_MS = 120
GIF_LAST_MS = 1500


def view_bounds(bounds: Sequence[float], margin: float = 0.15) -> tuple[float, float, float, float]:
    """A square view around (xmin, xmax, ymin, ymax), widened by `margin` of its size."""
    x0, x1, y0, y1 = (float(b) for b in bounds)
    half = 0.5 * max(x1 - x0, y1 - y0) * (1.0 + 2.0 * margin)
    cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
    return (cx - half, cx + half, cy - half, cy + half)


def heat_grid(bounds: Sequence[float], cells: int = HEAT_CELLS) -> np.ndarray:
    """Cell centres [cells * cells, 2] of the view, row-major from the top row (y high) down,
    so that reshaping D's outputs to [cells, cells] gives an image with row 0 at the top."""
    x0, x1, y0, y1 = bounds
    xs = x0 + (np.arange(cells) + 0.5) * (x1 - x0) / cells
    ys = y1 - (np.arange(cells) + 0.5) * (y1 - y0) / cells
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)


def class_colors(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """RGBA colours [N, 4]: tab10 for up to 10 classes, an evenly spaced hue wheel above."""
    from matplotlib import colormaps

    if num_classes <= 10:
        return colormaps["tab10"](labels % 10)
    return colormaps["hsv"](labels / num_classes * 0.92)


def draw_frame(real: np.ndarray, fake: np.ndarray, heat: Optional[np.ndarray],
               bounds: Sequence[float], title: str = "",
               fake_labels: Optional[np.ndarray] = None, num_classes: int = 0,
               size_px: int = 420) -> np.ndarray:
    """One frame as a uint8 picture [H, W, 3].

    Args:
        real: real points [N, 2] (grey).
        fake: generated points [M, 2] (orange, or by class when `fake_labels` is given).
        heat: D's output on `heat_grid(bounds)` as [cells, cells] (row 0 = top), or None.
        bounds: the view (xmin, xmax, ymin, ymax).
        title: text above the plot.
        fake_labels: class of each generated point (conditional runs).
        num_classes: class count for the colours.
        size_px: picture width and height in pixels.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dpi = 100
    fig = Figure(figsize=(size_px / dpi, size_px / dpi), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0.08, 0.06, 0.76, 0.84))
    x0, x1, y0, y1 = bounds
    if heat is not None:
        low, high = np.percentile(heat, [1, 99])
        high = high if high > low else low + 1e-6
        image = ax.imshow(heat, extent=(x0, x1, y0, y1), origin="upper", cmap="RdBu_r",
                          vmin=low, vmax=high, alpha=0.75, interpolation="bilinear",
                          aspect="auto")
        bar = fig.colorbar(image, cax=fig.add_axes((0.86, 0.06, 0.03, 0.84)))
        bar.ax.tick_params(labelsize=6)
        bar.set_label("D(x)", fontsize=7)
    ax.scatter(real[:, 0], real[:, 1], s=2, c="0.15", alpha=0.35, linewidths=0, label="real")
    if fake_labels is not None and num_classes:
        colors = class_colors(fake_labels, num_classes)
        ax.scatter(fake[:, 0], fake[:, 1], s=3, c=colors, linewidths=0, label="generated")
    else:
        ax.scatter(fake[:, 0], fake[:, 1], s=3, c="#ff7f0e", linewidths=0, label="generated")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal", adjustable="box")
    ax.tick_params(labelsize=6)
    ax.set_title(title, fontsize=8)
    ax.legend(loc="upper right", fontsize=6, markerscale=3, framealpha=0.7)
    canvas.draw()
    picture = np.asarray(canvas.buffer_rgba())[..., :3].copy()
    # a Figure is a web of reference cycles, and in a process holding
    # Paddle's ~10^5 long-lived objects the cyclic GC's full passes are rare, so every frame's
    # figure lingered: RSS grew ~1.8 MB per 1,000 steps in tools/soak.py (flat with this line).
    gc.collect()
    return picture


def save_picture(path: str, picture: np.ndarray) -> None:
    """A uint8 [H, W, 3] picture to PNG with Pillow, atomically (the old file stays on failure)."""
    from PIL import Image

    atomic_write(path, lambda handle: Image.fromarray(picture).save(handle, format="PNG"))


def frame_files(folder: str) -> list[str]:
    """The frame PNGs in `folder`, in step order."""
    found = []
    for entry in folder_entries(folder):
        match = _FRAME_RE.match(entry.name)
        if match and entry.is_file():
            found.append((int(match.group(1)), entry.path))
    return [path for _, path in sorted(found)]


def write_gif(paths: Sequence[str], out_path: str, frame_ms: int = GIF_FRAME_MS,
              last_ms: int = GIF_LAST_MS) -> Optional[str]:
    """Animate PNG frames into one looping GIF (Pillow); None when there is no frame."""
    from PIL import Image

    if not paths:
        return None
    frames = []
    for path in paths:
        with Image.open(path) as im:
            frames.append(im.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT))
    durations = [frame_ms] * (len(frames) - 1) + [last_ms]
    atomic_write(out_path, lambda handle: frames[0].save(
        handle, format="GIF", save_all=True, append_images=frames[1:], duration=durations,
        loop=0, disposal=1))
    return out_path


class PointFrames:
    """Snapshot writer for 2-D runs: frames every `cfg.frame_every` steps, a GIF at the end.

    The trainer calls `on_step(trainer)` after every step and `(trainer, tag)` at epoch ends
    ("epoch_XXX") and at the end ("final": the last frame, copied to final.png, and the GIF).
    With `frame_every` 0 the epoch ends make the frames.
    """

    def __init__(self, run_dir: str, count: int = FRAME_POINTS, cells: int = HEAT_CELLS) -> None:
        self.folder = os.path.join(run_dir, SAMPLES_DIR)
        self.count = count
        self.cells = cells
        self._real: Optional[np.ndarray] = None
        self._bounds: Optional[tuple[float, float, float, float]] = None

    # -------------------------------------------------------------- pieces
    def _setup(self, trainer: Any) -> None:
        if self._real is not None:
            return
        samples = trainer.data.samples
        rng = np.random.default_rng([trainer.cfg.seed, 515])
        pick = rng.choice(len(samples), min(self.count, len(samples)), replace=False)
        self._real = samples[np.sort(pick)][:, :2]
        self._bounds = view_bounds(_target_bounds(trainer.cfg.dataset, samples))

    def heat(self, trainer: Any) -> np.ndarray:
        """D's output on the view's grid [cells, cells], averaged over classes when conditional."""
        import paddle

        from paddle_gan.blocks import one_hot

        grid = heat_grid(self._bounds, self.cells)
        classes = trainer.num_classes
        was_training = trainer.D.training
        trainer.D.eval()
        try:
            with paddle.no_grad():
                x = paddle.to_tensor(grid)
                if classes:
                    total = np.zeros(len(grid))
                    for c in range(classes):
                        cond = one_hot(paddle.full([len(grid)], c, dtype="int64"), classes)
                        total += trainer.D(x, cond).numpy()
                    values = total / classes
                else:
                    values = trainer.D(x).numpy()
        finally:
            if was_training:
                trainer.D.train()
        return values.reshape(self.cells, self.cells)

    def frame(self, trainer: Any, name: str) -> str:
        """Draw the frame for the trainer's current state to samples/<name> and VisualDL."""
        from paddle_gan.models import fixed_latents

        self._setup(trainer)
        fake = trainer.sample_fixed(self.count)[:, :2]
        _, labels = fixed_latents(trainer.cfg.seed, self.count, trainer.cfg.latent_dim,
                                  trainer.num_classes)
        title = (f"{trainer.cfg.dataset} - {trainer.cfg.loss} - step {trainer.step}")
        picture = draw_frame(self._real, fake, self.heat(trainer), self._bounds, title,
                             labels, trainer.num_classes)
        path = os.path.join(self.folder, name)
        save_picture(path, picture)
        if trainer.monitor is not None:
            trainer.monitor.image("frames", trainer.step, picture)
        return path

    # -------------------------------------------------------------- trainer hooks
    def on_step(self, trainer: Any) -> Optional[str]:
        """After a step: a frame at step 1 and every `frame_every` steps."""
        every = trainer.cfg.frame_every
        step = trainer.step
        if every and (step == 1 or step % every == 0):
            return self.frame(trainer, FRAME_PATTERN.format(step=step))
        return None

    def __call__(self, trainer: Any, tag: str) -> Optional[str]:
        """Epoch ends make frames only when `frame_every` is 0; "final" also writes the GIF."""
        if tag != "final":
            if trainer.cfg.frame_every:
                return None
            return self.frame(trainer, FRAME_PATTERN.format(step=trainer.step))
        last = os.path.join(self.folder, FRAME_PATTERN.format(step=trainer.step))
        if not os.path.exists(last):
            self.frame(trainer, os.path.basename(last))
        path = os.path.join(self.folder, FINAL_NAME)
        atomic_copy(last, path)  # the state has not changed since the last frame
        write_gif(frame_files(self.folder), os.path.join(self.folder, GIF_NAME))
        return path


def _target_bounds(dataset: str, samples: np.ndarray) -> tuple[float, float, float, float]:
    """The target's plotting bounds, else the 1st-99th percentile box of the data."""
    from paddle_gan.data.toy2d import dataset_target

    try:
        return tuple(dataset_target(dataset).bounds)  # type: ignore[return-value]
    except (UserError, ValueError, OSError):  # a points data set that is not a toy2d target
        lo = np.percentile(samples[:, :2], 1, axis=0)
        hi = np.percentile(samples[:, :2], 99, axis=0)
        return (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))



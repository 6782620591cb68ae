"""Fixed-noise snapshots of the generator during training: PNG files and VisualDL images."""
from __future__ import annotations

import os
from typing import Any, Callable

from paddle_gan.checkpoint import SAMPLES_DIR
from paddle_gan.viz import make_grid, save_png



#: Conditional grids get one column per class up to this many classes (else 8 columns).
MAX_CLASS_COLUMNS = 16


class ImageSnapshots:
    """A grid of fixed-noise samples to samples/<tag>.png and VisualDL's 'samples' image: 8x8,
    or for a conditional run with K <= MAX_CLASS_COLUMNS classes 8 rows of K, one column per
    class (the fixed labels cycle through the classes)."""

    def __init__(self, run_dir: str, rows: int = 8, num_classes: int = 0) -> None:
        self.folder = os.path.join(run_dir, SAMPLES_DIR)
        self.columns = num_classes if 0 < num_classes <= MAX_CLASS_COLUMNS else 8
        self.count = rows * self.columns

    def __call__(self, trainer: Any, tag: str) -> str:
        images = trainer.sample_fixed(self.count)  # [N, C, H, W] in [0, 1]
        picture = make_grid(images, nrow=self.columns)
        path = os.path.join(self.folder, f"{tag}.png")
        save_png(path, picture)
        trainer.monitor.image("samples", trainer.step, picture)
        return path


def make_snapshot_writer(run_dir: str, sample_ndim: int,
                         num_classes: int = 0) -> Callable[[Any, str], str]:
    """The snapshot writer for a kind of sample: image grids for [N, C, H, W] (a column per
    class when conditioned on `num_classes`), training frames (points, D's heat map, GIF) for
    2-D points [N, D]."""
    if sample_ndim == 4:
        return ImageSnapshots(run_dir, num_classes=num_classes)
    if sample_ndim == 2:
        from paddle_gan.viz.frames import PointFrames  # matplotlib is loaded by 2-D runs only

        return PointFrames(run_dir)
    raise ValueError(f"no snapshot writer for samples of rank {sample_ndim}")

"""Pictures: sample grids as arrays and PNG files, and the registry of plotters.

A plotter draws what `tools/plot_samples.py` shows for one kind of run (the trainer's kind, as
its checkpoints store it): `(run, n, seed, interpolate) -> uint8 [H, W, 3] picture`. A module
of this package registers one with `register_plotter(kind, fn)` at import; every module is
imported before a look-up (`paddle_gan.discovery`), so the tool has no branch per kind.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Optional

import numpy as np

from paddle_gan.atomic import atomic_write
from paddle_gan.discovery import import_modules
from paddle_gan.errors import UserError

#: run kind -> plotter(run, n, seed, interpolate) -> picture
PLOTTERS: dict[str, Callable[[Any, int, int, bool], np.ndarray]] = {}


def register_plotter(kind: str, fn: Callable[[Any, int, int, bool], np.ndarray]) -> None:
    """Make `fn` the plotter of runs of `kind`."""
    PLOTTERS[kind] = fn


def get_plotter(kind: str) -> Callable[[Any, int, int, bool], np.ndarray]:
    """The plotter of runs of `kind`; UserError when there is none."""
    import_modules(__name__)
    if kind not in PLOTTERS:
        raise UserError(f"no plotter for {kind} runs (plotters exist for: "
                        f"{', '.join(sorted(PLOTTERS))})")
    return PLOTTERS[kind]


def make_grid(images: np.ndarray, nrow: Optional[int] = None, padding: int = 2,
              pad_value: float = 1.0) -> np.ndarray:
    """Tile float images [N, C, H, W] in [0, 1] into one uint8 picture [H', W', 3].

    nrow: images per row (default: a square-ish grid). Grayscale is repeated to RGB.
    """
    if images.ndim != 4:
        raise ValueError(f"make_grid expects [N, C, H, W], got shape {images.shape}")
    n, c, h, w = images.shape
    if c == 1:
        images = np.repeat(images, 3, axis=1)
    elif c != 3:
        raise ValueError(f"make_grid draws 1- or 3-channel images, got {c} channels")
    nrow = nrow or int(math.ceil(math.sqrt(n)))
    ncol = int(math.ceil(n / nrow))
    grid = np.full((3, ncol * (h + padding) + padding, nrow * (w + padding) + padding),
                   pad_value, dtype=np.float32)
    for index in range(n):
        row, col = divmod(index, nrow)
        top, left = padding + row * (h + padding), padding + col * (w + padding)
        grid[:, top:top + h, left:left + w] = images[index]
    return (np.clip(grid, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8).transpose(1, 2, 0)


def save_png(path: str, picture: np.ndarray) -> None:
    """Write a uint8 [H, W, 3] picture as PNG with Pillow (what matplotlib's imsave calls, without
    importing matplotlib: a training run's first sample grid would otherwise pay ~1 s for that
    import), atomically: a failed write leaves the previous file at `path`."""
    from PIL import Image

    atomic_write(path, lambda handle: Image.fromarray(picture).save(handle, format="PNG"))


def save_figure(fig: Any, path: str, **options: Any) -> None:
    """`fig.savefig(path, **options)` as PNG, atomically (see `save_png`)."""
    atomic_write(path, lambda handle: fig.savefig(handle, format="png", **options))


def _generators(trainer_or_models: Any) -> Any:
    return trainer_or_models.G if hasattr(trainer_or_models, "G") else trainer_or_models


def cyclegan_rows(trainer_or_models: Any,
                  images: tuple[Optional[np.ndarray], Optional[np.ndarray]]) -> np.ndarray:
    """One picture of rows x | G(x) | F(G(x)) (then y | F(y) | G(F(y)) in the same row).

    Args:
        trainer_or_models: a CycleGanTrainer or a GeneratorPair.
        images: (A images, B images), float [N, C, H, W] in [0, 1]; either may be None to draw
            one direction only; with both, min(N_A, N_B) rows.

    Returns:
        uint8 [H', W', 3] picture (3 or 6 columns).
    """
    generators = _generators(trainer_or_models)
    images_a, images_b = images
    columns = []
    for x, there, back in ((images_a, "AtoB", "BtoA"), (images_b, "BtoA", "AtoB")):
        if x is None:
            continue
        moved = generators.translate(x, there)
        columns += [np.asarray(x, np.float32), moved, generators.translate(moved, back)]
    if not columns:
        raise ValueError("cyclegan_rows needs images of at least one domain")
    rows = min(len(c) for c in columns)
    tiles = np.stack([c[:rows] for c in columns], axis=1)  # [rows, cols, C, H, W]
    return make_grid(tiles.reshape(-1, *tiles.shape[2:]), nrow=len(columns))

"""tools/plot_samples.py for CycleGAN runs: each domain's images beside their translations."""
from __future__ import annotations

from typing import Callable

import numpy as np

from paddle_gan.io.runs import LoadedRun
from paddle_gan.viz import cyclegan_rows, register_plotter


def sample_rows(target: str, count: int = 8, split: str = "test",
                warn: Callable[[str], None] = print) -> np.ndarray:
    """The rows picture (a | G(a) | F(G(a)) | b | F(b) | G(F(b))) of a CycleGAN run for the first
    `count` images of each domain of its data set's `split`."""
    from paddle_gan.io.translate import load_generators
    from paddle_gan.models import prepare_data

    cfg, generators = load_generators(target, warn=warn)
    data = prepare_data(cfg, split)
    return cyclegan_rows(generators, (data.samples[:count], data.samples_b[:count]))


def cyclegan_picture(run: LoadedRun, n: int, seed: int, interpolate: bool) -> np.ndarray:
    """plot_samples' picture of a CycleGAN run: `sample_rows` of n test images per domain (a
    translation has no latents, so `seed` and `interpolate` do not apply)."""
    return sample_rows(run.checkpoint.path, count=n)


register_plotter("cyclegan", cyclegan_picture)

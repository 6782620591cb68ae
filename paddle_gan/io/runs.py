"""Reading a run back: its checkpoint and config, its data, and its generator in eval mode.

Shared by `tools/eval.py`, `tools/plot_samples.py` and the loss comparison; nothing here
depends on the kind of metric computed.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from paddle_gan import checkpoint as ckpt_io
from paddle_gan.config import TrainConfig, architecture_differences, checked_stored, from_dict
from paddle_gan.data import ArrayData
from paddle_gan.errors import UserError

#: a run folder's config.json
CONFIG_FILE = "config.json"
#: a config.json is a few kB; what is beyond this is never read
MAX_CONFIG_JSON_BYTES = 1 << 20


@dataclass
class LoadedRun:
    """A checkpoint with its stored config; `run_dir` is None for a file outside a run folder."""

    checkpoint: ckpt_io.Checkpoint
    cfg: TrainConfig
    run_dir: Optional[str]
    splits: dict[str, ArrayData] = field(default_factory=dict, repr=False)  # load_split's cache

    @property
    def step(self) -> int:
        return self.checkpoint.step

    @property
    def stored_kind(self) -> str:
        """The trainer's kind as written in the checkpoint ("gan", "cyclegan", ...)."""
        return str(self.checkpoint.meta.get("kind", "gan"))


def run_dir_of(target: str) -> Optional[str]:
    """The run folder of a run folder or of a file in its checkpoints/ folder, else None."""
    if os.path.isdir(target):
        return target
    parent = os.path.dirname(os.path.abspath(target))
    if os.path.basename(parent) == ckpt_io.CHECKPOINT_DIR:
        return os.path.dirname(parent)
    return None


def load_run(target: str, warn: Callable[[str], None] = print) -> LoadedRun:
    """A run folder (its newest checkpoint) or a checkpoint file, with the config it stores.

    UserError (one line) when `target` does not exist, holds no checkpoint, or the checkpoint
    has no stored config.
    """
    if not os.path.exists(target):
        raise UserError(f"--checkpoint {target}: no such file or folder")
    run_dir = run_dir_of(target)
    folder_cfg = folder_config(run_dir) if run_dir is not None else None

    def accept(checkpoint: ckpt_io.Checkpoint) -> None:
        cfg = stored_config(checkpoint)
        differing = architecture_differences(folder_cfg, cfg) if folder_cfg else []
        if differing:
            details = ", ".join(f"{k}: {getattr(folder_cfg, k)!r} -> {getattr(cfg, k)!r}"
                                for k in differing)
            raise UserError(f"{checkpoint.path} is not a checkpoint of the run in {run_dir}: it "
                            f"was made with other settings than its {CONFIG_FILE} ({details})")

    checkpoint = ckpt_io.resolve_checkpoint(target, warn=warn, accept=accept)
    return LoadedRun(checkpoint, stored_config(checkpoint), run_dir)


def stored_config(checkpoint: ckpt_io.Checkpoint) -> TrainConfig:
    """The config a checkpoint stores, checked as a command line's would be (sizes, rates,
    choices) before anything is built from it; UserError naming the checkpoint otherwise."""
    stored = checkpoint.meta.get("config")
    if not isinstance(stored, dict):
        raise UserError(f"{checkpoint.path} has no stored config: not a paddle_gan run checkpoint")
    return checked_stored(from_dict(stored), checkpoint.path)


def folder_config(run_dir: str) -> Optional[TrainConfig]:
    """The run folder's config.json, checked like a stored config; None when there is none."""
    path = os.path.join(run_dir, CONFIG_FILE)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, "rb") as handle:
            doc = json.loads(handle.read(MAX_CONFIG_JSON_BYTES + 1)[:MAX_CONFIG_JSON_BYTES])
    except (OSError, ValueError) as exc:
        raise UserError(f"{path} is damaged ({type(exc).__name__}): not a run's config") from None
    if not isinstance(doc, dict):
        raise UserError(f"{path} holds a {type(doc).__name__}, not a run's config")
    return checked_stored(from_dict(doc), path)


def load_split(run: LoadedRun, split: str) -> ArrayData:
    """The run's data set split, resized as for training (`prepare_data`); loaded once per run."""
    from paddle_gan.models import prepare_data

    if split not in run.splits:
        run.splits[split] = prepare_data(run.cfg, split)
    return run.splits[split]


def sample_module(meta: dict) -> str:
    """The network a run samples from: G's weight average when the run kept one (--g-ema),
    what its sample grids showed; else G."""
    return "G_ema" if "G_ema" in meta.get("modules", []) else "G"


def build_generator(run: LoadedRun, data: ArrayData):
    """The run's generator rebuilt from its config, weights restored, in eval mode."""
    from paddle_gan.models import build_models
    from paddle_gan.models import data_spec

    try:
        generator, _ = build_models(run.cfg, data_spec(run.cfg, data))
    except ValueError as exc:
        raise UserError(f"{run.checkpoint.path}: cannot rebuild its model: {exc}") from None
    ckpt_io.restore(run.checkpoint, {sample_module(run.checkpoint.meta): generator}, {})
    generator.eval()
    return generator


#: the random stream of evaluation latents, apart from the run's fixed noise, so that evaluation
#: samples are not the images the run showed while training
EVAL_LATENT_STREAM = 7_770_777


def eval_latents(seed: int, n: int, latent_dim: int, num_classes: int
                 ) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """`fixed_latents` of the evaluation stream: z [n, latent_dim] from `seed` (and class labels
    cycling 0..C-1 when conditional)."""
    from paddle_gan.models import fixed_latents

    return fixed_latents(seed, n, latent_dim, num_classes, stream=EVAL_LATENT_STREAM)


def generate(generator, z: np.ndarray, labels: Optional[np.ndarray], num_classes: int,
             batch_size: int = 500) -> np.ndarray:
    """Run `generator` on latents in batches (no gradients); output mapped to [0, 1] via its
    `output_range` (the inverse of what the trainer does to the data)."""
    import paddle

    from paddle_gan.blocks import one_hot
    from paddle_gan.models import to_unit_range

    value_range = getattr(generator, "output_range", (0.0, 1.0))
    out = []
    with paddle.no_grad():
        for start in range(0, len(z), batch_size):
            cond = None
            if num_classes and labels is not None:
                cond = one_hot(paddle.to_tensor(labels[start:start + batch_size]), num_classes)
            batch = generator(paddle.to_tensor(z[start:start + batch_size]), cond)
            out.append(to_unit_range(batch.numpy(), value_range))
    return np.concatenate(out).astype(np.float32)


def latent_dim_of(generator, cfg: TrainConfig) -> int:
    """The generator's `latent_dim` class attribute, else the config's."""
    return int(getattr(generator, "latent_dim", cfg.latent_dim))


def sample_run(run: LoadedRun, data: ArrayData, n: int, seed: int = 0,
               batch_size: int = 500) -> np.ndarray:
    """`n` samples of the run's generator in eval mode, in [0, 1] for image runs."""
    generator = build_generator(run, data)
    num_classes = data.num_classes if run.cfg.conditional else 0
    z, labels = eval_latents(seed, n, latent_dim_of(generator, run.cfg), num_classes)
    return generate(generator, z, labels, num_classes, batch_size)

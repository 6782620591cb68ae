"""Model registry: a name maps to a builder of the (generator, discriminator) pair.

Every generator takes `(z, cond=None)` and every discriminator `(x, cond=None)`, returning raw
scores of shape [N]. A generator carries `latent_dim` and `output_range` ((0, 1) for a sigmoid
output, (-1, 1) for tanh); the trainer maps the data's [0, 1] images into that range, so adding a
model adds no branch to the trainer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

import numpy as np
import paddle.nn as nn

from paddle_gan.data import ArrayData, load_dataset, resize_images
from paddle_gan.discovery import import_modules
from paddle_gan.errors import UserError


@dataclass(frozen=True)
class DataSpec:
    """What a model needs to know about its data: one sample's shape and the class count."""

    shape: tuple[int, ...]  # (C, H, W) for images, (D,) for points
    num_classes: int = 0  # > 0 when the model is conditioned on a one-hot class


@dataclass(frozen=True)
class ModelEntry:
    """Everything the package knows about one model, kept in the model's own file.

    build: (cfg, data spec) -> (generator, discriminator).
    image_size: native image size -> the size the model needs (None: any size).
    conditional: whether the model supports a one-hot condition.
    summary: one line for the docs and listings.
    trainer: the kind of trainer that trains it (`paddle_gan.train` registers one per kind;
        "gan": one G against one D).
    defaults: (settings the config file and the flags gave, the TrainConfig defaults) ->
        this model's defaults; each fills a key neither the file nor a flag set, and wins over
        the loss's default for that key.
    settings: the settings only this model reads; every other model refuses a value other than
        the TrainConfig default.
    check: raises UserError for a resolved config this model cannot train.
    stored_defaults: what a stored config of this model that lacks a setting meant (settings
        added after such runs were stored; absent: the TrainConfig default).
    """

    build: Callable[[Any, DataSpec], tuple[nn.Layer, nn.Layer]]
    image_size: Optional[Callable[[int], int]] = None
    conditional: bool = False
    summary: str = ""
    trainer: str = "gan"
    defaults: Optional[Callable[[Mapping[str, Any], Any], dict[str, Any]]] = None
    settings: tuple[str, ...] = ()
    check: Optional[Callable[[Any], None]] = None
    stored_defaults: Mapping[str, Any] = field(default_factory=dict)


MODELS: dict[str, ModelEntry] = {}


def register(name: str, entry: ModelEntry) -> None:
    """Add a model to the registry (called by each model module at import)."""
    MODELS[name] = entry


def find_model(name: str) -> Optional[ModelEntry]:
    """The registered model `name`, or None."""
    import_modules(__name__)
    return MODELS.get(name)


def get_model(name: str) -> ModelEntry:
    """Look a model up by name; ValueError lists the valid names."""
    entry = find_model(name)
    if entry is None:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(model_names())}")
    return entry


def model_names() -> list[str]:
    """The registered models' names, sorted."""
    import_modules(__name__)
    return sorted(MODELS)


def build_models(cfg: Any, spec: DataSpec) -> tuple[nn.Layer, nn.Layer]:
    """Build the (generator, discriminator) pair named by `cfg.model` for data `spec`."""
    entry = get_model(cfg.model)
    if spec.num_classes and not entry.conditional:
        raise ValueError(f"model {cfg.model!r} has no conditional variant")
    return entry.build(cfg, spec)


# ----------------------------------------------------------------------------- data for a model
def prepare_data(cfg: Any, split: str = "train") -> ArrayData:
    """Load the data set and resize images to the size the model needs (or cfg.image_size);
    UserError when --conditional meets a set without labels or with labels out of range."""
    data = load_dataset(cfg, split)
    if data.samples.ndim == 4:
        entry = get_model(cfg.model)
        native = data.samples.shape[-1]
        size = cfg.image_size or (entry.image_size(native) if entry.image_size else native)
        data.samples = resize_images(data.samples, size)
    if cfg.conditional and not data.num_classes:
        raise UserError(f"--conditional: data set {cfg.dataset!r} has no class labels")
    if cfg.conditional and data.labels is not None and len(data.labels) and (
            data.labels.min() < 0 or data.labels.max() >= data.num_classes):
        raise UserError(f"--conditional: data set {cfg.dataset!r} ({split}) has labels "
                        f"{int(data.labels.min())}..{int(data.labels.max())}, outside the "
                        f"{data.num_classes} classes 0..{data.num_classes - 1}")
    return data


def data_spec(cfg: Any, data: ArrayData) -> DataSpec:
    """The DataSpec of `data` as `cfg` trains on it (classes only when conditional)."""
    return DataSpec(tuple(data.samples.shape[1:]), data.num_classes if cfg.conditional else 0)


# ----------------------------------------------------------------------------- output range, latents
#: the random stream of a run's fixed noise (the training snapshots' latents)
FIXED_NOISE_STREAM = 424242


def fixed_latents(seed: int, n: int, latent_dim: int, num_classes: int,
                  stream: int = FIXED_NOISE_STREAM) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """Latents z [n, latent_dim] drawn from (seed, stream), and class labels cycling 0..C-1
    for conditional models; by default the run's fixed noise."""
    rng = np.random.default_rng([seed, stream])
    z = rng.standard_normal((n, latent_dim)).astype(np.float32)
    labels = (np.arange(n) % num_classes).astype(np.int64) if num_classes else None
    return z, labels


def to_unit_range(x: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """Map generator output from its range to [0, 1]."""
    low, high = value_range
    return (x - low) / (high - low)


def from_unit_range(x: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """Map [0, 1] data to a generator's output range."""
    low, high = value_range
    return x * (high - low) + low

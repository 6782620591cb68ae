"""Model registry: a name maps to a builder of the (generator, discriminator) pair.

Every generator takes `(z, cond=None)` and every discriminator `(x, cond=None)`, returning raw
scores of shape [N]. A generator carries `latent_dim` and `output_range` ((0, 1) for a sigmoid
output, (-1, 1) for tanh); the trainer maps the data's [0, 1] images into that range, so adding a
model adds no branch to the trainer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import paddle.nn as nn


@dataclass(frozen=True)
class DataSpec:
    """What a model needs to know about its data: one sample's shape and the class count."""

    shape: tuple[int, ...]  # (C, H, W) for images, (D,) for points
    num_classes: int = 0  # > 0 when the model is conditioned on a one-hot class


@dataclass(frozen=True)
class ModelEntry:
    """How to build a model pair and which image size it needs for a data set."""

    build: Callable[[Any, DataSpec], tuple[nn.Layer, nn.Layer]]
    image_size: Optional[Callable[[int], int]] = None  # native size -> size the model needs
    conditional: bool = False  # supports a one-hot condition
    summary: str = ""


MODELS: dict[str, ModelEntry] = {}


def register(name: str, entry: ModelEntry) -> None:
    """Add a model to the registry (called by each model module at import)."""
    MODELS[name] = entry


def get_model(name: str) -> ModelEntry:
    """Look a model up by name; ValueError lists the valid names."""
    _import_all()
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(sorted(MODELS))}")
    return MODELS[name]


def model_names() -> list[str]:
    _import_all()
    return sorted(MODELS)


def build_models(cfg: Any, spec: DataSpec) -> tuple[nn.Layer, nn.Layer]:
    """Build the (generator, discriminator) pair named by `cfg.model` for data `spec`."""
    entry = get_model(cfg.model)
    if spec.num_classes and not entry.conditional:
        raise ValueError(f"model {cfg.model!r} has no conditional variant")
    return entry.build(cfg, spec)


def _import_all() -> None:
    """Import every module of this package: each registers its models (no hand-kept list)."""
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")

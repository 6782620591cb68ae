"""Training: optimizers, the D/G steps, the fit loop and the run driver.

Each trainer module registers its trainer class at import under the trainer's kind (its
`checkpoint_kind`, what its checkpoints store); a model's `ModelEntry.trainer` names the kind
that trains it, so the run driver has no branch per model.
"""
from __future__ import annotations

from paddle_gan.discovery import import_modules

#: trainer kind -> trainer class
TRAINERS: dict[str, type] = {}


def register_trainer(cls: type) -> None:
    """Make `cls` the trainer of its kind (`cls.checkpoint_kind`)."""
    TRAINERS[cls.checkpoint_kind] = cls


def get_trainer(kind: str) -> type:
    """The trainer class of `kind`; ValueError lists the known kinds."""
    import_modules(__name__)
    if kind not in TRAINERS:
        raise ValueError(f"no trainer of kind {kind!r}; known: {', '.join(sorted(TRAINERS))}")
    return TRAINERS[kind]

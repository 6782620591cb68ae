"""Every training setting in one place, with its documented default.

Precedence: dataclass defaults < per-loss defaults (LOSS_DEFAULTS, from the papers) < the YAML
file (`--config`) < command-line flags. Unknown YAML keys and bad values are errors. A field left
`None` is "filled in by `resolve`" from the loss / model tables.
"""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field, fields
from typing import Any, Optional, Union, get_args, get_origin, get_type_hints

import yaml

from paddle_gan.errors import UserError


def _opt(default: Any, help: str, choices: Optional[tuple] = None, **extra: Any) -> Any:
    return field(default=default, metadata={"help": help, "choices": choices, **extra})


@dataclass
class TrainConfig:
    """A run's complete configuration; stored in the run folder and in every checkpoint."""

    # what to train
    model: str = _opt("seed", "network pair from the model registry (seed, dcgan, mlp, toy, ...)")
    loss: str = _opt("gan", "adversarial loss", ("gan", "minimax", "lsgan", "wgan", "wgangp"))
    dataset: str = _opt("mnist", "mnist (full, else the embedded subset), mnist5k, cifar10, ...")
    data_dir: Optional[str] = _opt(None, "folder with the data set's files (e.g. MNIST idx files)")
    conditional: bool = _opt(False, "condition G and D on a one-hot class vector")
    # length
    epochs: int = _opt(100, "passes over the data (the tutorial's 100)")
    max_steps: Optional[int] = _opt(None, "stop after this many discriminator steps (batches)")
    batch_size: int = _opt(64, "images per batch")
    # schedule and optimisation (None = the loss's default from LOSS_DEFAULTS)
    k: Optional[int] = _opt(None, "discriminator steps per generator step (tutorial 3, WGAN 5)")
    optimizer: Optional[str] = _opt(None, "adam or rmsprop", ("adam", "rmsprop"))
    lr_g: Optional[float] = _opt(None, "generator learning rate")
    lr_d: Optional[float] = _opt(None, "discriminator learning rate")
    beta1: Optional[float] = _opt(None, "Adam beta1 (0.5 in DCGAN and the tutorial)")
    beta2: Optional[float] = _opt(None, "Adam beta2")
    clip_grad: Optional[float] = _opt(None, "clip gradients by global norm (off, as the tutorial)")
    weight_clip: Optional[float] = _opt(None, "WGAN critic weight clipping bound c")
    gp_lambda: Optional[float] = _opt(None, "WGAN-GP penalty weight lambda")
    label_smoothing: float = _opt(1.0, "target for real samples in D's loss (0.9 = one-sided)")
    # architecture
    width: int = _opt(128, "base channel count (the tutorial's 128; smaller is faster)")
    latent_dim: int = _opt(100, "length of z (the seed model needs 100)")
    activation: str = _opt("leaky_relu", "ConvBN activation", ("leaky_relu", "mish", "relu"))
    d_norm: Optional[str] = _opt(None, "norm in D (batch; none for wgangp)",
                                 ("batch", "instance", "none"))
    d_head: str = _opt("linear", "transform of D's output before the loss (tanh: tutorial LSGAN)",
                       ("linear", "tanh"))
    image_size: Optional[int] = _opt(None, "resize images to this size (default: model's choice)")
    # run
    seed: int = _opt(0, "random seed: same seed, same run")
    output: Optional[str] = _opt(None, "run folder (default work/runs/<model>_<loss>)")
    device: str = _opt("auto", "auto (GPU if any), cpu or gpu", ("auto", "cpu", "gpu"))
    threads: Optional[int] = _opt(None, "CPU threads (default: every usable core)")
    resume: Optional[str] = _opt(None, "continue from a checkpoint file, or 'latest' in --output")
    log_every: int = _opt(100, "print the tutorial's summary line every N steps")
    scalar_every: int = _opt(1, "write VisualDL scalars every N steps")
    sample_every: int = _opt(1, "save the fixed-noise sample grid every N epochs")
    save_every: int = _opt(10, "write a checkpoint every N epochs (the tutorial's 10)")
    keep_checkpoints: int = _opt(3, "how many recent checkpoints to keep")
    progress: bool = _opt(True, "show a progress bar")


#: Paper / tutorial defaults per loss; `resolve` fills every None field from here.
LOSS_DEFAULTS: dict[str, dict[str, Any]] = {
    # The tutorial: Adam(2e-4, 0.5, 0.999) for both nets, D every batch and G every 3rd.
    "gan": dict(k=3, optimizer="adam", lr_g=2e-4, lr_d=2e-4, beta1=0.5, beta2=0.999,
                d_norm="batch"),
    "minimax": dict(k=3, optimizer="adam", lr_g=2e-4, lr_d=2e-4, beta1=0.5, beta2=0.999,
                    d_norm="batch"),
    "lsgan": dict(k=3, optimizer="adam", lr_g=2e-4, lr_d=2e-4, beta1=0.5, beta2=0.999,
                  d_norm="batch"),
    # WGAN paper: RMSProp 5e-5, clipping 0.01, n_critic 5.
    "wgan": dict(k=5, optimizer="rmsprop", lr_g=5e-5, lr_d=5e-5, weight_clip=0.01,
                 d_norm="batch"),
    # WGAN-GP with the seed's settings: n_critic 5, lambda 10, Adam(1e-4, 0.5, 0.999); no BN in
    # the critic (the penalty is per sample).
    "wgangp": dict(k=5, optimizer="adam", lr_g=1e-4, lr_d=1e-4, beta1=0.5, beta2=0.999,
                   gp_lambda=10.0, d_norm="none"),
}
_FALLBACKS = dict(beta1=0.5, beta2=0.999, weight_clip=0.01, gp_lambda=10.0)

#: Keys that define the networks and objective: `--resume` refuses when any of them changed.
ARCHITECTURE_KEYS = ("model", "loss", "dataset", "conditional", "width", "latent_dim",
                     "activation", "d_norm", "d_head", "image_size")


def config_fields() -> dict[str, dataclasses.Field]:
    return {f.name: f for f in fields(TrainConfig)}


def _base_type(name: str) -> type:
    hint = get_type_hints(TrainConfig)[name]
    if get_origin(hint) is Union:
        hint = next(a for a in get_args(hint) if a is not type(None))
    return hint


def coerce_value(name: str, value: Any) -> Any:
    """Convert a YAML or flag value to the field's type; UserError names the key on failure."""
    base = _base_type(name)
    if value is None:
        return None
    try:
        if base is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("true", "yes", "1", "on"):
                return True
            if text in ("false", "no", "0", "off"):
                return False
            raise ValueError
        if base is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(str(value)) if not isinstance(value, (int, float)) else int(value)
        if base is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)  # YAML reads 2e-4 as a string
        return str(value)
    except (TypeError, ValueError):
        raise UserError(f"{name}: expected {base.__name__}, got {value!r}") from None


def load_yaml(path: str) -> dict[str, Any]:
    """Read a YAML config: a mapping of TrainConfig keys (dashes or underscores)."""
    if not os.path.isfile(path):
        raise UserError(f"config file not found: {path}")
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"config file {path} is not valid YAML: {first}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"config file {path} must hold a mapping of keys, not {type(data).__name__}")
    known = config_fields()
    out = {}
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name not in known:
            raise UserError(f"config file {path}: unknown key {key!r}")
        out[name] = coerce_value(name, value)
    return out


def make_config(overrides: dict[str, Any], config_file: Optional[str] = None) -> TrainConfig:
    """Defaults < YAML file < overrides (already typed, e.g. from argparse), then `resolve`."""
    values = load_yaml(config_file) if config_file else {}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return resolve(TrainConfig(**values))


def resolve(cfg: TrainConfig) -> TrainConfig:
    """Fill the None fields from the loss's defaults and validate every value."""
    if cfg.loss not in LOSS_DEFAULTS:
        raise UserError(f"loss: unknown value {cfg.loss!r}; choose from {', '.join(LOSS_DEFAULTS)}")
    filled = dataclasses.replace(cfg)
    for key, value in {**_FALLBACKS, **LOSS_DEFAULTS[cfg.loss]}.items():
        if getattr(filled, key) is None:
            setattr(filled, key, value)
    if filled.output is None:
        filled.output = os.path.join("work", "runs", f"{filled.model}_{filled.loss}")
    validate(filled)
    return filled


def validate(cfg: TrainConfig) -> None:
    """Raise UserError (one line naming the key) for any out-of-range or unknown value."""
    for f in fields(cfg):
        value = getattr(cfg, f.name)
        choices = f.metadata.get("choices")
        if choices and value is not None and value not in choices:
            raise UserError(f"{f.name}: {value!r} is not one of {', '.join(choices)}")
    from paddle_gan.models import model_names

    if cfg.model not in model_names():
        raise UserError(f"model: unknown value {cfg.model!r}; choose from {', '.join(model_names())}")
    positive = ("epochs", "batch_size", "k", "width", "latent_dim", "log_every", "scalar_every",
                "sample_every", "save_every", "keep_checkpoints", "max_steps", "threads",
                "image_size")
    for name in positive:
        value = getattr(cfg, name)
        if value is not None and value < 1:
            raise UserError(f"{name}: must be at least 1, got {value}")
    for name in ("lr_g", "lr_d", "weight_clip", "clip_grad"):
        value = getattr(cfg, name)
        if value is not None and not value > 0:
            raise UserError(f"{name}: must be positive, got {value}")
    if cfg.gp_lambda is not None and cfg.gp_lambda < 0:
        raise UserError(f"gp_lambda: must be non-negative, got {cfg.gp_lambda}")
    for name in ("beta1", "beta2"):
        value = getattr(cfg, name)
        if value is not None and not 0.0 <= value < 1.0:
            raise UserError(f"{name}: must be in [0, 1), got {value}")
    if not 0.0 < cfg.label_smoothing <= 1.0:
        raise UserError(f"label_smoothing: must be in (0, 1], got {cfg.label_smoothing}")
    if cfg.loss == "wgangp" and cfg.d_norm == "batch":
        pass  # allowed to mirror the tutorial exactly; the README explains why it is not default


def to_dict(cfg: TrainConfig) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def from_dict(data: dict[str, Any]) -> TrainConfig:
    """Rebuild a stored config; keys this version does not know are an error."""
    known = config_fields()
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise UserError(f"stored config has unknown keys: {', '.join(unknown)}")
    return TrainConfig(**data)


def save_json(cfg: TrainConfig, path: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(to_dict(cfg), handle, indent=2, sort_keys=True)


def architecture_differences(old: TrainConfig, new: TrainConfig) -> list[str]:
    """Names of ARCHITECTURE_KEYS whose values differ (resuming across them is refused)."""
    return [k for k in ARCHITECTURE_KEYS if getattr(old, k) != getattr(new, k)]

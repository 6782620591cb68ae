"""Every training setting in one place, with its documented default.

Precedence: dataclass defaults < per-loss defaults (LOSS_DEFAULTS, from the papers) < per-model
defaults (each model's `ModelEntry.defaults`) < the YAML file (`--config`) < command-line flags.
Unknown YAML keys and bad values are errors. A field left `None` is "filled in by `resolve`"
from the loss / model tables.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field, fields
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Optional, Union, get_args, get_origin, get_type_hints

import numpy as np
import yaml

from paddle_gan.errors import UserError


#: the shipped experiment files (paddle_gan/configs/*.yaml)
CONFIG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")


def _opt(default: Any, help: str, choices: Optional[tuple] = None, **extra: Any) -> Any:
    return field(default=default, metadata={"help": help, "choices": choices, **extra})


@dataclass
class TrainConfig:
    """A run's complete configuration; stored in the run folder and in every checkpoint."""

    # what to train
    model: str = _opt("seed", "network pair from the model registry (seed, dcgan, mlp, toy, ...)")
    loss: str = _opt("gan", "adversarial loss: a name from paddle_gan.losses.LOSSES (gan, "
                          "minimax, lsgan, wgan, wgangp)")
    dataset: str = _opt("mnist", "mnist (full, else the embedded subset), mnist5k, cifar10, ...")
    data_dir: Optional[str] = _opt(None, "folder with the data set's files (e.g. MNIST idx files)")
    conditional: bool = _opt(False, "condition G and D on a one-hot class vector")
    # length
    epochs: int = _opt(100, "passes over the data (the tutorial's 100)")
    max_steps: Optional[int] = _opt(None, "stop after this many discriminator steps (batches)")
    batch_size: int = _opt(64, "images per batch")
    # schedule and optimisation (None = the loss's default from LOSS_DEFAULTS)
    k: Optional[int] = _opt(None, "discriminator steps per generator step (tutorial 3, WGAN 5)")
    k_schedule: Optional[str] = _opt(None, "constant (k D steps per G step) or wgan (the WGAN "
                                     "code: 100 D steps for the first 25 G steps and every 500th)",
                                     ("constant", "wgan"))
    optimizer: Optional[str] = _opt(None, "adam or rmsprop", ("adam", "rmsprop"))
    lr_g: Optional[float] = _opt(None, "generator learning rate")
    lr_d: Optional[float] = _opt(None, "discriminator learning rate")
    beta1: Optional[float] = _opt(None, "Adam beta1 (0.5 in DCGAN and the tutorial)")
    beta2: Optional[float] = _opt(None, "Adam beta2")
    clip_grad: Optional[float] = _opt(None, "clip gradients by global norm (off, as the tutorial)")
    weight_clip: Optional[float] = _opt(None, "WGAN critic weight clipping bound c")
    gp_lambda: Optional[float] = _opt(None, "WGAN-GP penalty weight lambda")
    label_smoothing: Optional[float] = _opt(None, "target for real samples in D's loss (0.9 = "
                                            "one-sided smoothing; 1 = off)")
    g_ema: Optional[float] = _opt(None, "sample, evaluate and export an exponential moving average "
                                        "of G's weights with this decay per G step (0 = off; "
                                        "e.g. 0.999)")
    lr_decay: Optional[str] = _opt(None, "decay both learning rates to 0 over the run (none, "
                                   "linear or cosine)", ("none", "linear", "cosine"))
    # architecture
    width: int = _opt(128, "base channel count (the tutorial's 128; smaller is faster)")
    latent_dim: int = _opt(100, "length of z (the seed model needs 100)")
    activation: str = _opt("leaky_relu", "ConvBN activation", ("leaky_relu", "mish", "relu"))
    d_norm: Optional[str] = _opt(None, "norm in D (batch; none for wgangp)",
                                 ("batch", "instance", "none"))
    d_batches: str = _opt("joint", "real and fake through D as one batch (joint: shared batch-norm "
                          "statistics) or as two (separate: the tutorial's code)",
                          ("joint", "separate"))
    d_head: str = _opt("linear", "transform of D's output before the loss (tanh: tutorial LSGAN)",
                       ("linear", "tanh"))
    g_input: str = _opt("dense", "seed generator: how z becomes its 1x10x10 map (dense: a linear "
                        "layer first, so the map is not i.i.d. noise; reshape: the tutorial's)",
                        ("dense", "reshape", "coords"))
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
    # model zoo
    classes: Optional[str] = _opt(None, "train on these classes only: names or indices, "
                                  "comma-separated (e.g. horse, or 7,horse); CIFAR-10")
    dropout: float = _opt(0.2, "dropout rate after the DCGAN generator's dense block (0 = off)")
    d_dropout: float = _opt(0.0, "dropout rate after each hidden layer of the MLP discriminator "
                            "(0 = off)")
    # CycleGAN
    lambda_cyc: float = _opt(10.0, "CycleGAN cycle-consistency weight lambda_cyc (paper: 10)")
    lambda_identity: float = _opt(0.5, "CycleGAN identity-loss weight as a fraction of lambda_cyc "
                                       "(paper: 0.5; 0 disables it)")
    pool_size: int = _opt(50, "CycleGAN history pool of generated images shown to D (0 = off)")
    decay_epochs: Optional[int] = _opt(None, "CycleGAN: epochs of linear LR decay to 0 after "
                                             "--epochs (default: = epochs, the paper's 100 + 100)")
    n_blocks: Optional[int] = _opt(None, "CycleGAN generator residual blocks (default: 6 up to "
                                         "128 px, 9 above)")
    d_layers: Optional[int] = _opt(None, "CycleGAN PatchGAN stride-2 convs (3 = 70x70 patches; "
                                         "default: 3 from 64 px, 2 (34x34) below)")
    # evaluation
    eval_every: Optional[int] = _opt(None, "every N steps log FID/KID/class coverage on a fixed "
                                           "held-out subset (off)")
    keep_best: bool = _opt(False, "with eval_every: keep the lowest-FID checkpoint as "
                                  "checkpoints/best.npz")
    # 2-D toy GANs
    depth: int = _opt(3, "hidden layers of the toy model's MLPs (each --width units)")
    g_norm: str = _opt("none", "norm after each hidden layer of the MLP and toy generators",
                       ("batch", "none"))
    num_points: int = _opt(100_000, "2-D data sets: points drawn once (run seed) as the pool")
    frame_every: int = _opt(500, "2-D runs: draw a training frame every N steps (0 = epoch ends)")
    # reliability
    save_every_steps: Optional[int] = _opt(None, "also write a checkpoint every N steps (off; "
                                                 "for long epochs)")
    init_from: Optional[str] = _opt(None, "start a new run from these weights: a checkpoint .npz "
                                          "or run folder, or tutorial .pdparams files "
                                          "(comma-separated; need --trust-checkpoint)")
    allow_change: Optional[str] = _opt(None, "with --resume: settings that may differ from the "
                                               "run's (comma-separated, e.g. lr_g,lr_d; data for "
                                               "other training data; lr_horizon for another "
                                               "lr_decay horizon); any other change of what a "
                                               "step computes is refused")
    trust_checkpoint: bool = _opt(False, "allow --init-from to unpickle .pdparams files (pickle "
                                         "can run code: only for files you trust); a command-"
                                         "line flag only, never read from a config file or a "
                                         "stored run")
    max_memory: Optional[float] = _opt(None, "memory in GiB the run may use: a run whose "
                                             "estimate is above it is refused before it starts "
                                             "(default: the machine's memory)")
    # VisualDL extras
    histogram_every: int = _opt(500, "write VisualDL histograms of G's and D's weights and "
                                     "gradients every N steps (0 = off)")
    # speed
    onednn: Optional[bool] = _opt(None, "CPU: run on oneDNN kernels the Conv2D layers they "
                                        "win on (default: on when those cost >= 40 MFLOP per "
                                        "batch, e.g. the quickstart and the seed model at "
                                        "batch 64)")
    to_static: bool = _opt(False, "compile G's and D's forwards with paddle.jit.to_static")
    amp: bool = _opt(False, "mixed precision: float16 autocast + loss scaling (GPU; Paddle's CPU "
                            "build has none, so on CPU it is reported and ignored)")


class _LossDefaults(Mapping):
    """Loss name -> its default settings, read from `paddle_gan.losses.LOSSES` on every access
    (so a loss registered later, e.g. by a test, is known here too)."""

    def __getitem__(self, name: str) -> dict[str, Any]:
        from paddle_gan.losses import LOSSES

        return dict(LOSSES[name].defaults)

    def __iter__(self):
        from paddle_gan.losses import LOSSES

        return iter(LOSSES)

    def __len__(self) -> int:
        from paddle_gan.losses import LOSSES

        return len(LOSSES)


#: Paper / tutorial defaults per loss (each LOSSES entry carries its own); `resolve` fills every
#: None field from here.
LOSS_DEFAULTS: Mapping[str, dict[str, Any]] = _LossDefaults()
_FALLBACKS = dict(beta1=0.5, beta2=0.999, weight_clip=0.01, gp_lambda=10.0, k_schedule="constant",
                  label_smoothing=1.0, g_ema=0.0, lr_decay="none")

#: Keys that define the networks and objective: `--resume` refuses when any of them changed.
ARCHITECTURE_KEYS = ("model", "loss", "dataset", "conditional", "width", "latent_dim",
                     "activation", "d_norm", "d_head", "g_input", "image_size",
                     "classes",  # classes: model zoo
                     "n_blocks", "d_layers",  # CycleGAN
                     "depth", "g_norm",  # 2-D toy GANs; g_norm: MLP too
                     "g_ema",  # the averaged generator is a network of the checkpoint
                     "d_dropout",  # MLP: the dropout layers shift D's layer names
                     "pool_size")  # CycleGAN: the history pools' buffers hold this many images


#: Keys that change what the next step computes: `--resume` refuses a change of any of them
#: unless `--allow-change` names it (architecture keys can never change).
STEP_KEYS = ("batch_size", "seed", "k", "k_schedule", "optimizer", "lr_g", "lr_d", "beta1",
             "beta2", "clip_grad", "weight_clip", "gp_lambda", "label_smoothing", "d_batches",
             "lr_decay", "dropout", "data_dir", "num_points",
             "lambda_cyc", "lambda_identity", "decay_epochs")  # CycleGAN


#: What `--allow-change` names to take another learning-rate decay horizon: an `lr_decay` other
#: than none decays both rates to 0 over the run's total steps, which follow `epochs`,
#: `max_steps` and `batch_size` (`GanTrainer.decay_horizon`).
HORIZON_CHANGE = "lr_horizon"


#: What `--allow-change` may name: the step keys, "data" (the training data's record: source,
#: count and content hash, compared on --resume) and the decay horizon.
ALLOWED_CHANGES = STEP_KEYS + ("data", HORIZON_CHANGE)


#: Keys that permit unpickling (running code): taken from a command-line flag only. A config
#: file that sets one is refused, a run never stores one (`to_dict`), and a stored config's value
#: is never read back (`from_dict`).
COMMAND_LINE_ONLY = ("trust_checkpoint",)


def allows_change(cfg: TrainConfig, name: str) -> bool:
    """Whether `cfg.allow_change` names `name`."""
    return name in {k.strip() for k in (cfg.allow_change or "").split(",")}


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
    if isinstance(value, (dict, list, tuple, set)):
        raise UserError(f"{name}: expected {base.__name__}, got a {type(value).__name__}")
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


#: a config is a few dozen keys; anything larger is refused before parsing
MAX_CONFIG_BYTES = 64 * 1024


class _DuplicateKey(yaml.YAMLError):
    """A mapping that gives one key twice, under one spelling or two (max_steps, max-steps)."""


class _NoAliasLoader(yaml.SafeLoader):
    """yaml.SafeLoader without anchors and aliases (a config never needs them, and nested
    aliases expand exponentially: a few hundred bytes can ask for gigabytes), and without
    duplicate keys (YAML would silently keep the last one)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in "
                                              "a config", event.start_mark)
        event = self.peek_event()
        if getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(None, None, "anchors (&name) are not allowed in "
                                              "a config", event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> dict:
        """The mapping of `node`; _DuplicateKey when two keys name one setting (dashes and
        underscores are one spelling)."""
        mapping = super().construct_mapping(node, deep=deep)
        seen: dict[str, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            name = str(key).replace("-", "_")
            if name in seen:
                also = "" if seen[name] == key else f" (also as {seen[name]!r})"
                raise _DuplicateKey(f"key {key!r} given twice{also}, line "
                                    f"{key_node.start_mark.line + 1}")
            seen[name] = key
        return mapping


def _read_config_text(path: str) -> str:
    """The text of config file `path`: a regular file of at most MAX_CONFIG_BYTES, read once."""
    if not os.path.lexists(path):
        raise UserError(f"config file not found: {path}")
    if not os.path.isfile(path):
        raise UserError(f"config file {path} is not a regular file")
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise UserError(f"config file {path}: cannot read it ({exc.strerror or exc})") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise UserError(f"config file {path} is larger than {MAX_CONFIG_BYTES // 1024} kB: not a "
                        f"config of this suite")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"config file {path} is not valid YAML: not UTF-8 text") from None


def _parse_config(path: str, text: str) -> Any:
    """The YAML document in `text`; every loader failure is one UserError line."""
    try:
        return yaml.load(text, Loader=_NoAliasLoader)
    except _DuplicateKey as exc:
        raise UserError(f"config file {path}: {exc}") from None
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"config file {path} is not valid YAML: {first}") from None
    except RecursionError:
        raise UserError(f"config file {path} is nested too deeply to be a config") from None
    except (ValueError, OverflowError) as exc:  # e.g. an integer of 5,000 digits
        first = str(exc).split(";")[0].splitlines()[0]
        raise UserError(f"config file {path}: a value cannot be read ({first})") from None


def load_yaml(path: str) -> dict[str, Any]:
    """Read a YAML config: a mapping of TrainConfig keys (dashes or underscores), each at most
    once; the COMMAND_LINE_ONLY keys are refused."""
    data = _parse_config(path, _read_config_text(path))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"config file {path} must hold a mapping of keys, not {type(data).__name__}")
    known = config_fields()
    out = {}
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name in COMMAND_LINE_ONLY:
            flag = "--" + name.replace("_", "-")
            raise UserError(f"config file {path}: {key} is a command-line flag only ({flag}): "
                            f"permission to unpickle is never read from a file")
        if name not in known:
            raise UserError(f"config file {path}: unknown key {key!r}")
        out[name] = coerce_value(name, value)
    return out


def make_config(overrides: dict[str, Any], config_file: Optional[str] = None) -> TrainConfig:
    """Defaults < the loss's defaults < the model's defaults < YAML file < overrides (already
    typed, e.g. from argparse); `resolve` fills in the loss's and validates."""
    from paddle_gan.models import find_model

    values = load_yaml(config_file) if config_file else {}
    values.update({k: v for k, v in overrides.items() if v is not None})
    # the model's own defaults, only for keys neither the file nor a flag set (an unknown
    # model has none: `validate` names it)
    entry = find_model(values.get("model", TrainConfig.model))
    if entry is not None and entry.defaults is not None:
        for key, value in entry.defaults(dict(values), TrainConfig()).items():
            values.setdefault(key, value)
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


#: upper bounds of the sizes (a typo like --batch-size 6400000 fails here, not in Paddle)
#: seeds are in 0..SEED_LIMIT-1 (NumPy's and Paddle's range)
SEED_LIMIT = 2 ** 32
SIZE_LIMITS = {"batch_size": 8192, "width": 1024, "latent_dim": 4096, "epochs": 10 ** 7,
               "max_steps": 10 ** 9, "image_size": 1024, "num_points": 10 ** 8,
               "k": 10 ** 4, "depth": 64, "pool_size": 10 ** 5, "decay_epochs": 10 ** 7,
               "n_blocks": 64}
SIZE_REASON = "so that one batch and the networks fit in memory"
#: upper bound of every other count (log_every, save_every, eval_every, ...)
COUNT_LIMIT = 10 ** 9
#: the largest finite float32: every float setting reaches the kernels as a float32
FLOAT32_MAX = float(np.finfo(np.float32).max)
#: learning rates are in (0, RATE_LIMIT]
RATE_LIMIT = 1.0
#: loss weights (gp_lambda, lambda_cyc, lambda_identity) are in [0, WEIGHT_LIMIT]
WEIGHT_LIMIT = 1e4


def as_float32(value: float) -> float:
    """`value` as the kernels see it: rounded to float32 (inf above FLOAT32_MAX, 0 below the
    smallest subnormal)."""
    with np.errstate(over="ignore"):
        return float(np.float32(value))


def _fields_of_type(base: type) -> list[str]:
    """Names of the TrainConfig fields whose type (without Optional) is `base`."""
    return [name for name in config_fields() if _base_type(name) is base]


def _check_floats(cfg: TrainConfig) -> None:
    """UserError naming the key unless every float setting is finite in float32, the learning
    rates are in (0, 1], the clipping bounds positive and the loss weights in [0, 10,000], each
    as float32 (1e-50 is 0 there)."""
    for name in _fields_of_type(float):
        value = getattr(cfg, name)
        if value is not None and not math.isfinite(as_float32(value)):
            raise UserError(f"{name}: must be finite as a float32 (the kernels' type: at most "
                            f"{FLOAT32_MAX:.2g} in size), got {value}")
    for name in ("lr_g", "lr_d"):
        value = getattr(cfg, name)
        if value is not None and not 0.0 < as_float32(value) <= RATE_LIMIT:
            zero = " (0 in float32)" if value > 0 else ""
            raise UserError(f"{name}: must be in (0, {RATE_LIMIT:g}], got {value}{zero}")
    for name in ("weight_clip", "clip_grad"):
        value = getattr(cfg, name)
        if value is not None and not as_float32(value) > 0.0:
            zero = " (0 in float32)" if value > 0 else ""
            raise UserError(f"{name}: must be positive, got {value}{zero}")
    for name in ("gp_lambda", "lambda_cyc", "lambda_identity"):
        value = getattr(cfg, name)
        if value is not None and not 0.0 <= value <= WEIGHT_LIMIT:
            raise UserError(f"{name}: must be in [0, {WEIGHT_LIMIT:,.0f}], got {value}")


def _check_counts(cfg: TrainConfig) -> None:
    """UserError naming the key for a size above SIZE_LIMITS or another count (log_every,
    save_every, ...) above COUNT_LIMIT."""
    for name in _fields_of_type(int):
        value = getattr(cfg, name)
        if value is None or name in ("seed", "threads"):
            continue  # seed: its own range; threads: the usable cores
        limit = SIZE_LIMITS.get(name, COUNT_LIMIT)
        if value > limit:
            reason = SIZE_REASON if name in SIZE_LIMITS else "a count of steps or epochs"
            raise UserError(f"{name}: at most {limit:,} ({reason}), got {value:,}")


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
    _check_floats(cfg)
    _check_counts(cfg)
    if not 0 <= cfg.seed < SEED_LIMIT:
        raise UserError(f"seed: must be in 0..2**32-1, got {cfg.seed}")
    if cfg.threads is not None:
        from paddle_gan.runtime import usable_cores

        if cfg.threads > usable_cores():
            raise UserError(f"threads: this machine has {usable_cores()} usable cores, got "
                            f"{cfg.threads}")
    if not 0.0 <= cfg.d_dropout < 1.0:
        raise UserError(f"d_dropout: must be in [0, 1), got {cfg.d_dropout}")
    if cfg.d_head == "tanh":
        from paddle_gan.losses import LOSSES, probability_score

        if LOSSES[cfg.loss].score is probability_score:
            raise UserError(f"d_head: tanh caps D's logits to (-1, 1), so the {cfg.loss} loss's "
                            f"sigmoid can never pass 0.73; use it with lsgan (the tutorial's "
                            f"LSGAN head) or a Wasserstein loss")
    for name in ("beta1", "beta2"):
        value = getattr(cfg, name)
        if value is not None and not 0.0 <= value < 1.0:
            raise UserError(f"{name}: must be in [0, 1), got {value}")
    if not 0.0 <= cfg.g_ema < 1.0:
        raise UserError(f"g_ema: must be in [0, 1) (0 = off), got {cfg.g_ema}")
    if not 0.0 < cfg.label_smoothing <= 1.0:
        raise UserError(f"label_smoothing: must be in (0, 1], got {cfg.label_smoothing}")
    # model zoo
    if not 0.0 <= cfg.dropout < 1.0:
        raise UserError(f"dropout: must be in [0, 1), got {cfg.dropout}")
    if cfg.classes is not None and not [c for c in cfg.classes.split(",") if c.strip()]:
        raise UserError(f"classes: give class names or indices, e.g. horse or 7,horse; "
                        f"got {cfg.classes!r}")
    # CycleGAN
    for name in ("pool_size", "decay_epochs"):
        if getattr(cfg, name) is not None and getattr(cfg, name) < 0:
            raise UserError(f"{name}: must be non-negative, got {getattr(cfg, name)}")
    if cfg.n_blocks is not None and cfg.n_blocks < 1:
        raise UserError(f"n_blocks: must be at least 1, got {cfg.n_blocks}")
    if cfg.d_layers is not None and not 1 <= cfg.d_layers <= 6:
        raise UserError(f"d_layers: must be in 1..6, got {cfg.d_layers}")
    # evaluation
    if cfg.eval_every is not None and cfg.eval_every < 1:
        raise UserError(f"eval_every: must be at least 1, got {cfg.eval_every}")
    if cfg.keep_best and not cfg.eval_every:
        raise UserError("keep_best: needs eval_every (the best checkpoint is chosen at evaluations)")
    # 2-D toy GANs
    for name in ("depth", "num_points"):
        if getattr(cfg, name) < 1:
            raise UserError(f"{name}: must be at least 1, got {getattr(cfg, name)}")
    if cfg.frame_every < 0:
        raise UserError(f"frame_every: must be non-negative, got {cfg.frame_every}")
    # reliability
    if cfg.save_every_steps is not None and cfg.save_every_steps < 1:
        raise UserError(f"save_every_steps: must be at least 1, got {cfg.save_every_steps}")
    if cfg.allow_change is not None:
        unknown = [k.strip() for k in cfg.allow_change.split(",")
                   if k.strip() and k.strip() not in ALLOWED_CHANGES]
        if unknown:
            raise UserError(f"allow_change: {', '.join(unknown)} cannot change on resume; "
                            f"choose from {', '.join(ALLOWED_CHANGES)}")
    if cfg.max_memory is not None and not as_float32(cfg.max_memory) > 0.0:
        raise UserError(f"max_memory: must be positive (GiB), got {cfg.max_memory}")
    if cfg.init_from is not None and not cfg.init_from.strip(","):
        raise UserError("init_from: give a checkpoint, run folder or .pdparams file")
    # VisualDL extras
    if cfg.histogram_every < 0:
        raise UserError(f"histogram_every: must be non-negative (0 = off), "
                        f"got {cfg.histogram_every}")
    _check_model_settings(cfg)


def _check_model_settings(cfg: TrainConfig) -> None:
    """UserError when `cfg` sets a setting that only other models read (to a value other than
    its default), or when the model's own check refuses it."""
    from paddle_gan.models import get_model, model_names

    owners: dict[str, list[str]] = {}
    for name in model_names():
        for key in get_model(name).settings:
            owners.setdefault(key, []).append(name)
    defaults = config_fields()
    for key, names in owners.items():
        value = getattr(cfg, key)
        if cfg.model not in names and value != defaults[key].default:
            raise UserError(f"{key}: only the {' and '.join(names)} model reads it, got {value} "
                            f"with model {cfg.model}")
    entry = get_model(cfg.model)
    if entry.check is not None:
        entry.check(cfg)


def to_dict(cfg: TrainConfig) -> dict[str, Any]:
    """The config as stored with a run (config.json, checkpoints, evaluation JSON): every key
    but the COMMAND_LINE_ONLY ones, which hold for the command that gave them only."""
    return {k: v for k, v in dataclasses.asdict(cfg).items() if k not in COMMAND_LINE_ONLY}


#: Settings every model reads that runs were stored without, with the value such a run was
#: trained with (they were off before a loss could default them on).
STORED_BEFORE_ADDED: Mapping[str, Any] = {"label_smoothing": 1.0, "g_ema": 0.0, "lr_decay": "none"}


def from_dict(data: dict[str, Any]) -> TrainConfig:
    """Rebuild a stored config; keys this version does not know are an error. A stored
    COMMAND_LINE_ONLY key (older versions wrote trust_checkpoint) is dropped: its default holds.
    A setting the stored config lacks (added after the run was stored) takes the value it meant
    for every model (STORED_BEFORE_ADDED) or for that model (`ModelEntry.stored_defaults`), else
    its default."""
    known = config_fields()
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise UserError(f"stored config has unknown keys: {', '.join(unknown)}")
    from paddle_gan.models import find_model

    kept = {k: v for k, v in data.items() if k not in COMMAND_LINE_ONLY}
    model = kept.get("model", TrainConfig.model)
    entry = find_model(model) if isinstance(model, str) else None  # a damaged one: validate
    return TrainConfig(**{**STORED_BEFORE_ADDED, **(entry.stored_defaults if entry else {}),
                          **kept})


def checked_stored(cfg: TrainConfig, source: str) -> TrainConfig:
    """`cfg` read back from `source` (a checkpoint, a config.json), validated as a command line
    would be before anything is built from it; the settings of the machine that trained it
    (threads) are not checked against this one. UserError naming `source` otherwise."""
    try:
        validate(dataclasses.replace(cfg, threads=None))
    except (UserError, TypeError, ValueError, AttributeError) as exc:
        raise UserError(f"{source}: its stored config is not valid: {exc}") from None
    return cfg


def save_json(cfg: TrainConfig, path: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(to_dict(cfg), handle, indent=2, sort_keys=True)


#: step keys that, unset, follow another key: key -> (the key it follows, the model reading it)
DERIVED_STEP_KEYS = {"decay_epochs": ("epochs", "cyclegan")}


def effective_value(cfg: TrainConfig, key: str) -> Any:
    """The value of `key` the run computes with: CycleGAN's `decay_epochs`, unset, is as many
    as `epochs` (train/cyclegan.py), so a resume that changes `epochs` changes it too."""
    follows, model = DERIVED_STEP_KEYS.get(key, (None, None))
    if follows is not None and cfg.model == model and getattr(cfg, key) is None:
        return getattr(cfg, follows)
    return getattr(cfg, key)


def step_differences(old: TrainConfig, new: TrainConfig) -> list[str]:
    """Names of STEP_KEYS whose values, as the run computes with them (`effective_value`),
    differ and that `new.allow_change` does not allow."""
    return [k for k in STEP_KEYS if effective_value(old, k) != effective_value(new, k)
            and not allows_change(new, k)]


def describe_step_change(old: TrainConfig, new: TrainConfig, key: str) -> str:
    """'lr_g: 0.0002 -> 0.001'; a derived value says what it follows ('decay_epochs: 5 (unset:
    epochs) -> 8 (unset: epochs)')."""
    def shown(cfg: TrainConfig) -> str:
        value = effective_value(cfg, key)
        derived = value is not None and getattr(cfg, key) is None
        return f"{value!r} (unset: {DERIVED_STEP_KEYS[key][0]})" if derived else repr(value)

    return f"{key}: {shown(old)} -> {shown(new)}"


def keep_hint(old: TrainConfig, new: TrainConfig, keys: list[str],
              also: Sequence[str] = ()) -> str:
    """How to keep a derived setting that changed with the key it follows, and the flags `also`
    gives (the decay horizon's, `horizon_keep_flags`): ', or give --decay-epochs 5 to keep the
    learning-rate schedule'; empty when there is none."""
    kept = [flag(k, effective_value(old, k)) for k in keys
            if k in DERIVED_STEP_KEYS and getattr(new, k) is None] + list(also)
    return f", or give {' '.join(kept)} to keep the learning-rate schedule" if kept else ""


def flag(key: str, value: Any) -> str:
    """The command-line flag setting `key` to `value` ('--max-steps 3000')."""
    return f"--{key.replace('_', '-')} {value}"


#: a run's decay horizon: the steps its lr_decay decays over (None: no decay)
Horizon = Callable[[TrainConfig], Optional[int]]

#: the keys the decay horizon follows (`GanTrainer.decay_horizon`)
HORIZON_KEYS = ("epochs", "max_steps", "batch_size")


def horizon_differs(old: TrainConfig, new: TrainConfig, horizon: Horizon) -> bool:
    """Whether both runs decay their learning rates but over other horizons, and
    `new.allow_change` does not name lr_horizon."""
    before, after = horizon(old), horizon(new)
    return (before is not None and after is not None and before != after
            and not allows_change(new, HORIZON_CHANGE))


def describe_horizon_change(old: TrainConfig, new: TrainConfig, horizon: Horizon) -> str:
    """'lr_horizon: 3000 -> 6000 steps of linear decay (max_steps: 3000 -> 6000)', naming the
    keys that moved it."""
    moved = "; ".join(f"{k}: {getattr(old, k)!r} -> {getattr(new, k)!r}" for k in HORIZON_KEYS
                      if getattr(old, k) != getattr(new, k))
    return (f"{HORIZON_CHANGE}: {horizon(old)} -> {horizon(new)} steps of {new.lr_decay} decay "
            f"({moved})")


def horizon_keep_flags(old: TrainConfig, new: TrainConfig, horizon: Horizon) -> list[str]:
    """The fewest flags that give `new` the stored run's horizon back ('--max-steps 3000',
    else with the stored `--epochs`); empty when none of these does (another batch size)."""
    kept = horizon(old)
    for keys in (("max_steps",), ("epochs",), ("epochs", "max_steps")):
        values = {k: kept if k == "max_steps" else old.epochs for k in keys}
        if horizon(dataclasses.replace(new, **values)) == kept:
            return [flag(k, v) for k, v in values.items()]
    return []


def architecture_differences(old: TrainConfig, new: TrainConfig) -> list[str]:
    """Names of ARCHITECTURE_KEYS whose values differ (resuming across them is refused)."""
    return [k for k in ARCHITECTURE_KEYS if getattr(old, k) != getattr(new, k)]

"""Checkpoints without pickle: one .npz of arrays (allow_pickle=False) plus JSON metadata.

A checkpoint holds every named network's state dict, every optimizer's state (keyed by the
structured parameter names, e.g. ``G/net.0.conv.weight|moment1_0``, so that it loads into freshly
built models whatever Paddle's auto-generated names are), and metadata: step, epoch, the resolved
config. Files are written atomically: temporary file in the same folder, fsync, os.replace.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
import stat
import zipfile
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np
import paddle
import paddle.nn as nn

from paddle_gan.atomic import TEMP_PREFIX, atomic_write
from paddle_gan.errors import RunFailure, UserError

FORMAT_VERSION = 1
META_KEY = "__meta__"
CHECKPOINT_DIR = "checkpoints"
#: the run folder's sample grids and 2-D frames
SAMPLES_DIR = "samples"
_NAME = re.compile(r"^step_([0-9]{8,})\.npz$")
#: pickled Paddle files (paddle.save): never unpickled without --trust-checkpoint
PICKLE_SUFFIXES = (".pdparams", ".pdopt", ".pkl", ".pickle")

#: An optimizer and the networks whose parameters it updates, by prefix.
OptimizerEntry = tuple[paddle.optimizer.Optimizer, dict[str, nn.Layer]]


class CorruptCheckpoint(UserError):
    """The file is not a readable checkpoint (truncated, not a zip, missing metadata)."""


# the two ways a save can fail; either way nothing already on disk changes.
class CheckpointWriteError(RunFailure):
    """Writing failed (disk full, I/O error); the temporary file is removed, older files intact."""


class NonFiniteState(RunFailure):
    """The state to save holds NaN / Inf: it is refused before anything is written."""


def non_finite_keys(arrays: dict[str, np.ndarray]) -> list[str]:
    """Names of the floating-point arrays that hold a NaN or an Inf."""
    return [key for key, value in arrays.items()
            if value.dtype.kind in "fc" and not np.isfinite(value).all()]


@dataclass
class Checkpoint:
    """A loaded checkpoint: flat arrays and the metadata dict."""

    path: str
    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]

    @property
    def step(self) -> int:
        return int(self.meta["step"])


def _param_names(owners: dict[str, nn.Layer]) -> dict[str, str]:
    """Paddle's internal parameter name -> structured name 'prefix/attr.path'."""
    return {p.name: f"{prefix}/{name}" for prefix, layer in owners.items()
            for name, p in layer.named_parameters()}


def _optimizer_arrays(key: str, entry: OptimizerEntry) -> tuple[dict[str, np.ndarray], dict]:
    optimizer, owners = entry
    names = _param_names(owners)
    # Longest first, so that conv2d_10.w_0 is never taken for conv2d_1.w_0.
    internal = sorted(names, key=len, reverse=True)
    arrays, extra = {}, {}
    for state_key, value in optimizer.state_dict().items():
        if not isinstance(value, paddle.Tensor):
            extra[state_key] = value  # e.g. LR scheduler state: plain numbers
            continue
        owner = next((n for n in internal if state_key.startswith(n + "_")), None)
        if owner is None:
            raise ValueError(f"optimizer state {state_key!r} belongs to no known parameter")
        arrays[f"{key}/{names[owner]}|{state_key[len(owner) + 1:]}"] = value.numpy()
    return arrays, extra


def save_checkpoint(path: str, modules: dict[str, nn.Layer],
                    optimizers: dict[str, OptimizerEntry], meta: dict[str, Any]) -> None:
    """Write networks, optimizers and JSON-serialisable `meta` to `path` atomically."""
    arrays: dict[str, np.ndarray] = {}
    for key, layer in modules.items():
        for name, value in layer.state_dict().items():
            arrays[f"{key}/{name}"] = value.numpy()
    optimizer_extra = {}
    for key, entry in optimizers.items():
        opt_arrays, extra = _optimizer_arrays(key, entry)
        arrays.update(opt_arrays)
        optimizer_extra[key] = extra
    full_meta = {**meta, "format_version": FORMAT_VERSION, "optimizer_extra": optimizer_extra,
                 "modules": sorted(modules), "optimizers": sorted(optimizers)}
    # a NaN never gets into a checkpoint (checked before any write) ...
    bad = non_finite_keys(arrays)
    if bad:
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise NonFiniteState(f"not saving {path}: non-finite values in {', '.join(bad[:3])}{more}")
    arrays[META_KEY] = np.frombuffer(json.dumps(full_meta).encode("utf-8"), dtype=np.uint8)
    try:  # ... and a failed write (ENOSPC, EIO) is one line, the previous files untouched
        atomic_write(path, lambda handle: np.savez(handle, **arrays))
    except OSError as exc:
        raise CheckpointWriteError(f"cannot write checkpoint {path}: {exc.strerror or exc} "
                                   f"(the previous checkpoints are untouched)") from None


ZIP_MAGIC = b"PK\x03\x04"
#: the largest weights file read into memory (a checkpoint, an InceptionV3 state dict: ~100 MB)
MAX_WEIGHTS_BYTES = 2 * 1024 ** 3


def is_npz(path: str) -> bool:
    """Whether `path` starts as a zip archive does (the only format loaded without
    --trust-checkpoint). Decided by the file's first bytes, never by its name. A quick look
    before any work only: a load decides again from the bytes it loads (`read_weights`)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(len(ZIP_MAGIC)) == ZIP_MAGIC
    except OSError:
        return False


@dataclass(frozen=True)
class WeightsFile:
    """The bytes of a weights file, read once: whether it may be unpickled is decided from these
    bytes, and these bytes are what is loaded (no check of one file and load of another)."""

    path: str
    data: bytes

    @property
    def is_zip(self) -> bool:
        """A zip archive (.npz), read with allow_pickle=False; anything else may be a pickle."""
        return self.data.startswith(ZIP_MAGIC)


def read_weights(path: str, what: str, limit: int = MAX_WEIGHTS_BYTES) -> WeightsFile:
    """Read `path` through one open file: a regular file of at most `limit` bytes (a FIFO or a
    device is refused without blocking on it). `what` names the flag in the one-line UserError."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise UserError(f"{what} {path}: no such file") from None
    except OSError as exc:
        raise UserError(f"{what} {path}: cannot open it ({exc.strerror or exc})") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UserError(f"{what} {path}: not a regular file")
        if info.st_size > limit:
            raise UserError(f"{what} {path} is {info.st_size:,} bytes, more than the "
                            f"{limit // 2 ** 20:,} MiB a weights file may hold")
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise UserError(f"{what} {path}: cannot read it ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise UserError(f"{what} {path} grew past {limit // 2 ** 20:,} MiB while read")
    return WeightsFile(path, data)


def step_in_name(path: str) -> Optional[int]:
    """The step of a checkpoint file name as `checkpoint_path` writes it (step_00000042.npz,
    step_123456789.npz), else None (also for step_000000042.npz, a name never written)."""
    name = os.path.basename(path)
    match = _NAME.match(name)
    if not match or name != f"step_{int(match.group(1)):08d}.npz":
        return None
    return int(match.group(1))


def load_checkpoint(path: str, weights: Optional[WeightsFile] = None) -> Checkpoint:
    """Read a checkpoint without unpickling anything, through one open file (or from the bytes
    `weights` already holds); CorruptCheckpoint if it is damaged, its metadata is inconsistent
    (see `check_meta`) or its stored step is not the step its file name says."""
    if weights is None and not os.path.isfile(path):
        raise UserError(f"checkpoint not found: {path}")
    if path.endswith(PICKLE_SUFFIXES):  # say why, never unpickle
        raise UserError(f"{path} is a pickled Paddle file, which is never loaded here (unpickling "
                        f"can run code); to start training from it: tools/train.py --init-from "
                        f"{path} --trust-checkpoint")
    if weights is None:
        weights = read_weights(path, "checkpoint")
    try:
        with np.load(io.BytesIO(weights.data), allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
        meta = json.loads(arrays.pop(META_KEY).tobytes().decode("utf-8"))
    except KeyError:
        raise CorruptCheckpoint(f"{path} is not a paddle_gan checkpoint (no metadata)") from None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, UnicodeDecodeError) as exc:
        raise CorruptCheckpoint(f"{path} is damaged or not a checkpoint "
                                f"({type(exc).__name__})") from None
    check_meta(path, meta)
    named = step_in_name(path)
    if named is not None and named != meta["step"]:
        raise CorruptCheckpoint(f"{path}: it stores step {meta['step']}, its name says {named}")
    return Checkpoint(path, arrays, meta)


#: metadata counters: a non-negative integer where present ("step" always)
_COUNTERS = ("step", "epoch", "batch", "g_ema_updates")
#: metadata entries of a fixed JSON type where present
_META_TYPES = {"config": dict, "optimizer_extra": dict, "modules": list, "optimizers": list,
               "data": dict, "kind": str, "train_seconds": (int, float)}


def check_meta(path: str, meta: Any) -> None:
    """CorruptCheckpoint unless `meta` is a mapping whose step (and epoch, batch, ...) are
    non-negative integers and whose other known entries have their JSON types."""
    if not isinstance(meta, dict):
        raise CorruptCheckpoint(f"{path}: its metadata is a {type(meta).__name__}, not a mapping")
    for key in _COUNTERS:
        if key not in meta and key != "step":
            continue
        value = meta.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise CorruptCheckpoint(f"{path}: metadata {key} is {value!r}, not a count")
    for key, kind in _META_TYPES.items():
        if key in meta and (isinstance(meta[key], bool) or not isinstance(meta[key], kind)):
            raise CorruptCheckpoint(f"{path}: metadata {key} has the wrong type "
                                    f"({type(meta[key]).__name__})")
    if not all(isinstance(v, dict) for v in meta.get("optimizer_extra", {}).values()):
        raise CorruptCheckpoint(f"{path}: metadata optimizer_extra is not a mapping per optimizer")


def _dtype_name(tensor: paddle.Tensor) -> str:
    """'float32' for a paddle.float32 tensor (the NumPy name of its dtype)."""
    return str(tensor.dtype).rsplit(".", 1)[-1]


def _check_array(path: str, name: str, value: np.ndarray, shape: list[int], dtype: str) -> None:
    """CorruptCheckpoint unless the stored array `name` has the model's shape and dtype and
    holds finite values."""
    if list(value.shape) != list(shape):
        raise CorruptCheckpoint(f"{path}: {name} has shape {list(value.shape)}, this model has "
                                f"{list(shape)}")
    if value.dtype.name != dtype:
        raise CorruptCheckpoint(f"{path}: {name} is {value.dtype.name}, this model has {dtype}")
    if value.dtype.kind in "fc" and not np.isfinite(value).all():
        raise CorruptCheckpoint(f"{path}: {name} holds NaN or Inf")


def _optimizer_state(ckpt: Checkpoint, key: str, entry: OptimizerEntry
                     ) -> dict[str, tuple[str, str, np.ndarray]]:
    """{array key: (structured parameter name, state suffix, array)} of optimizer `key`, each
    checked against its parameter: shape (one element for the *_pow_acc states) and dtype."""
    params = {f"{prefix}/{name}": p for prefix, layer in entry[1].items()
              for name, p in layer.named_parameters()}
    found = {}
    for array_key, value in ckpt.arrays.items():
        if not array_key.startswith(key + "/"):
            continue
        structured, bar, suffix = array_key[len(key) + 1:].partition("|")
        if not bar or structured not in params:
            raise CorruptCheckpoint(f"{ckpt.path}: optimizer state for unknown parameter "
                                    f"{structured}")
        param = params[structured]
        shape = [1] if "pow_acc" in suffix else list(param.shape)
        _check_array(ckpt.path, array_key, value, shape, _dtype_name(param))
        found[array_key] = (structured, suffix, value)
    return found


def check_fits(ckpt: Checkpoint, modules: dict[str, nn.Layer],
               optimizers: dict[str, OptimizerEntry]) -> None:
    """CorruptCheckpoint (a one-line UserError) unless every array `restore` would load fits:
    each network's names, shapes and dtypes, each optimizer state's parameter, shape and dtype,
    all finite. Changes nothing."""
    for key, layer in modules.items():
        own = layer.state_dict()
        stored = {k[len(key) + 1:]: v for k, v in ckpt.arrays.items() if k.startswith(key + "/")}
        if set(stored) != set(own):
            raise CorruptCheckpoint(f"{ckpt.path}: its {key!r} network has other layers than this "
                                    f"model (a checkpoint of another model or width?)")
        for name, value in own.items():
            _check_array(ckpt.path, f"{key}/{name}", stored[name], value.shape, _dtype_name(value))
    for key, entry in optimizers.items():
        _optimizer_state(ckpt, key, entry)


def restore(ckpt: Checkpoint, modules: dict[str, nn.Layer],
            optimizers: dict[str, OptimizerEntry]) -> None:
    """Load a checkpoint's arrays into freshly built networks and optimizers.

    Everything is checked first (`check_fits`): a checkpoint that does not fit (another model,
    float64 or wrong-shape arrays, NaN) raises CorruptCheckpoint and changes nothing.
    """
    check_fits(ckpt, modules, optimizers)
    for key, layer in modules.items():
        stored = {k[len(key) + 1:]: v for k, v in ckpt.arrays.items() if k.startswith(key + "/")}
        layer.set_state_dict({k: paddle.to_tensor(v) for k, v in stored.items()})
    for key, entry in optimizers.items():
        optimizer, owners = entry
        internal = {v: k for k, v in _param_names(owners).items()}
        state: dict[str, Any] = dict(ckpt.meta.get("optimizer_extra", {}).get(key, {}))
        for structured, suffix, value in _optimizer_state(ckpt, key, entry).values():
            state[f"{internal[structured]}_{suffix}"] = paddle.to_tensor(value)
        optimizer.set_state_dict(state)


def checkpoint_path(run_dir: str, step: int) -> str:
    return os.path.join(run_dir, CHECKPOINT_DIR, f"step_{step:08d}.npz")


def folder_entries(folder: str) -> list[os.DirEntry]:
    """The entries of `folder` (none when it is missing or unreadable). The folder is listed,
    never used as a glob pattern: a run named sweep[lr=2e-4] matches itself only."""
    try:
        with os.scandir(folder) as listing:
            return list(listing)
    except OSError:
        return []


def _step_entries(run_dir: str) -> list[tuple[int, os.DirEntry]]:
    """(step, entry) of every step_XXXXXXXX.npz name in the run's checkpoints folder, by step
    as an integer (step_100000000 after step_99999999)."""
    found = []
    for entry in folder_entries(os.path.join(run_dir, CHECKPOINT_DIR)):
        step = step_in_name(entry.name)
        if step is not None:
            found.append((step, entry))
    return sorted(found, key=lambda pair: pair[0])


def list_checkpoints(run_dir: str) -> list[str]:
    """Checkpoint files of a run folder, oldest (lowest step) first; a folder or anything else
    that is not a file is never one, whatever its name."""
    return [entry.path for _, entry in _step_entries(run_dir) if entry.is_file()]


#: called on each candidate checkpoint; raises CorruptCheckpoint to pass it over
Acceptor = Callable[[Checkpoint], None]


def load_latest(run_dir: str, warn: Callable[[str], None] = print,
                accept: Optional[Acceptor] = None) -> Optional[Checkpoint]:
    """The newest checkpoint that loads and that `accept` takes; each damaged or inconsistent
    newer one is reported in one line and skipped."""
    for path in reversed(list_checkpoints(run_dir)):
        try:
            checkpoint = load_checkpoint(path)
            if accept is not None:
                accept(checkpoint)
            return checkpoint
        except CorruptCheckpoint as exc:
            warn(f"skipping damaged checkpoint: {exc}")
    return None


def resolve_checkpoint(target: str, warn: Callable[[str], None] = print,
                       accept: Optional[Acceptor] = None) -> Checkpoint:
    """A checkpoint file, or the newest usable one in a run folder (see `load_latest`)."""
    if os.path.isdir(target):
        ckpt = load_latest(target, warn, accept)
        if ckpt is None:
            state = "no usable" if list_checkpoints(target) else "no"
            raise UserError(f"{target} holds {state} checkpoint (expected {CHECKPOINT_DIR}/"
                            f"step_*.npz)")
        return ckpt
    ckpt = load_checkpoint(target)
    if accept is not None:
        accept(ckpt)
    return ckpt


def is_readable(path: str) -> bool:
    """Whether `path` opens as a zip whose directory lists the metadata (cheap: reads the
    archive's directory, not its arrays). A truncated or foreign file is not readable."""
    try:
        with zipfile.ZipFile(path) as archive:
            return META_KEY + ".npy" in archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return False


def _remove(path: str) -> None:
    """Delete `path`; a file that cannot be removed stays (pruning never stops a run)."""
    with contextlib.suppress(OSError):
        os.unlink(path)


def prune_checkpoints(run_dir: str, keep: int, protect: tuple[Optional[str], ...] = ()) -> None:
    """Keep the newest `keep` readable step_*.npz checkpoints and any path in `protect` (the
    checkpoint just written, the one a run resumed from); delete the other step files older
    than the newest kept one.

    Unreadable files never count among the kept ones; an unreadable file newer than every kept
    checkpoint stays (the run overwrites it when it reaches that step). Only regular
    step_XXXXXXXX.npz files are candidates, ordered by their step as an integer: best.npz,
    folders and links named like checkpoints and every other file stay. Regular temporary files
    left by a write that was killed (.tmp-*) are removed. A file that cannot be removed stays.
    """
    steps = [(step, entry.path) for step, entry in _step_entries(run_dir)
             if entry.is_file(follow_symlinks=False)]
    readable = [step for step, path in steps if is_readable(path)]
    protected = {os.path.abspath(p) for p in protect if p}
    kept = set(readable[-keep:] if keep > 0 else [])
    kept |= {step for step, path in steps if os.path.abspath(path) in protected}
    newest_kept = max(kept, default=None)
    for step, path in steps:
        if step not in kept and newest_kept is not None and step < newest_kept:
            _remove(path)
    # a SIGKILL during atomic_write leaves its temporary file behind
    for entry in folder_entries(os.path.join(run_dir, CHECKPOINT_DIR)):
        if entry.name.startswith(TEMP_PREFIX) and entry.is_file(follow_symlinks=False):
            _remove(entry.path)


#: the tutorial weights are written to `<name>.pdparams` + this, then moved into place
TUTORIAL_TEMP_SUFFIX = ".tmp"


def save_tutorial_weights(run_dir: str, generator: nn.Layer, discriminator: nn.Layer) -> None:
    """The tutorial's generator.pdparams / discriminator.pdparams (pickled state dicts)."""
    for name, layer in (("generator", generator), ("discriminator", discriminator)):
        path = os.path.join(run_dir, f"{name}.pdparams")
        tmp = path + TUTORIAL_TEMP_SUFFIX
        try:  # a failed write keeps the previous file, leaves no temp file
            paddle.save(layer.state_dict(), tmp)
            os.replace(tmp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise CheckpointWriteError(f"cannot write {path}: {exc.strerror or exc} "
                                       f"(the previous file is untouched)") from None

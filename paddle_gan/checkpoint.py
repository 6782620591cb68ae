"""Checkpoints without pickle: one .npz of arrays (allow_pickle=False) plus JSON metadata.

A checkpoint holds every named network's state dict, every optimizer's state (keyed by the
structured parameter names, e.g. ``G/net.0.conv.weight|moment1_0``, so that it loads into freshly
built models whatever Paddle's auto-generated names are), and metadata: step, epoch, the resolved
config. Files are written atomically: temporary file in the same folder, fsync, os.replace.
"""
from __future__ import annotations

import glob
import json
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np
import paddle
import paddle.nn as nn

from paddle_gan.errors import UserError

FORMAT_VERSION = 1
META_KEY = "__meta__"
CHECKPOINT_DIR = "checkpoints"
_NAME = re.compile(r"^step_(\d{8,})\.npz$")

#: An optimizer and the networks whose parameters it updates, by prefix.
OptimizerEntry = tuple[paddle.optimizer.Optimizer, dict[str, nn.Layer]]


class CorruptCheckpoint(UserError):
    """The file is not a readable checkpoint (truncated, not a zip, missing metadata)."""


@dataclass
class Checkpoint:
    """A loaded checkpoint: flat arrays and the metadata dict."""

    path: str
    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]

    @property
    def step(self) -> int:
        return int(self.meta["step"])


def atomic_write(path: str, write: Callable[[Any], None]) -> None:
    """Call write(binary file) on a temporary file beside `path`, fsync it, then rename it."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


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
    arrays[META_KEY] = np.frombuffer(json.dumps(full_meta).encode("utf-8"), dtype=np.uint8)
    atomic_write(path, lambda handle: np.savez(handle, **arrays))


def load_checkpoint(path: str) -> Checkpoint:
    """Read a checkpoint without unpickling anything; CorruptCheckpoint if it is damaged."""
    if not os.path.isfile(path):
        raise UserError(f"checkpoint not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
        meta = json.loads(arrays.pop(META_KEY).tobytes().decode("utf-8"))
    except KeyError:
        raise CorruptCheckpoint(f"{path} is not a paddle_gan checkpoint (no metadata)") from None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, UnicodeDecodeError) as exc:
        raise CorruptCheckpoint(f"{path} is damaged or not a checkpoint "
                                f"({type(exc).__name__})") from None
    return Checkpoint(path, arrays, meta)


def restore(ckpt: Checkpoint, modules: dict[str, nn.Layer],
            optimizers: dict[str, OptimizerEntry]) -> None:
    """Load a checkpoint's arrays into freshly built networks and optimizers.

    UserError when a network's parameter names or shapes differ (a checkpoint of another model).
    """
    for key, layer in modules.items():
        own = layer.state_dict()
        stored = {k[len(key) + 1:]: v for k, v in ckpt.arrays.items() if k.startswith(key + "/")}
        if set(stored) != set(own):
            raise UserError(f"{ckpt.path}: its {key!r} network has other layers than this model "
                            f"(a checkpoint of another model or width?)")
        for name, value in own.items():
            if list(value.shape) != list(stored[name].shape):
                raise UserError(f"{ckpt.path}: {key}/{name} has shape {list(stored[name].shape)}, "
                                f"this model has {list(value.shape)}")
        layer.set_state_dict({k: paddle.to_tensor(v) for k, v in stored.items()})
    for key, (optimizer, owners) in optimizers.items():
        names = _param_names(owners)
        by_structured = {v: k for k, v in names.items()}
        state: dict[str, Any] = dict(ckpt.meta.get("optimizer_extra", {}).get(key, {}))
        for array_key, value in ckpt.arrays.items():
            if not array_key.startswith(key + "/"):
                continue
            structured, suffix = array_key[len(key) + 1:].split("|", 1)
            if structured not in by_structured:
                raise UserError(f"{ckpt.path}: optimizer state for unknown parameter {structured}")
            state[f"{by_structured[structured]}_{suffix}"] = paddle.to_tensor(value)
        optimizer.set_state_dict(state)


def checkpoint_path(run_dir: str, step: int) -> str:
    return os.path.join(run_dir, CHECKPOINT_DIR, f"step_{step:08d}.npz")


def list_checkpoints(run_dir: str) -> list[str]:
    """Checkpoint files of a run folder, oldest first."""
    paths = glob.glob(os.path.join(run_dir, CHECKPOINT_DIR, "step_*.npz"))
    return sorted(p for p in paths if _NAME.match(os.path.basename(p)))


def load_latest(run_dir: str, warn: Callable[[str], None] = print) -> Optional[Checkpoint]:
    """The newest checkpoint that loads; a damaged newer one is reported and skipped."""
    for path in reversed(list_checkpoints(run_dir)):
        try:
            return load_checkpoint(path)
        except CorruptCheckpoint as exc:
            warn(f"skipping damaged checkpoint: {exc}")
    return None


def resolve_checkpoint(target: str, warn: Callable[[str], None] = print) -> Checkpoint:
    """A checkpoint file, or the newest complete one in a run folder."""
    if os.path.isdir(target):
        ckpt = load_latest(target, warn)
        if ckpt is None:
            raise UserError(f"{target} holds no checkpoint (expected {CHECKPOINT_DIR}/step_*.npz)")
        return ckpt
    return load_checkpoint(target)


def prune_checkpoints(run_dir: str, keep: int, protect: tuple[str, ...] = ()) -> None:
    """Delete all but the newest `keep` checkpoints (and any path in `protect`)."""
    for path in list_checkpoints(run_dir)[:-keep]:
        if os.path.abspath(path) not in {os.path.abspath(p) for p in protect}:
            os.unlink(path)


def save_tutorial_weights(run_dir: str, generator: nn.Layer, discriminator: nn.Layer) -> None:
    """The tutorial's generator.pdparams / discriminator.pdparams (pickled state dicts)."""
    for name, layer in (("generator", generator), ("discriminator", discriminator)):
        path = os.path.join(run_dir, f"{name}.pdparams")
        tmp = path + ".tmp"
        paddle.save(layer.state_dict(), tmp)
        os.replace(tmp, path)

"""Starting a new run from existing weights (`--init-from`), never unpickling untrusted files.

paddle_gan's own checkpoints (`.npz` + JSON metadata) load without pickle, so a checkpoint file
or run folder needs no flag. The tutorial's `generator.pdparams` / `discriminator.pdparams` are
pickles written by `paddle.save`: unpickling one runs whatever code the file names, so they are
loaded only with `--trust-checkpoint`; without it the file is not even opened.

Only network weights are taken (G, D); the optimizers start fresh and the run starts at step 0.
"""
from __future__ import annotations

import io
import os
from typing import Callable

import numpy as np
import paddle
import paddle.nn as nn

from paddle_gan import checkpoint as ckpt_io
from paddle_gan.errors import UserError

TUTORIAL_FILES = ("generator.pdparams", "discriminator.pdparams")
TRUST_FLAG = "--trust-checkpoint"


def is_pickle_path(path: str) -> bool:
    """True for every file that is not an .npz archive by content (see checkpoint.is_npz):
    such a file is treated as a pickle, whatever its name, and needs --trust-checkpoint. A quick
    look before any work; the load decides again from the bytes it loads (`load_pickled_state`)."""
    return os.path.isfile(path) and not ckpt_io.is_npz(path)


def require_trust(path: str, trust: bool, what: str = "--init-from") -> None:
    """UserError (one line saying why) unless `trust`; call it before opening a pickle."""
    if not trust:
        raise UserError(f"{what} {path}: not an .npz archive, so possibly a pickle (a .pdparams "
                        f"file is one), and unpickling can run arbitrary code; pass {TRUST_FLAG} "
                        f"only if you made the file or trust its source (paddle_gan's .npz "
                        f"checkpoints need no flag)")


def unpickle_weights(weights: ckpt_io.WeightsFile, trust: bool, what: str) -> object:
    """`paddle.load` of the bytes in `weights`, the same bytes the trust check looked at: an
    .npz is refused here (it never needs unpickling), anything else needs `trust`."""
    if weights.is_zip:
        raise UserError(f"{what} {weights.path}: an .npz archive is never unpickled")
    require_trust(weights.path, trust, what)
    try:
        return paddle.load(io.BytesIO(weights.data))
    except Exception as exc:  # paddle.load raises many kinds for a damaged file
        raise UserError(f"{what} {weights.path}: cannot read it ({type(exc).__name__})") from None


def load_pickled_state(weights: ckpt_io.WeightsFile, trust: bool) -> dict[str, np.ndarray]:
    """A pickled state dict as NumPy arrays, unpickled from the bytes already read (refused
    unless `trust`)."""
    path = weights.path
    state = unpickle_weights(weights, trust, "--init-from")
    if not isinstance(state, dict) or not state:
        raise UserError(f"--init-from {path}: not a state dict of a network")
    try:
        return {str(k): np.asarray(v.numpy() if hasattr(v, "numpy") else v)
                for k, v in state.items()}
    except (TypeError, ValueError):
        raise UserError(f"--init-from {path}: holds values that are not arrays") from None


def _same_shapes(own: dict[str, paddle.Tensor], arrays: list[np.ndarray]) -> bool:
    return len(own) == len(arrays) and all(
        list(o.shape) == list(a.shape) for o, a in zip(own.values(), arrays))


def assign_state(state: dict[str, np.ndarray], modules: dict[str, nn.Layer], source: str) -> str:
    """Load `state` into the network it fits and return that network's key ("G" or "D").

    By name when the names and shapes match; otherwise by position when the sequence of shapes
    matches (the tutorial's own classes name their layers differently from ours).
    """
    for by_name in (True, False):
        for key, layer in modules.items():
            own = layer.state_dict()
            if by_name:
                if set(own) != set(state):
                    continue
                values = [state[name] for name in own]
            else:
                values = list(state.values())
            if not _same_shapes(own, values):
                continue
            layer.set_state_dict({name: paddle.to_tensor(value.astype(own[name].numpy().dtype))
                                  for name, value in zip(own, values)})
            return key
    raise UserError(f"--init-from {source}: its {len(state)} tensors fit neither network of this "
                    f"model ({', '.join(modules)}): another model, --width or --latent-dim? "
                    f"(the tutorial's own generator needs --g-input reshape)")


def _sources(target: str) -> list[str]:
    """The files one --init-from entry stands for (a run folder -> its checkpoint or .pdparams)."""
    if not os.path.exists(target):
        raise UserError(f"--init-from {target}: no such file or folder")
    if not os.path.isdir(target):
        return [target]
    if ckpt_io.list_checkpoints(target):
        return [target]
    tutorial = [os.path.join(target, n) for n in TUTORIAL_FILES
                if os.path.isfile(os.path.join(target, n))]
    if not tutorial:
        raise UserError(f"--init-from {target}: not a run folder (no {ckpt_io.CHECKPOINT_DIR}/"
                        f"step_*.npz, no {' / '.join(TUTORIAL_FILES)})")
    return tutorial


def _checkpoint_networks(checkpoint: ckpt_io.Checkpoint, modules: dict[str, nn.Layer]
                         ) -> list[str]:
    """Restore the networks of `modules` that `checkpoint` holds; returns their keys."""
    loaded = [k for k in modules if any(a.startswith(k + "/") for a in checkpoint.arrays)]
    if not loaded:
        raise UserError(f"--init-from {checkpoint.path}: holds none of the networks "
                        f"{', '.join(modules)}")
    ckpt_io.restore(checkpoint, {k: modules[k] for k in loaded}, {})
    return loaded


def init_from(spec: str, modules: dict[str, nn.Layer], trust: bool,
              say: Callable[[str], None] = print) -> list[str]:
    """Initialise `modules` ({"G": ..., "D": ...}) from `spec`: comma-separated checkpoint files,
    run folders or .pdparams files. Returns the keys of the networks that were set.

    Each file is read once (`checkpoint.read_weights`); whether it is a zip or, needing trust, a
    pickle is decided from those bytes, and those bytes are loaded."""
    done: list[str] = []
    for target in [part.strip() for part in spec.split(",") if part.strip()]:
        for source in _sources(target):
            if os.path.isdir(source):
                checkpoint = ckpt_io.resolve_checkpoint(source, warn=say)
                loaded, source = _checkpoint_networks(checkpoint, modules), checkpoint.path
            else:
                weights = ckpt_io.read_weights(source, "--init-from")
                if weights.is_zip:
                    checkpoint = ckpt_io.load_checkpoint(source, weights)
                    loaded = _checkpoint_networks(checkpoint, modules)
                else:
                    state = load_pickled_state(weights, trust)
                    loaded = [assign_state(state, modules, source)]
            say(f"initialised {' and '.join(loaded)} from {source}")
            done += loaded
    return done
